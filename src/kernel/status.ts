/*
 * Status answers: the short plain-text response Portico writes itself (an
 * upstream failure, a refused request, a middleware's 401/403/429/503).
 * Every layer that answers a request uses this one, so the body, the
 * headers and what happens when the response already started are the same
 * whoever answers.
 */
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { ResponseWriter } from './context.js';

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
  try {
    (res as ResponseWriter).writeHead(status, undefined, headers);
    res.end(body);
  } catch {
    // a writer left unusable by an earlier failure: cutting the connection is the only answer left
    res.destroy();
  }
}
