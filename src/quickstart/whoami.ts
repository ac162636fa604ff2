/*
 * A built-in demo upstream in the spirit of traefik/whoami: it answers with
 * what it received (host, addresses, request line, headers), which is what a
 * person wants to see when checking that routing and forwarded headers work.
 */
import http from 'node:http';
import { hostname, networkInterfaces } from 'node:os';

function addresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i): i is NonNullable<typeof i> => i !== undefined)
    .map((i) => i.address);
}

export function createWhoami(name = 'whoami'): http.Server {
  const host = hostname();
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://whoami');
    if (url.pathname.endsWith('/health')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url.pathname.endsWith('/api')) {
      const body = JSON.stringify({
        hostname: host,
        name,
        ip: addresses(),
        remoteAddr: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
        method: req.method,
        url: req.url,
        host: req.headers.host,
        headers: req.headers,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    const lines = [
      `Name: ${name}`,
      `Hostname: ${host}`,
      ...addresses().map((a) => `IP: ${a}`),
      `RemoteAddr: ${req.socket.remoteAddress}:${req.socket.remotePort}`,
      `${req.method} ${req.url} HTTP/${req.httpVersion}`,
      ...Object.entries(req.headers).map(
        ([k, v]) => `${k.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase())}: ${String(v)}`,
      ),
    ];
    res
      .writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
      .end(lines.join('\n') + '\n');
  });
}
