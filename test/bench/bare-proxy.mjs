// The baseline the routing layer is judged against: http-proxy-3 behind node:cluster,
// a keep-alive agent, X-Forwarded-For, one Host route and 404 otherwise. No routing
// table, no access log: what "a bare Node proxy" costs on this machine.
import cluster from 'node:cluster';
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const port = Number(process.env.PORT);
const target = process.env.TARGET;
const workers = Number(process.env.WORKERS ?? 1);
if (cluster.isPrimary && workers > 0) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
  const proxy = createProxyServer({ target, agent, xfwd: true });
  proxy.on('error', (_err, _req, res) => {
    if (res.writeHead && !res.headersSent) res.writeHead(502).end();
  });
  http
    .createServer((req, res) => {
      if (req.headers.host !== 'bench.local') return void res.writeHead(404).end();
      proxy.web(req, res);
    })
    .listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
