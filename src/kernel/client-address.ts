/*
 * The client address of a connection when a PROXY protocol header gave one
 * (issue 13 item 6): ClientIP rules, ipAllowList, X-Forwarded-For and the
 * access log read it through RequestContext, as Traefik's do through the
 * go-proxyproto connection's RemoteAddr().
 *
 * Keyed by the connection's real 4-tuple, not by the socket object: a
 * TLSSocket made over the raw socket (and HTTP/2's socket proxy) is another
 * object but reports the same addresses and ports, and a property set on the
 * raw socket does not reach it. A 4-tuple names one live TCP connection; the
 * entry goes when the raw socket closes.
 */
import type { Socket } from 'node:net';

export interface ClientAddress {
  address: string;
  port: number;
}

/** the socket fields the lookup reads: a net.Socket, a TLSSocket, HTTP/2's socket proxy */
export interface SocketAddresses {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

interface Entry {
  client: ClientAddress;
  local: ClientAddress | undefined;
}

const overrides = new Map<string, Entry>();

function keyOf(s: SocketAddresses): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}

/**
 * Records the address a PROXY header gave for this connection (`local`: the
 * header's destination, what a TCP service's own PROXY header sends on).
 * Called with the raw socket, before TLS or HTTP see it.
 */
export function setClientAddress(
  socket: Socket,
  client: ClientAddress,
  local?: ClientAddress,
): void {
  // a socket already gone would never fire 'close' again: its entry would stay forever
  if (socket.destroyed || socket.remoteAddress === undefined) return;
  const key = keyOf(socket);
  const entry: Entry = { client, local };
  overrides.set(key, entry);
  socket.once('close', () => {
    // the same 4-tuple may belong to a newer connection by now
    if (overrides.get(key) === entry) overrides.delete(key);
  });
}

/**
 * The PROXY header's client address for this connection, or undefined
 * (then the socket's own address is the client's). One Map size check when
 * no connection came with a header, so entrypoints without PROXY protocol
 * pay nothing per request.
 */
export function proxiedClientAddress(socket: SocketAddresses): ClientAddress | undefined {
  if (overrides.size === 0) return undefined;
  return overrides.get(keyOf(socket))?.client;
}

/** The client of this connection: the PROXY header's source, else the socket's peer. */
export function clientAddressOf(socket: SocketAddresses): ClientAddress {
  return (
    proxiedClientAddress(socket) ?? {
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
    }
  );
}

/**
 * The address the client connected to: the PROXY header's destination,
 * else the socket's own (go-proxyproto's LocalAddr(), which Traefik's TCP
 * proxy puts in the PROXY header it sends upstream).
 */
export function localAddressOf(socket: SocketAddresses): ClientAddress {
  const local = overrides.size === 0 ? undefined : overrides.get(keyOf(socket))?.local;
  return local ?? { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
}

/** connections with an address from a PROXY header right now (tests, debugging) */
export function proxiedConnectionCount(): number {
  return overrides.size;
}
