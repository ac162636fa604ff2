/*
 * RequestHeaderModifier / ResponseHeaderModifier: the Gateway API header
 * filters (HTTPHeaderFilter), internal types the Kubernetes Gateway provider
 * emits (Traefik: pkg/middlewares/gatewayapi/headermodifier). In Traefik's
 * order: set replaces every value, add appends, remove drops.
 *
 * `add` appends to the values a header already has. The spec's example
 * (apis/v1/httproute_types.go, HTTPHeaderFilter.Add) turns `my-header: foo`
 * plus `bar,baz` into `my-header: foo,bar,baz`: one field, comma-joined,
 * which RFC 9110 §5.3 makes equivalent to a second field. Set-Cookie cannot be
 * joined (RFC 6265 §3) and gets a field of its own; Cookie joins with "; "
 * (RFC 6265 §5.4). Host is the request's Host (`set` and `add` replace it).
 *
 * Response edits go through a writer wrapper, as the headers middleware's
 * do, so they reach every response passing this point (proxied, or answered
 * by an inner middleware), as Traefik's response modifier does.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import type { RequestContext, ResponseWriter } from '../src/kernel/context.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  requestHeaderModifier as requestSchema,
  responseHeaderModifier as responseSchema,
  type HeaderModifierOptions,
} from '../src/config/schema/middlewares/gateway.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// field-value: visible ASCII, space, tab and obs-text; never CR/LF (header injection)
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

interface Edits {
  /** [name as written, lower-case name, value] */
  set: [string, string, string][];
  add: [string, string, string][];
  /** lower-case names */
  remove: string[];
}

function compile(o: HeaderModifierOptions): Edits {
  const pairs = (map: Record<string, string> | undefined, option: string) =>
    Object.entries(map ?? {}).map(([name, value]): [string, string, string] => {
      if (!TOKEN.test(name))
        throw new ConfigElementError(`header name ${JSON.stringify(name)} is not a token`, option);
      if (!FIELD_VALUE.test(value))
        throw new ConfigElementError(`the value of ${name} has control characters`, option);
      return [name, name.toLowerCase(), value];
    });
  const remove = (o.remove ?? []).map((name) => {
    if (!TOKEN.test(name))
      throw new ConfigElementError(`header name ${JSON.stringify(name)} is not a token`, 'remove');
    return name.toLowerCase();
  });
  return { set: pairs(o.set, 'set'), add: pairs(o.add, 'add'), remove };
}

const joiner = (lower: string) => (lower === 'cookie' ? '; ' : ',');

export const requestHeaderModifier: MiddlewareDefinition = {
  type: requestSchema.type,
  description: requestSchema.description,
  options: requestSchema.options,
  providers: requestSchema.providers,
  create(raw) {
    const e = compile(decodeOptions(requestSchema.options, raw));
    return (next) => (ctx: RequestContext) => {
      const h = ctx.req.headers;
      for (const [, lower, value] of e.set) {
        // Go keeps Host in req.Host, not in the header map: the Host sent upstream
        if (lower === 'host') ctx.rawHost = value;
        else h[lower] = value;
      }
      for (const [, lower, value] of e.add) {
        if (lower === 'host') {
          ctx.rawHost = value;
          continue;
        }
        const old = h[lower];
        if (old === undefined || old === '') h[lower] = value;
        else if (Array.isArray(old)) old.push(value);
        else h[lower] = old + joiner(lower) + value;
      }
      for (const lower of e.remove) if (lower !== 'host') delete h[lower];
      next(ctx);
    };
  },
};

function editResponse(e: Edits, headers: string[]): string[] {
  const drop = new Set<string>(e.remove);
  for (const [, lower] of e.set) drop.add(lower);
  const out: string[] = [];
  // the last field of each name in `out` (its value's index): an added value goes after it
  const last = new Map<string, number>();
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i]!.toLowerCase();
    if (drop.has(lower)) continue;
    last.set(lower, out.length + 1);
    out.push(headers[i]!, headers[i + 1]!);
  }
  for (const [name, lower, value] of e.set) {
    last.set(lower, out.length + 1);
    out.push(name, value);
  }
  for (const [name, lower, value] of e.add) {
    const i = last.get(lower);
    if (i !== undefined && lower !== 'set-cookie') {
      out[i] = out[i] === '' ? value : out[i] + joiner(lower) + value;
      continue;
    }
    last.set(lower, out.length + 1);
    out.push(name, value);
  }
  if (e.remove.length === 0) return out;
  // a header both added and removed is removed: Traefik removes last
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2)
    if (!e.remove.includes(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

class HeaderModifierWriter extends WriterWrapper {
  constructor(
    inner: ResponseWriter,
    private readonly edits: Edits,
  ) {
    super(inner);
  }
  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    return this.inner.writeHead(status, statusText, editResponse(this.edits, headers));
  }
}

export const responseHeaderModifier: MiddlewareDefinition = {
  type: responseSchema.type,
  description: responseSchema.description,
  options: responseSchema.options,
  providers: responseSchema.providers,
  create(raw) {
    const e = compile(decodeOptions(responseSchema.options, raw));
    return (next) => (ctx) => {
      ctx.writer = new HeaderModifierWriter(ctx.writer, e);
      next(ctx);
    };
  },
};
