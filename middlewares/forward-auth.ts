/*
 * ForwardAuth: asks an external service whether a request may pass, as
 * Traefik's forwardAuth. The auth server gets the client's headers (or an
 * allow-list of them) plus X-Forwarded-Method/Proto/Host/Uri/For describing
 * the original request; a 2xx answer lets the request through, carrying the
 * headers named in authResponseHeaders(Regex) from the auth answer, and any
 * other answer goes back to the client as it is (status, headers, body): that
 * is how login redirects reach the browser.
 *
 * The X-Forwarded-* sent to the auth server are computed here unless
 * trustForwardHeader is set: an auth server deciding on X-Forwarded-Uri must
 * not be told a path the client made up.
 *
 * Each middleware has its own undici pool, kept in the state registry so a
 * configuration swap that leaves it unchanged keeps its warm connections, and
 * closed once no configuration uses it.
 *
 * The options are checked in forward-auth-settings.ts; the pieces of one
 * exchange (auth request headers, relaying a refusal, admitting) are in
 * forward-auth-exchange.ts; this file runs them in order per request.
 */
import { createHash } from 'node:crypto';
import { Pool, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { RequestContext } from '../src/kernel/context.js';
import { sendStatus } from '../src/kernel/status.js';
import { stableKey } from '../src/config/objects.js';
import type { MiddlewareDefinition } from './types.js';
import { forwardAuth as schema } from '../src/config/schema/middlewares/auth.js';
import { forwardAuthSettings, type ForwardAuthSettings } from './forward-auth-settings.js';
import {
  admitRequest,
  authRequestHeaders,
  BodyTooLarge,
  readBody,
  relayRefusal,
} from './forward-auth-exchange.js';

/** Traefik's http.Client timeout for the auth call */
const AUTH_TIMEOUT_MS = 30_000;

/**
 * forwardBody: reads the request body for the auth server (and keeps it for the
 * upstream). Returns the body to send (null: none), or undefined once the
 * client has been answered or is gone.
 */
async function bodyForAuth(
  ctx: RequestContext,
  s: ForwardAuthSettings,
  logger: Logger,
): Promise<Buffer | null | undefined> {
  let body: Buffer | null;
  try {
    body = await readBody(ctx, s.maxBodySize);
  } catch (err) {
    if (ctx.clientGone || ctx.writer.destroyed) return undefined;
    if (err instanceof BodyTooLarge) {
      logger.debug({ maxBodySize: s.maxBodySize }, 'forwardAuth: request body too large');
      // the rest of the body is not read: close the connection after answering
      ctx.res.shouldKeepAlive = false;
      sendStatus(ctx.writer, 401);
    } else sendStatus(ctx.writer, 500);
    return undefined;
  }
  // the upstream gets the body that was read here
  if (body !== null) {
    ctx.body = body;
    if (body.length === 0) body = null;
  }
  return body;
}

/** The auth call, its answer read whole (up to maxResponseBodySize); aborted if the client leaves. */
async function callAuthServer(
  pool: Pool,
  ctx: RequestContext,
  s: ForwardAuthSettings,
  body: Buffer | null,
): Promise<{ res: Dispatcher.ResponseData; body: Buffer }> {
  const abort = new AbortController();
  const onClose = (): void => abort.abort();
  ctx.res.once('close', onClose);
  try {
    const res = await pool.request({
      path: s.path,
      method: (s.preserveRequestMethod ? ctx.method : 'GET') as Dispatcher.HttpMethod,
      headers: authRequestHeaders(ctx, s),
      body,
      signal: abort.signal,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (s.maxResponseBodySize >= 0 && size > s.maxResponseBodySize) {
        res.body.destroy();
        throw new Error('auth response body too large');
      }
      chunks.push(chunk);
    }
    return { res, body: Buffer.concat(chunks, size) };
  } finally {
    ctx.res.off('close', onClose);
  }
}

/** One request: body (forwardBody), the auth call, then refuse or admit. */
async function authorize(
  ctx: RequestContext,
  next: (c: RequestContext) => void,
  s: ForwardAuthSettings,
  pool: Pool,
  logger: Logger,
): Promise<void> {
  let body: Buffer | null = null;
  if (s.forwardBody) {
    const read = await bodyForAuth(ctx, s, logger);
    if (read === undefined) return;
    body = read;
  }
  let answer: { res: Dispatcher.ResponseData; body: Buffer };
  try {
    answer = await callAuthServer(pool, ctx, s, body);
  } catch (err) {
    if (ctx.clientGone || ctx.writer.destroyed) return;
    logger.debug({ err, address: s.address.href }, 'forwardAuth: auth server call failed');
    sendStatus(ctx.writer, 500);
    return;
  }
  if (ctx.clientGone || ctx.writer.destroyed) return;
  const { res } = answer;
  if (res.statusCode < 200 || res.statusCode >= 300) {
    relayRefusal(ctx, res, answer.body, s, logger);
    return;
  }
  admitRequest(ctx, res, s);
  next(ctx);
}

export const forwardAuth: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const s = forwardAuthSettings(raw);
    const { address, connect } = s;
    const poolKey = createHash('sha256')
      .update(stableKey([address.origin, connect]))
      .digest('base64url');
    const pool = build.state.acquire(
      `forwardAuth:${build.name}:${poolKey}`,
      () =>
        new Pool(address.origin, {
          connectTimeout: AUTH_TIMEOUT_MS,
          headersTimeout: AUTH_TIMEOUT_MS,
          bodyTimeout: AUTH_TIMEOUT_MS,
          ...(address.protocol === 'https:' ? { connect } : {}),
        }),
      (p) => {
        p.close().catch(() => undefined);
      },
    );
    return (next) => (ctx) => {
      authorize(ctx, next, s, pool, build.logger).catch((err: unknown) => {
        build.logger.error({ err }, 'forwardAuth: unexpected failure');
        if (!ctx.writer.destroyed) sendStatus(ctx.writer, 500);
      });
    };
  },
};
