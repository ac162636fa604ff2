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
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import { Pool, type Dispatcher } from 'undici';
import { ConfigElementError } from '../src/kernel/errors.js';
import { requestHasBody, type RequestContext } from '../src/kernel/context.js';
import { sendStatus } from '../src/kernel/status.js';
import { readWholeBody } from '../src/kernel/body.js';
import { HOP_BY_HOP } from '../src/kernel/hop-by-hop.js';
import { writeUpstreamHead } from '../src/proxy/response-head.js';
import { appendTraceContext, connectionTokens } from '../src/proxy/headers.js';
import { stableKey } from '../src/config/objects.js';
import { compileRe2, type GoRegexp } from '../src/rules/regex.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { forwardAuth as schema } from '../src/config/schema/middlewares/auth.js';
import { checkHeaderField } from './basic-auth.js';

/** Traefik's http.Client timeout for the auth call */
const AUTH_TIMEOUT_MS = 30_000;

/**
 * Never sent to the auth server: hop-by-hop (Traefik's list carries the
 * misspelt "Trailers" too), what undici recomputes for the auth request, and
 * what a request does not carry past this proxy. Proxy-Authorization does go:
 * Traefik forwards it to the auth server (RFC 7235 §4.4).
 */
const REQUEST_SKIP: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'trailers',
  'host',
  'content-length',
  'expect',
  'http2-settings',
]);

/** computed here (unless trustForwardHeader): the client's values are never passed on */
const FORWARDED = new Set([
  'x-forwarded-for',
  'x-forwarded-method',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-uri',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-real-ip',
  'forwarded',
]);

/** not copied from a refusing auth response to the client (Traefik's list, and the shared one) */
const RESPONSE_SKIP: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'trailers', 'content-length']);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Go's http.CanonicalHeaderKey: the form Traefik's authResponseHeadersRegex is matched against. */
const canonicalCache = new Map<string, string>();
function canonical(lower: string): string {
  let c = canonicalCache.get(lower);
  if (c === undefined) {
    c = lower.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
    if (canonicalCache.size < 4096) canonicalCache.set(lower, c);
  }
  return c;
}

