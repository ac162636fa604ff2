/*
 * The one place that maps upstream transport failures to client statuses
 * (as @fastify/reply-from does): refused or reset → 502, too slow → 504.
 * 503 (no healthy server) is decided by the load balancer, not here.
 */
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { ResponseWriter } from '../server/context.js';
import { DIAL_TIMEOUT, HEADERS_TIMEOUT } from './h1-pool.js';

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  DIAL_TIMEOUT,
  HEADERS_TIMEOUT,
]);

export function statusForUpstreamError(err: unknown): 502 | 504 {
  const code = (err as { code?: string } | null)?.code;
  if (code !== undefined && TIMEOUT_CODES.has(code)) return 504;
  return 502;
}

/**
 * Writes a short plain-text error response, unless the response already
 * started. Takes a ServerResponse or a middleware's ResponseWriter wrapper.
 */
export function sendStatus(
  res: ServerResponse | ResponseWriter,
  status: number,
  extraHeaders?: Record<string, string>,
): void {
  if (res.headersSent) {
    // a response that already started cannot change its status: cut it so the client sees the failure
    res.destroy();
    return;
  }
  const body = (STATUS_CODES[status] ?? 'Error') + '\n';
  const headers = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-content-type-options',
    'nosniff',
  ];
  if (extraHeaders !== undefined)
    for (const [k, v] of Object.entries(extraHeaders)) headers.push(k, v);
  (res as ResponseWriter).writeHead(status, undefined, headers);
  res.end(body);
}
