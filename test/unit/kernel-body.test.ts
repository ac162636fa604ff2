/*
 * The one "read the request body whole" routine (src/kernel/body.ts), used by
 * buffering, retry, forwardAuth and gRPC-Web's text mode: a real server on
 * 127.0.0.1 reads what a real client sends, whole, over the limit, or cut off.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readWholeBody } from '../../src/kernel/body.js';

type Outcome =
  { kind: 'done'; body: string } | { kind: 'tooLarge' } | { kind: 'gone'; message: string };

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** a server that reads each request's body with `max` and reports the first outcome (and how many there were) */
async function reader(
  max: number,
): Promise<{ port: number; outcome: Promise<Outcome[]>; started: Promise<void> }> {
  let report!: (o: Outcome[]) => void;
  const outcome = new Promise<Outcome[]>((r) => (report = r));
  let start!: () => void;
  const started = new Promise<void>((r) => (start = r));
  const server = http.createServer((req, res) => {
    start();
    const seen: Outcome[] = [];
    const finish = (o: Outcome): void => {
      seen.push(o);
      // a second callback would land within this turn or the next: report after it
      setImmediate(() => report(seen));
    };
    readWholeBody(req, max, {
      done: (body) => {
        finish({ kind: 'done', body: body.toString() });
        res.end('ok');
      },
      tooLarge: () => {
        finish({ kind: 'tooLarge' });
        res.shouldKeepAlive = false;
        res.statusCode = 413;
        res.end();
        req.resume(); // discard the rest
      },
      gone: (err) => finish({ kind: 'gone', message: err.message }),
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, outcome, started };
}

function send(
  port: number,
  parts: string[],
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', agent: false, headers },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

describe('readWholeBody', () => {
  it('delivers a chunked body whole, once', async () => {
    const { port, outcome } = await reader(1024);
    expect(await send(port, ['hello, ', 'whole ', 'body'])).toBe(200);
    expect(await outcome).toEqual([{ kind: 'done', body: 'hello, whole body' }]);
  });

  it('delivers an empty body as an empty buffer', async () => {
    const { port, outcome } = await reader(1024);
    expect(await send(port, [], { 'content-length': '0' })).toBe(200);
    expect(await outcome).toEqual([{ kind: 'done', body: '' }]);
  });

  it('stops past the limit and reports it once; the caller answers', async () => {
    const { port, outcome } = await reader(8);
    expect(await send(port, ['0123456789', 'abcdef'])).toBe(413);
    expect(await outcome).toEqual([{ kind: 'tooLarge' }]);
  });

  it('has no limit when max is negative', async () => {
    const { port, outcome } = await reader(-1);
    const big = 'x'.repeat(256 * 1024);
    expect(await send(port, [big, big])).toBe(200);
    const [first] = await outcome;
    expect(first?.kind === 'done' && first.body.length).toBe(512 * 1024);
  });

  it('reports a body the client cut off as gone, never as a body', async () => {
    const { port, outcome, started } = await reader(1024);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it');
    // once the server is reading this request, go away before the body's end
    await started;
    socket.destroy();
    const seen = await outcome;
    expect(seen).toHaveLength(1);
    expect(seen[0]?.kind).toBe('gone');
  });
});
