// The smallest Node TCP relay, as a baseline for test/bench/tcp.mjs ("node-pipe"): what Node's
// net + stream.pipe cost by themselves, without Portico's routing (no SNI read: each listening
// port forwards blindly to one backend port). One process.
//
// Env: LISTEN_TLS, LISTEN_PLAIN (ports on 127.0.0.1), TO_TLS, TO_PLAIN (backend ports).
import net from 'node:net';

function relay(listenPort, toPort) {
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host: '127.0.0.1', port: toPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    const both = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', both);
    upstream.on('error', both);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
}

await relay(Number(process.env.LISTEN_TLS), Number(process.env.TO_TLS));
await relay(Number(process.env.LISTEN_PLAIN), Number(process.env.TO_PLAIN));
process.on('SIGTERM', () => process.exit(0));