/** A PEM value or a file holding one, as Traefik's ClientTLS accepts. */
function pem(value: string, field: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new ConfigElementError(
      `cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      field,
    );
  }
}

function portOf(ctx: RequestContext): string {
  const raw = ctx.rawHost;
  const close = raw.lastIndexOf(']');
  const colon = raw.lastIndexOf(':');
  if (colon > close && colon !== -1) return raw.slice(colon + 1);
  return ctx.scheme === 'https' ? '443' : '80';
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(', ');
}

function cookieName(setCookie: string): string {
  const eq = setCookie.indexOf('=');
  return (eq === -1 ? setCookie : setCookie.slice(0, eq)).trim();
}

class BodyTooLarge extends Error {}

/** Reads the request body whole, up to `max` bytes (-1 = no limit); null when there is none to read. */
function readBody(ctx: RequestContext, max: number): Promise<Buffer | null> {
  if (ctx.body !== undefined) {
    return max >= 0 && ctx.body.length > max
      ? Promise.reject(new BodyTooLarge())
      : Promise.resolve(ctx.body.length > 0 ? ctx.body : null);
  }
  if (!requestHasBody(ctx.req)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    // an empty body that was read still replaces the (now consumed) stream upstream
    readWholeBody(ctx.req, max, {
      done: resolve,
      tooLarge: () => reject(new BodyTooLarge()),
      gone: reject,
    });
  });
}

export const forwardAuth: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
    let address: URL;
    try {
      address = new URL(o.address);
    } catch {
      throw new ConfigElementError(`"${o.address}" is not a URL`, 'address');
    }
    if (address.protocol !== 'http:' && address.protocol !== 'https:')
      throw new ConfigElementError(`must be an http or https URL, got "${o.address}"`, 'address');
    if (address.username !== '' || address.password !== '')
      throw new ConfigElementError('must not carry credentials', 'address');
    const path = address.pathname + address.search;
    const addressHref = address.href;

    const lowerList = (list: string[] | undefined, field: string): string[] =>
      (list ?? []).map((n, i) => {
        if (!TOKEN.test(n))
          throw new ConfigElementError(`"${n}" is not a valid header name`, `${field}[${i}]`);
        return n.toLowerCase();
      });
    const responseHeaders = lowerList(o.authResponseHeaders, 'authResponseHeaders');
    const requestHeaders = lowerList(o.authRequestHeaders, 'authRequestHeaders');
    const requestAllow = requestHeaders.length > 0 ? new Set(requestHeaders) : undefined;
    // Go's regexp in Traefik, so RE2 here: linear time on client-chosen header names (issue 11)
    let responseRegex: GoRegexp | undefined;
    if (o.authResponseHeadersRegex !== undefined && o.authResponseHeadersRegex !== '') {
      try {
        responseRegex = compileRe2(o.authResponseHeadersRegex);
      } catch (err) {
        throw new ConfigElementError(
          `invalid regex: ${(err as Error).message}`,
          'authResponseHeadersRegex',
          { cause: err },
        );
      }
    }
    const authCookies = new Set(o.addAuthCookiesToResponse ?? []);
    // the auth server names the user in this response header; Portico records it for the access log
    const userHeader = checkHeaderField(o.headerField)?.toLowerCase();
    const trust = o.trustForwardHeader === true;
    const forwardBody = o.forwardBody === true;
    const maxBodySize = o.maxBodySize ?? -1;
    const maxResponseBodySize = o.maxResponseBodySize ?? -1;
    const preserveLocation = o.preserveLocationHeader === true;
    const preserveMethod = o.preserveRequestMethod === true;

    // TLS material is loaded and checked now, so a bad file disables the router instead of every request failing
    const tls = o.tls ?? {};
    const connect: SecureContextOptions & { rejectUnauthorized?: boolean } = {};
    if (address.protocol === 'https:') {
      if ((tls.cert === undefined) !== (tls.key === undefined))
        throw new ConfigElementError(
          'cert and key must be set together',
          tls.cert === undefined ? 'tls.cert' : 'tls.key',
        );
      if (tls.ca !== undefined && tls.ca !== '') {
        const ca = pem(tls.ca, 'tls.ca');
        // node skips CA blocks it cannot parse: check each, or a typo would make every call fail
        const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
        if (blocks === null) throw new ConfigElementError('no PEM certificate found', 'tls.ca');
        for (const block of blocks) {
          try {
            new X509Certificate(block);
          } catch (err) {
            throw new ConfigElementError(
              `invalid certificate: ${(err as Error).message}`,
              'tls.ca',
            );
          }
        }
        connect.ca = ca;
      }
      if (tls.cert !== undefined && tls.key !== undefined) {
        connect.cert = pem(tls.cert, 'tls.cert');
        connect.key = pem(tls.key, 'tls.key');
      }
      try {
        createSecureContext(connect);
      } catch (err) {
        throw new ConfigElementError(`invalid TLS material: ${(err as Error).message}`, 'tls');
      }
      connect.rejectUnauthorized = tls.insecureSkipVerify !== true;
    }
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

    /** the auth request's headers, flat */
    const authHeaders = (ctx: RequestContext): string[] => {
      const h = ctx.req.headers;
      const tokens = connectionTokens(h.connection);
      const out: string[] = [];
      for (const name in h) {
        // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are not headers upstream
        if (name.charCodeAt(0) === 0x3a) continue;
        if (REQUEST_SKIP.has(name) || FORWARDED.has(name)) continue;
        if (tokens !== null && tokens.has(name)) continue;
        if (requestAllow !== undefined && !requestAllow.has(name)) continue;
        if (name === 'traceparent' || name === 'tracestate') continue;
        const v = h[name];
        if (v === undefined) continue;
        if (typeof v === 'string') out.push(name, v);
        else for (const x of v) out.push(name, x);
      }
      const given = (name: string): string | undefined =>
        trust ? headerValue(h[name]) : undefined;
      const prior = given('x-forwarded-for');
      out.push('x-forwarded-for', prior !== undefined ? `${prior}, ${ctx.clientIp}` : ctx.clientIp);
      out.push('x-forwarded-method', given('x-forwarded-method') ?? ctx.method);
      out.push('x-forwarded-proto', given('x-forwarded-proto') ?? ctx.scheme);
      out.push('x-forwarded-host', given('x-forwarded-host') ?? ctx.rawHost);
      out.push('x-forwarded-uri', given('x-forwarded-uri') ?? ctx.target());
      out.push('x-forwarded-port', given('x-forwarded-port') ?? portOf(ctx));
      out.push('x-real-ip', given('x-real-ip') ?? ctx.clientIp);
      // the auth call belongs to the request's trace, whatever authRequestHeaders lets through
      appendTraceContext(ctx, out);
      return out;
    };

    /** relays a refusing auth answer to the client */
    const refuse = (ctx: RequestContext, res: Dispatcher.ResponseData, body: Buffer): void => {
      const out: string[] = [];
      for (const name in res.headers) {
        if (RESPONSE_SKIP.has(name) || name === 'location') continue;
        const v = res.headers[name];
        if (v === undefined) continue;
        if (typeof v === 'string') out.push(name, v);
        else for (const x of v) out.push(name, x);
      }
      const location = headerValue(res.headers.location);
      if (location !== undefined && location !== '') {
        if (preserveLocation) out.push('location', location);
        else {
          // as Go's Response.Location(): relative to the auth request's URL
          let resolved: string;
          try {
            resolved = new URL(location, addressHref).href;
          } catch {
            build.logger.debug({ location }, 'forwardAuth: unusable Location from the auth server');
            sendStatus(ctx.writer, 500);
            return;
          }
          out.push('location', resolved);
        }
      }
      out.push('content-length', String(body.length));
      // the auth server's answer is upstream input: a head Node refuses is a 502, never a throw
      const refused = writeUpstreamHead(ctx, res.statusCode, out, false);
      if (refused !== null) {
        build.logger.debug(
          { reason: refused },
          'forwardAuth: unusable response from the auth server',
        );
        sendStatus(ctx.writer, 502);
        return;
      }
      ctx.writer.end(body);
    };

    /** 2xx: copy the auth headers onto the request and go on */
    const admit = (
      ctx: RequestContext,
      res: Dispatcher.ResponseData,
      next: (c: RequestContext) => void,
    ): void => {
      const h = ctx.req.headers;
      if (userHeader !== undefined) {
        const u = res.headers[userHeader];
        if (typeof u === 'string') ctx.user = u;
      }
      for (const name of responseHeaders) {
        // the client's value never survives, whether or not the auth server sets one
        delete h[name];
        const v = res.headers[name];
        if (v !== undefined) (h as Record<string, string | string[]>)[name] = v;
      }
      if (responseRegex !== undefined) {
        for (const name of Object.keys(h)) if (responseRegex.test(canonical(name))) delete h[name];
        for (const name in res.headers) {
          const v = res.headers[name];
          if (v !== undefined && responseRegex.test(canonical(name)))
            (h as Record<string, string | string[]>)[name] = v;
        }
      }
      if (authCookies.size > 0) {
        const set = res.headers['set-cookie'];
        const given = set === undefined ? [] : typeof set === 'string' ? [set] : set;
        if (given.length > 0) {
          const mine = given.filter((c) => authCookies.has(cookieName(c)));
          (ctx.responseHeaderHooks ??= []).push((_c, _s, headers) => {
            // upstream cookies of the listed names give way to the auth server's
            for (let i = headers.length - 2; i >= 0; i -= 2) {
              if (
                headers[i]!.toLowerCase() === 'set-cookie' &&
                authCookies.has(cookieName(headers[i + 1]!))
              )
                headers.splice(i, 2);
            }
            for (const c of mine) headers.push('set-cookie', c);
          });
        }
      }
      next(ctx);
    };

    return (next) => (ctx) => {
      void (async () => {
        let body: Buffer | null = null;
        if (forwardBody) {
          try {
            body = await readBody(ctx, maxBodySize);
          } catch (err) {
            if (ctx.clientGone || ctx.writer.destroyed) return;
            if (err instanceof BodyTooLarge) {
              build.logger.debug({ maxBodySize }, 'forwardAuth: request body too large');
              // the rest of the body is not read: close the connection after answering
              ctx.res.shouldKeepAlive = false;
              sendStatus(ctx.writer, 401);
            } else sendStatus(ctx.writer, 500);
            return;
          }
          // the upstream gets the body that was read here
          if (body !== null) {
            ctx.body = body;
            if (body.length === 0) body = null;
          }
        }
        const abort = new AbortController();
        const onClose = (): void => abort.abort();
        ctx.res.once('close', onClose);
        let res: Dispatcher.ResponseData;
        let resBody: Buffer;
        try {
          res = await pool.request({
            path,
            method: (preserveMethod ? ctx.method : 'GET') as Dispatcher.HttpMethod,
            headers: authHeaders(ctx),
            body,
            signal: abort.signal,
          });
          const chunks: Buffer[] = [];
          let size = 0;
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            size += chunk.length;
            if (maxResponseBodySize >= 0 && size > maxResponseBodySize) {
              res.body.destroy();
              throw new Error('auth response body too large');
            }
            chunks.push(chunk);
          }
          resBody = Buffer.concat(chunks, size);
        } catch (err) {
          if (ctx.clientGone || ctx.writer.destroyed) return;
          build.logger.debug({ err, address: addressHref }, 'forwardAuth: auth server call failed');
          sendStatus(ctx.writer, 500);
          return;
        } finally {
          ctx.res.off('close', onClose);
        }
        if (ctx.clientGone || ctx.writer.destroyed) return;
        if (res.statusCode < 200 || res.statusCode >= 300) refuse(ctx, res, resBody);
        else admit(ctx, res, next);
      })().catch((err: unknown) => {
        build.logger.error({ err }, 'forwardAuth: unexpected failure');
        if (!ctx.writer.destroyed) sendStatus(ctx.writer, 500);
      });
    };
  },
};
