/*
 * Real upstream HTTP servers on 127.0.0.1 port 0 for tests (never HTTP mocks).
 * Each records the requests it saw so tests can assert what reached it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface Upstream {
  url: string;
  port: number;
  server: http.Server;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export type UpstreamHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: string,
) => void;

/** Default handler: 200 with a JSON echo of method, url and headers, plus `x-upstream: <name>`. */
export function echo(name: string): UpstreamHandler {
  return (req, res, body) => {
    const payload = JSON.stringify({
      name,
      method: req.method,
      url: req.url,
      headers: req.headers,
      body,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
    res.end(payload);
  };
}

export async function startUpstream(
  handler: UpstreamHandler | string = 'upstream',
): Promise<Upstream> {
  const h = typeof handler === 'string' ? echo(handler) : handler;
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      h(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
