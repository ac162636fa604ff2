/*
 * Postgres STARTTLS (Traefik's pkg/server/router/tcp/postgres.go). A
 * Postgres client asks for TLS with an SSLRequest, 8 bytes (Int32 length 8,
 * Int32 80877103: PostgreSQL protocol 55.2), and starts the handshake once
 * the server answered 'S'. On an entrypoint with TLS TCP routers, Portico
 * answers 'S' itself, reads the ClientHello and routes by SNI among those
 * routers, so Postgres servers can share a port and be told apart by name:
 *
 * - terminated (`tls: {}`): the server gets the bytes in clear, as a client
 *   with sslmode=disable would send them;
 * - passthrough: the server gets the SSLRequest, its 'S' is not repeated to
 *   the client (which had Portico's), and only then the ClientHello. Postgres
 *   refuses bytes that arrive after an SSLRequest before its answer
 *   (CVE-2021-23214), so the client's bytes wait for it.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { peekClientHello, type PeekResult } from '../tls/client-hello.js';

export const POSTGRES_SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);
const ACCEPT_TLS = 0x53; // 'S'

/** Whether `chunk` starts like an SSLRequest, as far as it goes. */
export function startsPostgresSslRequest(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, POSTGRES_SSL_REQUEST.length);
  return n > 0 && chunk.subarray(0, n).equals(POSTGRES_SSL_REQUEST.subarray(0, n));
}

/** A ClientHello read after Portico answered a client's SSLRequest. */
export interface PostgresPeek extends PeekResult {
  readonly postgresStartTls: true;
}

export function isPostgresStartTls(peek: PeekResult | undefined): peek is PostgresPeek {
  return peek !== undefined && (peek as Partial<PostgresPeek>).postgresStartTls === true;
}

/**
 * Reads the SSLRequest from a paused socket (the bytes read so far unshifted), answers 'S' and
 * reads the ClientHello. 'other': the bytes turned out not to be an SSLRequest (they are given
 * back); undefined: the client went away, was too slow, or did not start TLS (the caller closes).
 */
export function acceptPostgresStartTls(
  socket: Socket,
  limits: { maxBytes: number; timeoutMs: number },
): Promise<PostgresPeek | 'other' | undefined> {
  return new Promise<Buffer | 'other' | undefined>((resolve) => {
    let got: Buffer = Buffer.alloc(0);
    // the listener goes and the socket is paused before bytes are given back: unshift on a
    // flowing socket would hand them straight back to onData
    const finish = (r: Buffer | 'other' | undefined, giveBack?: Buffer): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.pause();
      if (giveBack !== undefined && giveBack.length > 0) socket.unshift(giveBack);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      if (!startsPostgresSslRequest(got)) finish('other', got);
      else if (got.length >= POSTGRES_SSL_REQUEST.length)
        finish(got, got.subarray(POSTGRES_SSL_REQUEST.length));
    };
    const onEnd = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), limits.timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  }).then((r) => {
    if (r === 'other' || r === undefined || socket.destroyed) return r === 'other' ? r : undefined;
    socket.write(Buffer.from([ACCEPT_TLS]));
    const hello = peekClientHello(socket, limits);
    socket.resume();
    return hello.then((peek) =>
      peek.hello === undefined ? undefined : { ...peek, postgresStartTls: true as const },
    );
  });
}

/**
 * The client side of a passed-through STARTTLS connection, as the service sees it: it reads the
 * SSLRequest first; the server's first byte must be 'S' and is dropped; the client's own bytes
 * (its ClientHello first) flow only after it (Traefik's postgresConn).
 */
export function postgresPassthroughStream(client: Socket): Duplex {
  let accepted = false;
  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      if (accepted) client.resume();
    },
    write(chunk: Buffer, _encoding, cb) {
      let bytes = chunk;
      if (!accepted) {
        if (bytes[0] !== ACCEPT_TLS) {
          cb(new Error('postgres: the server did not accept STARTTLS'));
          return;
        }
        accepted = true;
        bytes = bytes.subarray(1);
        client.resume();
        if (bytes.length === 0) {
          cb();
          return;
        }
      }
      client.write(bytes, (err) => cb(err ?? null));
    },
    final(cb) {
      client.end();
      cb();
    },
    destroy(err, cb) {
      client.destroy();
      cb(err);
    },
  });
  stream.push(POSTGRES_SSL_REQUEST);
  client.pause();
  client.on('data', (c: Buffer) => {
    if (!stream.push(c)) client.pause();
  });
  client.on('end', () => stream.push(null));
  client.on('error', (err) => stream.destroy(err));
  // a reset or a cut (closed before its end was read) closes the stream too, as relay() does
  client.on('close', () => {
    if (!client.readableEnded && !stream.destroyed) stream.destroy();
  });
  return stream;
}
