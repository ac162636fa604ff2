/*
 * WebSocket upgrades to https:// servers use the service's serversTransport
 * as every other request does (issue 11, item 9): the TLS server name is
 * `serverName` (not the client's Host), and the certificate is checked
 * against `rootCAs` for that name.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, type TestRouter } from '../helpers/portico.js';

let backend: https.Server;
let r: TestRouter;
const sniSeen: string[] = [];

beforeAll(async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'backend.internal' }], {
    keyType: 'ec',
    extensions: [
      { name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'backend.internal' }] },
    ],
  });
  backend = https.createServer({ cert: pems.cert, key: pems.private });
  backend.on('secureConnection', (s: TLSSocket) => sniSeen.push(String(s.servername)));
  const wss = new WebSocketServer({ server: backend });
  wss.on('connection', (socket, req) => socket.send(`host=${req.headers.host}`));
  await new Promise<void>((res) => backend.listen(0, '127.0.0.1', res));
  const port = (backend.address() as AddressInfo).port;
  r = await startRouter({
    http: {
      routers: {
        ws: { rule: 'Host(`app.test`)', service: 'ws' },
        bare: { rule: 'Host(`bare.test`)', service: 'bare' },
      },
      services: {
        ws: {
          loadBalancer: {
            servers: [{ url: `https://127.0.0.1:${port}` }],
            serversTransport: 'internal',
          },
        },
        bare: {
          loadBalancer: {
            servers: [{ url: `https://127.0.0.1:${port}` }],
            serversTransport: 'skip',
          },
        },
      },
      serversTransports: {
        internal: { serverName: 'backend.internal', rootCAs: [pems.cert] },
        skip: { insecureSkipVerify: true },
      },
    },
  });
});

afterAll(async () => {
  await r?.close();
  await new Promise<void>((res) => backend?.close(() => res()));
});

function firstMessage(host: string): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${r.port}/socket`, { headers: { host } });
  return new Promise<string>((resolve, reject) => {
    ws.once('message', (m: Buffer) => {
      ws.close();
      resolve(m.toString());
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
  });
}

describe('wss upstreams', () => {
  it('send serversTransport.serverName as SNI and verify the certificate for it', async () => {
    const first = await firstMessage('app.test');
    // passHostHeader (the default): the client's Host goes upstream, the SNI name does not follow it
    expect(first).toBe('host=app.test');
    expect(sniSeen.at(-1)).toBe('backend.internal');
  });

  it("without serverName, an IP server URL gets no SNI (never the client's Host)", async () => {
    expect(await firstMessage('bare.test')).toBe('host=bare.test');
    // Node reports `false` for a connection without SNI
    expect(sniSeen.at(-1)).toBe('false');
  });
});
