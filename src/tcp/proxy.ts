/*
 * A TCP service's server side (Traefik's pkg/tcp/proxy.go): dial the server
 * through the servers transport (dialTimeout, dialKeepAlive, TLS, PROXY
 * protocol header), then copy bytes both ways. When one side ends, the other
 * is half-closed (FIN) and gets terminationDelay to finish before both are
 * closed (negative: it waits as long as the peer does), as Traefik's
 * connCopy does with CloseWrite and a read deadline.
 */
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { encodeProxyHeader } from '../kernel/proxy-protocol.js';
import type { TcpConnection, TcpObservation } from './types.js';

export interface TcpDialOptions {
  dialTimeoutMs: number;
  /** TCP keep-alive probe interval; 0 or less: off */
  dialKeepAliveMs: number;
  /** after one side ended, how long the other may go on; negative: no limit */
  terminationDelayMs: number;
  /** PROXY protocol version sent first, undefined: none */
  proxyProtocol: 1 | 2 | undefined;
  /** TLS to the server (`servers[].tls`), with the transport's settings */
  tls:
    | {
        serverName: string | undefined;
        insecureSkipVerify: boolean;
        ca: string[] | undefined;
        certificates: { cert: string; key: string }[];
      }
    | undefined;
}

/** host:port or [v6]:port → parts; undefined when unusable */
export function splitHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Opens the connection to `address`; resolves once it can carry bytes (TLS done), rejects otherwise. */
export function dialServer(
  address: string,
  opts: TcpDialOptions,
  conn: Pick<TcpConnection, 'source' | 'destination'>,
  /** aborts the dial (a health checker closed while its probe was connecting) */
  signal?: AbortSignal,
): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const target = splitHostPort(address);
    if (target === undefined) {
      reject(new Error(`invalid server address ${JSON.stringify(address)}`));
      return;
    }
    const raw: Socket = net.connect({
      host: target.host || '127.0.0.1',
      port: target.port,
      // the server may end its side while the client still sends (relay half-closes)
      allowHalfOpen: true,
    });
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    const timer =
      opts.dialTimeoutMs > 0
        ? setTimeout(() => fail(new Error(`dial ${address}: timeout`)), opts.dialTimeoutMs)
        : undefined;
    timer?.unref();
    raw.once('error', (err) => fail(new Error(`dial ${address}: ${err.message}`)));
    if (signal !== undefined) {
      if (signal.aborted) fail(new Error(`dial ${address}: aborted`));
      else
        signal.addEventListener('abort', () => fail(new Error(`dial ${address}: aborted`)), {
          once: true,
        });
    }
    raw.once('connect', () => {
      if (opts.dialKeepAliveMs > 0) raw.setKeepAlive(true, opts.dialKeepAliveMs);
      raw.setNoDelay(true);
      // the PROXY header goes first and in clear, before any TLS (as HAProxy's send-proxy)
      if (opts.proxyProtocol !== undefined)
        raw.write(encodeProxyHeader(opts.proxyProtocol, conn.source, conn.destination));
      const t = opts.tls;
      if (t === undefined) {
        settled = true;
        clearTimeout(timer);
        raw.removeAllListeners('error');
        resolve(raw);
        return;
      }
      const servername = t.serverName ?? (net.isIP(target.host) === 0 ? target.host : undefined);
      const secure = tls.connect({
        socket: raw,
        ...(servername ? { servername } : {}),
        rejectUnauthorized: !t.insecureSkipVerify,
        ...(t.ca ? { ca: t.ca } : {}),
        ...(t.certificates[0] ? t.certificates[0] : {}),
      });
      secure.once('error', (err) => fail(new Error(`tls to ${address}: ${err.message}`)));
      secure.once('secureConnect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.removeAllListeners('error');
        resolve(secure);
      });
    });
  });
}

/**
 * Copies bytes both ways between the client and the server until both are done. One side's end
 * half-closes the other (pipe ends its destination: the FIN of Traefik's CloseWrite) and starts
 * the termination delay; an error or a reset on either side closes both.
 */
export function relay(
  client: Duplex,
  server: Duplex,
  terminationDelayMs: number,
  /** counts the bytes and notes who closed first (metrics, access log) */
  observed?: TcpObservation,
): void {
  let timer: NodeJS.Timeout | undefined;
  const closeBoth = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    client.destroy();
    server.destroy();
  };
  client.on('error', closeBoth);
  server.on('error', closeBoth);
  client.pipe(server);
  server.pipe(client);
  if (observed !== undefined) {
    // after pipe: the listeners only watch, the flow stays pipe's (and its backpressure)
    client.on('data', (chunk: Buffer) => (observed.toServer += chunk.length));
    server.on('data', (chunk: Buffer) => (observed.toClient += chunk.length));
    client.once('error', () => (observed.reason ??= 'client_error'));
    server.once('error', () => (observed.reason ??= 'server_error'));
    client.once('end', () => (observed.reason ??= 'client_closed'));
    server.once('end', () => (observed.reason ??= 'server_closed'));
    // closed with neither an end nor an error (a reset is an error): Portico cut it (shutdown)
    client.once('close', () => (observed.reason ??= 'aborted'));
    server.once('close', () => (observed.reason ??= 'server_error'));
  }
  let ends = 0;
  const onEnd = (): void => {
    ends++;
    if (ends === 1 && terminationDelayMs >= 0) {
      timer = setTimeout(closeBoth, terminationDelayMs);
      timer.unref();
    }
  };
  client.once('end', onEnd);
  server.once('end', onEnd);
  const onClose = (side: Duplex, other: Duplex) => (): void => {
    // closed without its end having been read: a reset or a cut, the other side goes too
    if (!side.readableEnded) other.destroy();
    if (client.destroyed && server.destroyed && timer !== undefined) clearTimeout(timer);
  };
  client.once('close', onClose(client, server));
  server.once('close', onClose(server, client));
}
