/*
 * Headers: Traefik's headers middleware — custom request/response headers,
 * CORS (rs/cors-style options, preflights answered here) and the security
 * headers of unrolled/secure (allowed hosts, HSTS, frame options, CSP, ...).
 *
 * Why a writer wrapper rather than ctx.responseHeaderHooks: Traefik applies
 * these edits in a response modifier wrapped around the ResponseWriter, so
 * they reach every response that passes through this point of the chain:
 * proxied ones, error pages, and statuses written by inner middlewares
 * (basicAuth's 401, rateLimit's 429). One wrapper at writeHead covers all of
 * those exactly once, and in Traefik's order relative to other wrappers
 * (compress, errors): a hook would run before inner wrappers saw the head.
 *
 * Everything that depends only on the configuration (header names, values,
 * the STS value, regexes, lower-cased lookup sets) is computed in the
 * factory; a request only filters the header list once and pushes.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import type { RequestContext, ResponseWriter } from '../src/kernel/context.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import { compileRe2, type GoRegexp } from '../src/rules/regex.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  headers as schema,
  type HeadersOptions as Options,
} from '../src/config/schema/middlewares/response.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// field-value: visible ASCII, space, tab and obs-text; never CR/LF (header injection)
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function checkHeaderMap(map: Record<string, string> | undefined, option: string): void {
  if (map === undefined) return;
  for (const [name, value] of Object.entries(map)) {
    if (!TOKEN.test(name))
      throw new ConfigElementError(`"${name}" is not a valid header name`, `${option}.${name}`);
    if (!FIELD_VALUE.test(value))
      throw new ConfigElementError(
        'header values must not contain control characters',
        `${option}.${name}`,
      );
  }
}

function checkValue(value: string | undefined, option: string): void {
  if (value !== undefined && !FIELD_VALUE.test(value))
    throw new ConfigElementError('header values must not contain control characters', option);
}

/** The response-header edits for one TLS state, precomputed. */
interface ResponseEdits {
  /** lower-cased names whose existing values are dropped */
  replace: Set<string>;
  /** flat [name, value, ...] pushed after the drop */
  push: string[];
}

function buildEdits(ordered: Map<string, [string, string | null]>): ResponseEdits {
  const replace = new Set<string>();
  const push: string[] = [];
  for (const [lower, [name, value]] of ordered) {
    replace.add(lower);
    if (value !== null) push.push(name, value);
  }
  return { replace, push };
}

interface Compiled {
  requestEdits: [lower: string, value: string][];
  hostOverride: string | undefined;
  cors: boolean;
  preflightHeaders: string[];
  originList: string[];
  originAny: boolean;
  originRegexes: GoRegexp[];
  addVary: boolean;
  allowedHosts: Set<string> | null;
  hostsProxyHeaders: string[];
  sslProxyHeaders: [string, string][];
  editsTls: ResponseEdits;
  editsPlain: ResponseEdits;
}

