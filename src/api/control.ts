/*
 * Where `api@internal` requests are answered. In a single process the API
 * handler runs in place. In a cluster the API state (providers, events,
 * ACME, traffic) lives in the primary, so the primary serves the API on a
 * unix socket in a private (0700) directory and each worker's `api@internal`
 * service streams the request there and the answer back, server-sent events
 * included. The socket never listens on a network address.
 */
import http, { type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Handler } from '../kernel/context.js';
import { HOP_BY_HOP } from '../kernel/hop-by-hop.js';
import type { ApiHandler } from './handler.js';
import { nodeResponse } from './response.js';

export interface ControlServer {
  socketPath: string;
  close(): Promise<void>;
}

export async function startControlServer(handler: ApiHandler): Promise<ControlServer> {
  // mkdtemp creates the directory with mode 0700: only this user can reach the socket
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-control-'));
  const socketPath = path.join(dir, 'api.sock');
  const server = http.createServer((req, res) => handler(req, nodeResponse(res), req.url ?? '/'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}

/** request headers the API reads; nothing else crosses to the primary (no cookies, no auth) */
const FORWARDED_REQUEST_HEADERS = ['accept', 'if-none-match', 'last-event-id'];

/** api@internal in a cluster worker: relays to the primary's control socket */
export function forwardedApiService(socketPath: string): Handler {
  return (ctx) => {
    const headers: Record<string, string> = { host: 'portico' };
    for (const h of FORWARDED_REQUEST_HEADERS) {
      const v = ctx.req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const upstream = http.request({
      socketPath,
      method: ctx.method === 'HEAD' ? 'HEAD' : ctx.method,
      path: ctx.target(),
      headers,
    });
    const fail = (): void => {
      if (ctx.writer.headersSent) {
        ctx.writer.destroy();
        return;
      }
      const body = JSON.stringify({ message: 'the API is not available (primary unreachable)' });
      ctx.writer.writeHead(503, undefined, [
        'content-type',
        'application/json; charset=utf-8',
        'content-length',
        String(Buffer.byteLength(body)),
      ]);
      ctx.writer.end(body);
    };
    upstream.once('error', fail);
    upstream.once('response', (answer: IncomingMessage) => {
      // through ctx.writer, so middlewares on the router (compress, headers) apply here too
      const out: string[] = [];
      const raw = answer.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!.toLowerCase();
        // connection-specific (HTTP/2 forbids them); Date is the worker's own
        if (!HOP_BY_HOP.has(name) && name !== 'date') out.push(raw[i]!, raw[i + 1]!);
      }
      const w = ctx.writer;
      w.writeHead(answer.statusCode ?? 502, undefined, out);
      answer.on('data', (chunk: Buffer) => {
        if (!w.write(chunk)) {
          answer.pause();
          w.once('drain', () => answer.resume());
        }
      });
      answer.once('end', () => w.end());
    });
    // the client went away (e.g. closed the event stream): stop the relay
    ctx.res.once('close', () => upstream.destroy());
    upstream.end();
  };
}
