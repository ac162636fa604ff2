/*
 * Traefik's request labels (method, protocol, code, tls_version, tls_cipher)
 * as the recorder keeps them: code, method and protocol packed in one small
 * integer, TLS labels computed once per connection, so recording a request
 * builds no string.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RequestContext } from '../kernel/context.js';

/** Traefik folds non-standard methods into one value, so a client cannot blow up the label set. */
const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'EXTENSION_METHOD',
] as const;
const METHOD_INDEX = new Map<string, number>(METHODS.map((m, i) => [m, i]));
const EXTENSION_METHOD = METHODS.length - 1;

/** Traefik's `protocol` label values. */
const PROTOCOLS = ['http', 'websocket', 'sse', 'grpc', 'grpc-web'] as const;

function protocolIndex(ctx: RequestContext): number {
  if (ctx.upgrade !== undefined) return 1;
  const h = ctx.req.headers;
  const ct = h['content-type'];
  if (ct !== undefined && ct.startsWith('application/grpc'))
    return ct.startsWith('application/grpc-web') ? 4 : 3;
  const accept = h.accept;
  if (accept !== undefined && accept.includes('text/event-stream')) return 2;
  return 0;
}

/** code, method and protocol in one small integer: the innermost map key, no string per request */
export function cellKey(code: number, ctx: RequestContext): number {
  const m = METHOD_INDEX.get(ctx.method) ?? EXTENSION_METHOD;
  return (Math.min(Math.max(code, 0), 999) << 7) | (m << 3) | protocolIndex(ctx);
}

export function splitKey(key: number): { code: number; method: string; protocol: string } {
  return {
    code: key >> 7,
    method: METHODS[(key >> 3) & 15] ?? 'EXTENSION_METHOD',
    protocol: PROTOCOLS[key & 7] ?? 'http',
  };
}

const kTlsLabels = Symbol('portico.metrics.tls');
type LabelledSocket = TLSSocket & { [kTlsLabels]?: string };

/** "1.3\nTLS_AES_128_GCM_SHA256", computed once per connection (Traefik: tls_version, tls_cipher). */
export function tlsLabels(req: IncomingMessage): string | undefined {
  // HTTP/2: req.socket is a proxy that throws once the stream is gone; the session holds the TLS socket
  const stream = (req as { stream?: { session?: { socket?: unknown } } }).stream;
  const socket = (stream !== undefined ? stream.session?.socket : req.socket) as
    LabelledSocket | undefined;
  if (socket === undefined || typeof socket.getProtocol !== 'function') return undefined;
  let labels = socket[kTlsLabels];
  if (labels === undefined) {
    const version = socket.getProtocol();
    if (version === null) return undefined;
    const cipher = socket.getCipher() as { standardName?: string; name: string } | undefined;
    labels = `${version.replace(/^TLSv/, '')}\n${cipher?.standardName ?? cipher?.name ?? ''}`;
    socket[kTlsLabels] = labels;
  }
  return labels;
}