function compile(o: Options): Compiled {
  checkHeaderMap(o.customRequestHeaders, 'customRequestHeaders');
  checkHeaderMap(o.customResponseHeaders, 'customResponseHeaders');
  checkHeaderMap(o.sslProxyHeaders, 'sslProxyHeaders');
  for (const k of [
    'customFrameOptionsValue',
    'customBrowserXSSValue',
    'contentSecurityPolicy',
    'contentSecurityPolicyReportOnly',
    'publicKey',
    'referrerPolicy',
    'permissionsPolicy',
  ] as const)
    checkValue(o[k], k);
  for (const k of [
    'accessControlAllowHeaders',
    'accessControlAllowMethods',
    'accessControlExposeHeaders',
    'accessControlAllowOriginList',
  ] as const)
    for (const [i, v] of (o[k] ?? []).entries()) checkValue(v, `${k}[${i}]`);
  for (const [i, v] of (o.hostsProxyHeaders ?? []).entries())
    if (!TOKEN.test(v))
      throw new ConfigElementError(`"${v}" is not a valid header name`, `hostsProxyHeaders[${i}]`);

  // RE2, linear time: the pattern is a label and the Origin header is the client's (issue 11)
  const originRegexes = (o.accessControlAllowOriginListRegex ?? []).map((re, i) => {
    try {
      return compileRe2(re);
    } catch (err) {
      throw new ConfigElementError(
        `invalid regular expression ${JSON.stringify(re)}: ${(err as Error).message}`,
        `accessControlAllowOriginListRegex[${i}]`,
        { cause: err },
      );
    }
  });

  const cors =
    o.accessControlAllowCredentials === true ||
    (o.accessControlAllowHeaders?.length ?? 0) > 0 ||
    (o.accessControlAllowMethods?.length ?? 0) > 0 ||
    (o.accessControlAllowOriginList?.length ?? 0) > 0 ||
    originRegexes.length > 0 ||
    (o.accessControlExposeHeaders?.length ?? 0) > 0 ||
    (o.accessControlMaxAge ?? 0) !== 0 ||
    o.addVaryHeader === true;

  const dev = o.isDevelopment === true;
  const secure =
    (o.allowedHosts?.length ?? 0) > 0 ||
    (o.hostsProxyHeaders?.length ?? 0) > 0 ||
    Object.keys(o.sslProxyHeaders ?? {}).length > 0 ||
    (o.stsSeconds ?? 0) !== 0 ||
    o.stsIncludeSubdomains === true ||
    o.stsPreload === true ||
    o.forceSTSHeader === true ||
    o.frameDeny === true ||
    !!o.customFrameOptionsValue ||
    o.contentTypeNosniff === true ||
    o.browserXssFilter === true ||
    !!o.customBrowserXSSValue ||
    !!o.contentSecurityPolicy ||
    !!o.contentSecurityPolicyReportOnly ||
    !!o.publicKey ||
    !!o.referrerPolicy ||
    !!o.permissionsPolicy ||
    dev;
  const custom =
    Object.keys(o.customRequestHeaders ?? {}).length > 0 ||
    Object.keys(o.customResponseHeaders ?? {}).length > 0;
  if (!cors && !secure && !custom)
    throw new ConfigElementError('no header option is set: the middleware would do nothing');

  // request side: Host is not a header here (the router keeps it apart), as Go keeps req.Host apart
  const requestEdits: [string, string][] = [];
  let hostOverride: string | undefined;
  for (const [name, value] of Object.entries(o.customRequestHeaders ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'host') {
      // Go's Header.Del("Host") does nothing either: the Host is not among the headers
      if (value !== '') hostOverride = value;
    } else requestEdits.push([lower, value]);
  }

  // response side, in Traefik's order: secure headers, then custom ones (which may override or
  // delete them), then the static CORS ones; a later entry for the same name wins
  const build = (tls: boolean): ResponseEdits => {
    const m = new Map<string, [string, string | null]>();
    const set = (name: string, value: string | null) => {
      const lower = name.toLowerCase();
      m.delete(lower);
      m.set(lower, [name, value]);
    };
    if ((o.stsSeconds ?? 0) !== 0 && (tls || o.forceSTSHeader === true) && !dev) {
      let v = `max-age=${o.stsSeconds}`;
      if (o.stsIncludeSubdomains) v += '; includeSubDomains';
      if (o.stsPreload) v += '; preload';
      set('Strict-Transport-Security', v);
    }
    if (o.customFrameOptionsValue) set('X-Frame-Options', o.customFrameOptionsValue);
    else if (o.frameDeny) set('X-Frame-Options', 'DENY');
    if (o.contentTypeNosniff) set('X-Content-Type-Options', 'nosniff');
    if (o.customBrowserXSSValue) set('X-XSS-Protection', o.customBrowserXSSValue);
    else if (o.browserXssFilter) set('X-XSS-Protection', '1; mode=block');
    if (o.publicKey && tls && !dev) set('Public-Key-Pins', o.publicKey);
    if (o.contentSecurityPolicy) set('Content-Security-Policy', o.contentSecurityPolicy);
    if (o.contentSecurityPolicyReportOnly)
      set('Content-Security-Policy-Report-Only', o.contentSecurityPolicyReportOnly);
    if (o.referrerPolicy) set('Referrer-Policy', o.referrerPolicy);
    if (o.permissionsPolicy) set('Permissions-Policy', o.permissionsPolicy);
    for (const [name, value] of Object.entries(o.customResponseHeaders ?? {}))
      set(name, value === '' ? null : value);
    if (o.accessControlAllowCredentials) set('Access-Control-Allow-Credentials', 'true');
    if ((o.accessControlExposeHeaders?.length ?? 0) > 0)
      set('Access-Control-Expose-Headers', o.accessControlExposeHeaders!.join(','));
    return buildEdits(m);
  };

  const preflightHeaders: string[] = [];
  if (o.accessControlAllowCredentials)
    preflightHeaders.push('Access-Control-Allow-Credentials', 'true');
  if ((o.accessControlAllowHeaders?.length ?? 0) > 0)
    preflightHeaders.push('Access-Control-Allow-Headers', o.accessControlAllowHeaders!.join(','));
  if ((o.accessControlAllowMethods?.length ?? 0) > 0)
    preflightHeaders.push('Access-Control-Allow-Methods', o.accessControlAllowMethods!.join(','));
  preflightHeaders.push('Access-Control-Max-Age', String(o.accessControlMaxAge ?? 0));

  const originList = o.accessControlAllowOriginList ?? [];
  return {
    requestEdits,
    hostOverride,
    cors,
    preflightHeaders,
    originList,
    originAny: originList.includes('*'),
    originRegexes,
    addVary: o.addVaryHeader === true,
    allowedHosts:
      (o.allowedHosts?.length ?? 0) > 0 && !dev
        ? new Set(o.allowedHosts!.map((h) => h.toLowerCase()))
        : null,
    hostsProxyHeaders: (o.hostsProxyHeaders ?? []).map((h) => h.toLowerCase()),
    sslProxyHeaders: Object.entries(o.sslProxyHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    editsTls: build(true),
    editsPlain: build(false),
  };
}

/**
 * The Access-Control-Allow-Origin value for a request's Origin, or undefined
 * when it is not allowed. As in Traefik, the first list entry that is `*` or
 * equal to the origin is sent as written (so `*` answers `*`); a regex match
 * answers the origin itself.
 */
function allowedOrigin(c: Compiled, origin: string): string | undefined {
  for (const item of c.originList) if (item === '*' || item === origin) return item;
  for (const re of c.originRegexes) if (re.test(origin)) return origin;
  return undefined;
}

function applyResponseEdits(
  c: Compiled,
  edits: ResponseEdits,
  acao: string | undefined,
  headers: string[],
): string[] {
  const out: string[] = [];
  let vary: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const lower = name.toLowerCase();
    if (edits.replace.has(lower)) continue;
    if (acao !== undefined && lower === 'access-control-allow-origin') continue;
    if (c.addVary && lower === 'vary') {
      vary = vary === undefined ? headers[i + 1]! : `${vary},${headers[i + 1]!}`;
      continue;
    }
    out.push(name, headers[i + 1]!);
  }
  for (let i = 0; i < edits.push.length; i++) out.push(edits.push[i]!);
  if (acao !== undefined) out.push('Access-Control-Allow-Origin', acao);
  if (c.addVary) {
    if (vary === undefined || vary === '') out.push('Vary', 'Origin');
    else if (vary.split(',').some((t) => t.trim().toLowerCase() === 'origin'))
      out.push('Vary', vary);
    else out.push('Vary', `${vary},Origin`);
  }
  return out;
}

