/*
 * The one definition of the header fields that belong to a single connection
 * and are never relayed from one hop to the next, by meaning:
 *
 * - H2_FORBIDDEN: the connection-specific fields HTTP/2 forbids outright
 *   (RFC 9113 §8.2.2; Node's HTTP/2 writer throws on them), plus
 *   HTTP2-Settings (RFC 7540 §3.2.1, meaningful only on an h2c upgrade).
 *   TE is the one allowed with a value: "trailers" on a request, nothing
 *   on a response; callers that speak HTTP/2 check it themselves.
 * - HOP_BY_HOP: what no response relays, and what every relay drops in both
 *   directions: the fields above that RFC 9110 §7.6.1 calls hop-by-hop
 *   (Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding,
 *   Upgrade) and Trailer, as Go's httputil.ReverseProxy and Traefik do.
 * - REQUEST_HOP_BY_HOP: HOP_BY_HOP plus the fields a request does not carry
 *   past this proxy: Proxy-Authenticate/Proxy-Authorization (RFC 9110 §11.7,
 *   meant for the proxy; Go drops them too), Expect (Node's server already
 *   answered 100-continue to the client; undici refuses it) and
 *   HTTP2-Settings.
 *
 * Users add what is theirs on top (Host, Content-Length, the forwarded family)
 * next to their use, with the reason. All sets hold lowercase names.
 */

const CONNECTION_SPECIFIC = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
];

export const H2_FORBIDDEN: ReadonlySet<string> = new Set([
  ...CONNECTION_SPECIFIC,
  'http2-settings',
]);

export const HOP_BY_HOP: ReadonlySet<string> = new Set([...CONNECTION_SPECIFIC, 'te', 'trailer']);

export const REQUEST_HOP_BY_HOP: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'proxy-authenticate',
  'proxy-authorization',
  'expect',
  'http2-settings',
]);
