// Benchmark backend: answers every request with the same 100-byte text body, keep-alive forever.
import http from 'node:http';

const body = Buffer.alloc(100, 'x');
body.write('portico bench backend\n');
const port = Number(process.env.PORT ?? 0);
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
