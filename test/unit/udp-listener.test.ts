/*
 * The UDP entrypoint's own bounds (src/udp/listener.ts), with real sockets on
 * 127.0.0.1: past maxSessions, datagrams from new clients are dropped while
 * the open sessions keep working, and a client is served again once sessions
 * idle out; shutdown closes what is left; a service that throws or a server
 * that refuses (ICMP port unreachable) ends only its own session.
 */
import dgram from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createUdpEntryPoint, type UdpEntryPoint } from '../../src/udp/listener.js';
import { parseUdpAddress, udpLoadBalancer, udpProxy } from '../../src/udp/service.js';
import type { UdpHandler } from '../../src/udp/types.js';
import { eventually } from '../helpers/eventually.js';

const log = pino({ level: 'silent' });

function bound(socket: dgram.Socket): Promise<number> {
  return new Promise((resolve) =>
    socket.bind(0, '127.0.0.1', () => resolve(socket.address().port)),
  );
}

async function echoServer(): Promise<{ port: number; socket: dgram.Socket }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (m, from) => socket.send(m, from.port, from.address));
  return { port: await bound(socket), socket };
}

async function client(port: number): Promise<{
  ask(m: string, timeoutMs?: number): Promise<string>;
  socket: dgram.Socket;
}> {
  const socket = dgram.createSocket('udp4');
  await bound(socket);
  return {
    socket,
    ask: (m, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          socket.off('message', on);
          reject(new Error('no answer'));
        }, timeoutMs);
        const on = (msg: Buffer): void => {
          clearTimeout(t);
          socket.off('message', on);
          resolve(msg.toString());
        };
        socket.on('message', on);
        socket.send(m, port, '127.0.0.1');
      }),
  };
}

describe('createUdpEntryPoint', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });

  async function start(
    handler: UdpHandler,
    extra: { maxSessions?: number; timeoutMs?: number } = {},
  ): Promise<{ ep: UdpEntryPoint; port: number }> {
    const ep = createUdpEntryPoint({
      name: 'dns',
      host: '127.0.0.1',
      port: 0,
      timeoutMs: extra.timeoutMs ?? 3000,
      graceMs: 0,
      acceptForMs: 0,
      maxSessions: extra.maxSessions,
      logger: log,
      handler: () => handler,
    });
    const { port } = await ep.listen();
    cleanup.push(() => ep.shutdown(0));
    return { ep, port };
  }

  it('past maxSessions new clients are dropped, open sessions keep working, and idle ones make room', async () => {
    const echo = await echoServer();
    cleanup.push(() => echo.socket.close());
    const { ep, port } = await start(
      udpProxy(parseUdpAddress(`127.0.0.1:${echo.port}`)!, log, 's'),
      { maxSessions: 5, timeoutMs: 2000 },
    );
    const clients = await Promise.all(Array.from({ length: 6 }, () => client(port)));
    cleanup.push(() => clients.forEach((c) => c.socket.close()));
    for (const c of clients.slice(0, 5)) expect(await c.ask('in')).toBe('in');
    expect(ep.sessionCount()).toBe(5);
    // the sixth client: no session, no answer (its datagram is dropped)
    await expect(clients[5]!.ask('out', 300)).rejects.toThrow('no answer');
    expect(ep.sessionCount()).toBe(5);
    expect(await clients[0]!.ask('still')).toBe('still');
    await eventually(() => expect(ep.sessionCount()).toBe(0));
    expect(await clients[5]!.ask('now')).toBe('now');
  });

  it('a handler that throws ends only that session', async () => {
    let calls = 0;
    const { ep, port } = await start((session) => {
      calls++;
      if (calls === 1) throw new Error('boom');
      session.onDatagram = (d) => session.reply(d);
    });
    const a = await client(port);
    const b = await client(port);
    cleanup.push(() => (a.socket.close(), b.socket.close()));
    await expect(a.ask('x', 300)).rejects.toThrow('no answer');
    expect(await b.ask('y')).toBe('y');
    expect(ep.sessionCount()).toBe(1);
  });

  it('a server that refuses (closed port) ends the session; the next datagram tries the next server', async () => {
    const echo = await echoServer();
    const closed = dgram.createSocket('udp4');
    const closedPort = await bound(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    cleanup.push(() => echo.socket.close());
    const { ep, port } = await start(
      udpLoadBalancer([
        udpProxy(parseUdpAddress(`127.0.0.1:${closedPort}`)!, log, 's'),
        udpProxy(parseUdpAddress(`127.0.0.1:${echo.port}`)!, log, 's'),
      ]),
    );
    const c = await client(port);
    cleanup.push(() => c.socket.close());
    await expect(c.ask('first', 500)).rejects.toThrow('no answer');
    // the ICMP port unreachable is an error on the connected socket: the session is gone
    await eventually(() => expect(ep.sessionCount()).toBe(0));
    expect(await c.ask('second')).toBe('second');
  });

  it('an entrypoint without a router keeps no session for what it receives', async () => {
    const ep = createUdpEntryPoint({
      name: 'dns',
      host: '127.0.0.1',
      port: 0,
      timeoutMs: 3000,
      graceMs: 0,
      acceptForMs: 0,
      logger: log,
      handler: () => undefined,
    });
    const { port } = await ep.listen();
    cleanup.push(() => ep.shutdown(0));
    const c = await client(port);
    cleanup.push(() => c.socket.close());
    await expect(c.ask('anyone?', 300)).rejects.toThrow('no answer');
    expect(ep.sessionCount()).toBe(0);
  });

  it('shutdown closes the open sessions and the socket', async () => {
    const { ep, port } = await start((session) => {
      session.onDatagram = (d) => session.reply(d);
    });
    const c = await client(port);
    cleanup.push(() => c.socket.close());
    expect(await c.ask('x')).toBe('x');
    expect(ep.sessionCount()).toBe(1);
    await ep.shutdown(0);
    expect(ep.sessionCount()).toBe(0);
    await expect(c.ask('y', 300)).rejects.toThrow('no answer');
  });
});