/** Applies the response edits to whatever response head passes through. */
class HeadersWriter extends WriterWrapper {
  constructor(
    inner: ResponseWriter,
    private readonly c: Compiled,
    private readonly edits: ResponseEdits,
    private readonly acao: string | undefined,
  ) {
    super(inner);
  }
  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    return this.inner.writeHead(
      status,
      statusText,
      applyResponseEdits(this.c, this.edits, this.acao, headers),
    );
  }
}

function headerValue(ctx: RequestContext, lower: string): string {
  const v = ctx.req.headers[lower];
  if (v === undefined) return '';
  return typeof v === 'string' ? v : (v[0] ?? '');
}

const BAD_HOST = 'Bad Host\n';

export const headers: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const c = compile(decodeOptions(schema.options, raw));

    return (next) => (ctx) => {
      const origin = headerValue(ctx, 'origin');
      if (
        c.cors &&
        ctx.method === 'OPTIONS' &&
        origin !== '' &&
        headerValue(ctx, 'access-control-request-method') !== ''
      ) {
        // a CORS preflight is answered here and never forwarded, as Traefik does
        const out = c.preflightHeaders.slice();
        const acao = allowedOrigin(c, origin);
        if (acao !== undefined) out.push('Access-Control-Allow-Origin', acao);
        out.push('Content-Length', '0');
        ctx.writer.writeHead(200, undefined, out);
        ctx.writer.end();
        return;
      }

      const h = ctx.req.headers;
      for (let i = 0; i < c.requestEdits.length; i++) {
        const [lower, value] = c.requestEdits[i]!;
        if (value === '') delete h[lower];
        else h[lower] = value;
      }
      if (c.hostOverride !== undefined) {
        // Go sets req.Host: the Host sent upstream when passHostHeader is on (the default)
        ctx.rawHost = c.hostOverride;
      }

      if (c.allowedHosts !== null) {
        let host = ctx.rawHost;
        for (const name of c.hostsProxyHeaders) {
          const v = headerValue(ctx, name);
          if (v !== '') {
            host = v;
            break;
          }
        }
        if (!c.allowedHosts.has(host.toLowerCase())) {
          // unrolled/secure's default bad-host handler: 500 "Bad Host"
          ctx.writer.writeHead(500, undefined, [
            'content-type',
            'text/plain; charset=utf-8',
            'x-content-type-options',
            'nosniff',
            'content-length',
            String(BAD_HOST.length),
          ]);
          ctx.writer.end(BAD_HOST);
          return;
        }
      }

      let tls = ctx.scheme === 'https';
      if (!tls)
        for (const [name, value] of c.sslProxyHeaders)
          if (headerValue(ctx, name) === value) {
            tls = true;
            break;
          }

      // Traefik checks the origin on every response, with or without an Origin header
      const acao = c.cors ? allowedOrigin(c, origin) : undefined;
      ctx.writer = new HeadersWriter(ctx.writer, c, tls ? c.editsTls : c.editsPlain, acao);
      next(ctx);
    };
  },
};
