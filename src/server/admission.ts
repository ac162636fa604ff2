/*
 * Request admission: the checks a request passes before a RequestContext is
 * built and routing starts (framing, Host, request target, who may set
 * X-Forwarded-*). Every refusal here happens before any byte goes upstream.
 * Pure functions of the request's head, so each is tested on its own and the
 * explain API judges a request the same way.
 */
import type { IncomingMessage } from 'node:http';
import { compileIpMatcher } from '../kernel/ip-match.js';
import type { EntryPointConfig } from '../config/static-types.js';

/** Whether a client address may set X-Forwarded-* (forwardedHeaders.trustedIPs / insecure). */
export function createTrustCheck(ep: EntryPointConfig): (ip: string) => boolean {
  if (ep.forwardedHeaders.insecure) return () => true;
  if (ep.forwardedHeaders.trustedIPs.length === 0) return () => false;
  // the static configuration refused entries that are not IPs or CIDRs (validateCidr); it lets an
  // IPv6 zone through (fe80::1%eth0), which the engine refuses as Go does: dropped here, as before
  const list = compileIpMatcher(ep.forwardedHeaders.trustedIPs.map((e) => e.replace(/%[^/]*/, '')));
  return (ip) => list.contains(ip);
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/i;

/**
 * Splits an absolute-form target (`GET http://host/path`): RFC 9112 §3.2.2 says
 * its authority wins over Host. An empty authority is refused (§3.2.2), and so
 * is userinfo (RFC 9110 §4.2.4), by the Host character check in the caller.
 */
export function splitAbsolute(url: string): { host: string; target: string } | null {
  const m = ABSOLUTE_FORM.exec(url);
  if (m === null || m[1] === undefined || m[1] === '') return null;
  const rest = m[2] ?? '';
  return {
    host: m[1],
    target: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? '/' + rest : rest,
  };
}

/**
 * Bytes allowed in a Host header (Go's httpguts.ValidHostHeader, which Traefik
 * relies on): reg-name, IP literals, port, sub-delims. No space, '/', '@', '\\'
 * or controls, so a Host cannot smuggle a path or userinfo past routing.
 */
const HOST_BYTES = (() => {
  const t = new Uint8Array(128);
  const ok = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&'()*+,-.:;=[]_~";
  for (let i = 0; i < ok.length; i++) t[ok.charCodeAt(i)] = 1;
  return t;
})();

export function validHost(host: string): boolean {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 128 || HOST_BYTES[c] === 0) return false;
  }
  return true;
}

/** RFC 9112 §3.2: more than one Host header is a 400. Node keeps only the first in req.headers. */
export function hasDuplicateHost(raw: string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    // case-insensitive "host" without a lower-cased copy (header names are tokens: | 0x20 is safe)
    if (
      n.length === 4 &&
      (n.charCodeAt(0) | 0x20) === 0x68 &&
      (n.charCodeAt(1) | 0x20) === 0x6f &&
      (n.charCodeAt(2) | 0x20) === 0x73 &&
      (n.charCodeAt(3) | 0x20) === 0x74
    ) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/** The only transfer coding the proxy can re-frame faithfully; anything else is a 501 (RFC 9112 §6.1). */
export function unsupportedTransferEncoding(te: string | undefined): boolean {
  return te !== undefined && te !== 'chunked' && te.toLowerCase() !== 'chunked';
}

/**
 * The status a request is refused with for its version or framing, or 0 when
 * it may go on. The connection is closed after such a refusal.
 */
export function framingProblem(req: IncomingMessage, h2Allowed: boolean): number {
  // HTTP/0.9 ("GET /" with no version) has no headers and no framing: never forward it
  // (HTTP/2 arrives only from the HTTP/2 servers: ALPN h2 on TLS, or the h2c preface)
  if (req.httpVersionMajor !== 1 && !(req.httpVersionMajor === 2 && h2Allowed)) return 400;
  const te = req.headers['transfer-encoding'];
  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing (chunked is 1.1 only):
  // answer and close, as the body's end cannot be known
  if (te !== undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 0) return 400;
  // Node accepts "gzip, chunked"; dropping the hop-by-hop header would hand the upstream a body it cannot read
  if (unsupportedTransferEncoding(te)) return 501;
  if (hasDuplicateHost(req.rawHeaders)) return 400;
  return 0;
}

/**
 * Whether the Host to route by is acceptable. HTTP/1.1 without Host never gets
 * here (Node's requireHostHeader); an HTTP/2 request needs :authority or Host
 * too (RFC 9113 §8.3.1), or routing by Host would see an empty one.
 */
export function acceptableHost(rawHost: string, httpVersionMajor: number): boolean {
  return validHost(rawHost) && !(rawHost === '' && httpVersionMajor === 2);
}

/**
 * An untrusted client's X-Forwarded-* (and X-Real-Ip, Forwarded) are removed
 * before anything reads them, so no middleware or upstream can be fooled by a
 * forged value (X-Forwarded-Prefix, X-Forwarded-User...), as Traefik does.
 */
export function dropForwardedHeaders(headers: IncomingMessage['headers']): void {
  for (const name in headers) {
    if (name.charCodeAt(0) !== 0x78 && name.charCodeAt(0) !== 0x66) continue; // 'x' or 'f'
    if (name.startsWith('x-forwarded-') || name === 'x-real-ip' || name === 'forwarded')
      delete headers[name];
  }
}
