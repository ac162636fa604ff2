// Backend of the TCP benchmark (test/bench/tcp.mjs): one process serving the same tiny protocol
// over TLS (certificate for a.test, the passthrough target) and over plain TCP.
//
// Every connection starts with a 5-byte header: a command byte and a 32-bit big-endian count.
//   'S' n  sink: read n more bytes, then answer 'K' (bulk throughput, client to server)
//   'P' 0  ping: answer 'K' and close (connection rate)
//   'E' 0  echo: send back every byte that follows (latency)
//
// Env: CERT, KEY (PEM files). Prints "listening <tlsPort> <plainPort>" once both listen on
// 127.0.0.1. Stops on SIGTERM.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const K = Buffer.from('K');

function handle(socket) {
  socket.setNoDelay(true);
  let header = Buffer.alloc(0);
  let mode = 'header';
  let remaining = 0;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    if (mode === 'echo') {
      socket.write(chunk);
      return;
    }
    if (mode === 'sink') {
      remaining -= chunk.length;
      if (remaining <= 0) {
        mode = 'done';
        socket.write(K);
      }
      return;
    }
    if (mode !== 'header') return;
    header = header.length === 0 ? chunk : Buffer.concat([header, chunk]);
    if (header.length < 5) return;
    const cmd = String.fromCharCode(header[0]);
    const n = header.readUInt32BE(1);
    const rest = header.subarray(5);
    header = Buffer.alloc(0);
    if (cmd === 'P') {
      mode = 'done';
      socket.end(K);
    } else if (cmd === 'E') {
      mode = 'echo';
      if (rest.length > 0) socket.write(rest);
    } else if (cmd === 'S') {
      mode = 'sink';
      remaining = n - rest.length;
      if (remaining <= 0) {
        mode = 'done';
        socket.write(K);
      }
    } else socket.destroy();
  });
}

const tlsServer = tls.createServer(
  { cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY) },
  handle,
);
const plainServer = net.createServer(handle);
for (const s of [tlsServer, plainServer]) s.on('error', (err) => console.error(err));
await new Promise((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
await new Promise((resolve) => plainServer.listen(0, '127.0.0.1', resolve));
process.stdout.write(`listening ${tlsServer.address().port} ${plainServer.address().port}\n`);
process.on('SIGTERM', () => process.exit(0));
