/*
 * HTTPRoute and GRPCRoute rules on one listener → routers, weighted services
 * and middlewares, named as Traefik names them (httproute.go loadHTTPRoute,
 * loadWRRService, loadService, loadMiddlewares; grpcroute.go):
 *
 *   router   <kind>-<ns>-<route>-gw-<gwns>-<gw>-ep-<ep>-<rule index>-<sha256(rule)[:10 bytes]>
 *   service  <router>-wrr, children <router>-svc-<ns>-<name>-<backend index>
 *   filter   <router>-<lower-case filter type>-<filter index>
 *
 * Gateway API filters become Portico middlewares: the header modifiers,
 * RequestRedirect and URLRewrite → the internal types Traefik has for them
 * (requestHeaderModifier, responseHeaderModifier, requestRedirect,
 * URLRewrite: middlewares/gateway-*.ts, usable by this provider only),
 * RequestMirror → a mirroring service,
 * ExtensionRef to a Traefik Middleware → `<ns>-<name>@kubernetescrd`, CORS →
 * headers. A filter that cannot be honoured answers 500 on its rule (Traefik's
 * `-err-wrr`), and an invalid backend answers 500 for its share of the
 * traffic (a weighted child with `status: 500`), as the spec requires.
 */
import type { DynamicConfig, RouterConfig, ServiceConfig } from '../../../src/config/dynamic.js';
import { asArray, asRecord, asString } from '../backends.js';
import { CRD_PROVIDER, TRAEFIK_GROUP, type KubeDiagnostic } from '../objects.js';
import {
  condition,
  makeRouterName,
  normalizeName,
  quoteMeta,
  str,
  type Acc,
  type GwListener,
} from './common.js';
import { readBackendRef, resolveBackend } from './backends.js';
import { grpcMatchRule, httpMatchRule } from './match.js';
import type { Condition, GatewayProviderOptions } from './model.js';

export interface RouteInput {
  kind: 'HTTPRoute' | 'GRPCRoute';
  namespace: string;
  name: string;
  generation: number | undefined;
  spec: Record<string, unknown>;
}

/** What one route gives on one listener. */
export interface RouteBuild {
  http: NonNullable<
    Required<Pick<NonNullable<DynamicConfig['http']>, 'routers' | 'services' | 'middlewares'>>
  >;
  tcp: NonNullable<Required<Pick<NonNullable<DynamicConfig['tcp']>, 'routers' | 'services'>>>;
  /** ResolvedRefs: the first failure, else True */
  resolvedRefs: Condition;
  /** rules (or matches) dropped because a value is not supported */
  invalid: { field: string; message: string }[];
  rules: number;
  /** routers that serve their rule (not a 500 for a bad filter) */
  served: number;
  diagnostics: KubeDiagnostic[];
}

export function emptyBuild(route: { generation: number | undefined }): RouteBuild {
  return {
    http: { routers: {}, services: {}, middlewares: {} },
    tcp: { routers: {}, services: {} },
    resolvedRefs: condition('ResolvedRefs', true, 'ResolvedRefs', '', route.generation),
    invalid: [],
    rules: 0,
    served: 0,
    diagnostics: [],
  };
}

const STATUS_500 = (name: string) => ({ name, weight: 1, status: 500 });

interface PathMatch {
  type: string;
  value: string;
}

function pathMatchOf(match: unknown): PathMatch {
  const p = asRecord(asRecord(match)?.path);
  return { type: asString(p?.type) ?? 'PathPrefix', value: asString(p?.value) ?? '/' };
}

type FilterResult =
  | { ok: true; middlewares: [string, Record<string, unknown> | undefined][]; mirrors: unknown[] }
  | { ok: false; field: string; message: string };

/**
 * A header modifier filter as Traefik's HeaderModifier (set/add name → value,
 * remove), for the internal requestHeaderModifier/responseHeaderModifier
 * middlewares. Names and values are checked here, so a bad one fails its rule
 * with a diagnostic rather than the router's middleware.
 */
function headerModifier(
  raw: unknown,
  field: string,
):
  | {
      ok: true;
      edits: { set: Record<string, string>; add: Record<string, string>; remove: string[] };
    }
  | { ok: false; field: string; message: string } {
  const f = asRecord(raw);
  if (f === undefined) return { ok: false, field, message: 'the filter configuration is missing' };
  const edits = {
    set: {} as Record<string, string>,
    add: {} as Record<string, string>,
    remove: [] as string[],
  };
  for (const key of ['set', 'add'] as const) {
    for (const [i, rawH] of asArray(f[key]).entries()) {
      const h = asRecord(rawH);
      const name = str(h?.name);
      const value = asString(h?.value);
      if (
        name === undefined ||
        value === undefined ||
        !TOKEN.test(name) ||
        !FIELD_VALUE.test(value)
      )
        return {
          ok: false,
          field: `${field}.${key}[${i}]`,
          message:
            'a header needs a valid name (RFC 9110 token) and a value without control characters',
        };
      edits[key][name] = value;
    }
  }
  for (const [i, name] of asArray(f.remove).entries()) {
    if (typeof name !== 'string' || !TOKEN.test(name))
      return {
        ok: false,
        field: `${field}.remove[${i}]`,
        message: 'a header name must be an RFC 9110 token',
      };
    edits.remove.push(name);
  }
  return { ok: true, edits };
}

// what the header modifier middlewares accept (middlewares/gateway-header-modifier.ts)
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// a PreciseHostname: no wildcard (what the redirect and rewrite middlewares accept)
const HOSTNAME = /^[A-Za-z0-9.-]+$/;

/**
 * RequestRedirect as Traefik's internal requestRedirect middleware
 * (pkg/middlewares/gatewayapi/redirect): it always answers, with the filter's
 * status. The port is decided here, where the listener is known, as the spec
 * derives it (HTTPRequestRedirectFilter.Port): the filter's port; else, with
 * a scheme, that scheme's well-known port ("": none in Location); else the
 * listener's port. The middleware leaves 80 (http) and 443 (https) out.
 */
function redirect(
  raw: unknown,
  field: string,
  pm: PathMatch,
  listener: GwListener,
): Record<string, unknown> | { field: string; message: string } {
  const f = asRecord(raw);
  if (f === undefined) return { field, message: 'the filter configuration is missing' };
  const scheme = str(f.scheme)?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https')
    return {
      field: `${field}.scheme`,
      message: `scheme ${JSON.stringify(scheme)} is not http or https`,
    };
  const hostname = str(f.hostname);
  if (hostname !== undefined && !HOSTNAME.test(hostname))
    return { field: `${field}.hostname`, message: 'hostname is not a DNS name' };
  const port = f.port;
  if (
    port !== undefined &&
    (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
  )
    return { field: `${field}.port`, message: 'port must be 1-65535' };
  const code = f.statusCode ?? 302;
  if (code !== 301 && code !== 302 && code !== 303 && code !== 307 && code !== 308)
    return {
      field: `${field}.statusCode`,
      message: `status code ${String(code)} is not a redirect status`,
    };
  let portOption: string | undefined;
  if (typeof port === 'number') portOption = String(port);
  else if (scheme !== undefined) portOption = '';
  else if (listener.port > 0) portOption = String(listener.port);
  const out: Record<string, unknown> = {};
  if (scheme !== undefined) out.scheme = scheme;
  if (hostname !== undefined) out.hostname = hostname;
  if (portOption !== undefined) out.port = portOption;
  const pathMod = asRecord(f.path);
  if (pathMod !== undefined) {
    const r = pathModifier(pathMod, `${field}.path`, pm);
    if ('message' in r) return r;
    Object.assign(out, r);
  }
  out.statusCode = code;
  return { requestRedirect: out };
}

/**
 * ReplaceFullPath as `path`; ReplacePrefixMatch as `path` with the rule's
 * PathPrefix value in `pathPrefix` (the middlewares replace whole path
 * elements, as the spec's table says).
 */
function pathModifier(
  m: Record<string, unknown>,
  field: string,
  pm: PathMatch,
): { path: string; pathPrefix?: string } | { field: string; message: string } {
  const type = asString(m.type);
  if (type === 'ReplaceFullPath') {
    const full = asString(m.replaceFullPath);
    if (full === undefined || !full.startsWith('/'))
      return {
        field: `${field}.replaceFullPath`,
        message: 'replaceFullPath must be a path starting with "/"',
      };
    return { path: full };
  }
  if (type === 'ReplacePrefixMatch') {
    const repl = asString(m.replacePrefixMatch);
    if (repl === undefined || !repl.startsWith('/'))
      return {
        field: `${field}.replacePrefixMatch`,
        message: 'replacePrefixMatch must be a path starting with "/"',
      };
    if (pm.type !== 'PathPrefix')
      return { field: `${field}.type`, message: 'ReplacePrefixMatch needs a PathPrefix match' };
    return { path: repl, pathPrefix: pm.value };
  }
  return {
    field: `${field}.type`,
    message: `path modifier type ${JSON.stringify(type ?? null)} is not ReplaceFullPath or ReplacePrefixMatch`,
  };
}

/** URLRewrite as Traefik's internal URLRewrite middleware: Host and path in one. */
function urlRewrite(
  raw: unknown,
  field: string,
  pm: PathMatch,
): Record<string, unknown> | { field: string; message: string } {
  const f = asRecord(raw);
  if (f === undefined || (f.path === undefined && f.hostname === undefined))
    return { field, message: 'empty configuration' };
  const out: Record<string, unknown> = {};
  const hostname = str(f.hostname);
  if (hostname !== undefined) {
    if (!HOSTNAME.test(hostname))
      return { field: `${field}.hostname`, message: 'hostname is not a DNS name' };
    out.hostname = hostname;
  }
  const pathMod = asRecord(f.path);
  if (pathMod !== undefined) {
    const r = pathModifier(pathMod, `${field}.path`, pm);
    if ('message' in r) return r;
    Object.assign(out, r);
  }
  return { URLRewrite: out };
}

function cors(
  raw: unknown,
  field: string,
): Record<string, unknown> | { field: string; message: string } {
  const f = asRecord(raw);
  if (f === undefined) return { field, message: 'the filter configuration is missing' };
  const strings = (v: unknown) => asArray(v).filter((x): x is string => typeof x === 'string');
  const origins: string[] = [];
  const originRegex: string[] = [];
  for (const o of strings(f.allowOrigins)) {
    const star = o.indexOf('*');
    if (star < 0) origins.push(o);
    else if (o === '*') originRegex.push('.*');
    else originRegex.push(`^${quoteMeta(o.slice(0, star))}.*${quoteMeta(o.slice(star + 1))}$`);
  }
  return {
    headers: {
      accessControlAllowCredentials: f.allowCredentials === true,
      ...(origins.length > 0 ? { accessControlAllowOriginList: origins } : {}),
      ...(originRegex.length > 0 ? { accessControlAllowOriginListRegex: originRegex } : {}),
      accessControlAllowMethods: strings(f.allowMethods),
      accessControlAllowHeaders: strings(f.allowHeaders),
      accessControlExposeHeaders: strings(f.exposeHeaders),
      ...(typeof f.maxAge === 'number' ? { accessControlMaxAge: f.maxAge } : {}),
    },
  };
}

const GRPC_FILTERS = new Set([
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestMirror',
  'ExtensionRef',
]);

function loadFilters(
  route: RouteInput,
  routerName: string,
  filters: unknown,
  field: string,
  pm: PathMatch,
  listener: GwListener,
): FilterResult {
  const middlewares: [string, Record<string, unknown> | undefined][] = [];
  const mirrors: unknown[] = [];
  for (const [i, raw] of asArray(filters).entries()) {
    const f = asRecord(raw);
    const ff = `${field}[${i}]`;
    const type = asString(f?.type) ?? '';
    const name = `${routerName}-${type.toLowerCase()}-${i}`;
    if (route.kind === 'GRPCRoute' && !GRPC_FILTERS.has(type))
      return {
        ok: false,
        field: `${ff}.type`,
        message: `unsupported filter ${JSON.stringify(type)}`,
      };
    const fail = (r: { field: string; message: string }): FilterResult => ({ ok: false, ...r });
    switch (type) {
      case 'RequestHeaderModifier':
      case 'ResponseHeaderModifier': {
        const key =
          type === 'RequestHeaderModifier' ? 'requestHeaderModifier' : 'responseHeaderModifier';
        const edits = headerModifier(f?.[key], `${ff}.${key}`);
        if (!edits.ok) return edits;
        middlewares.push([name, { [key]: edits.edits }]);
        break;
      }
      case 'RequestRedirect': {
        const r = redirect(f?.requestRedirect, `${ff}.requestRedirect`, pm, listener);
        if ('message' in r) return fail(r as { field: string; message: string });
        middlewares.push([name, r]);
        break;
      }
      case 'URLRewrite': {
        const r = urlRewrite(f?.urlRewrite, `${ff}.urlRewrite`, pm);
        if ('message' in r) return fail(r as { field: string; message: string });
        middlewares.push([name, r]);
        break;
      }
      case 'CORS': {
        const r = cors(f?.cors, `${ff}.cors`);
        if ('message' in r) return fail(r as { field: string; message: string });
        middlewares.push([name, r]);
        break;
      }
      case 'RequestMirror':
        mirrors.push({ raw: f?.requestMirror, field: `${ff}.requestMirror`, index: i });
        break;
      case 'ExtensionRef': {
        const ref = asRecord(f?.extensionRef);
        const refName = str(ref?.name);
        if (ref?.group !== TRAEFIK_GROUP || ref.kind !== 'Middleware' || refName === undefined)
          return fail({
            field: `${ff}.extensionRef`,
            message: `unsupported filter extension ref ${String(ref?.group)}/${String(ref?.kind)}/${String(ref?.name)} (only ${TRAEFIK_GROUP}/Middleware)`,
          });
        // a Traefik Middleware of the route's namespace, as the CRD provider names it
        middlewares.push([
          `${normalizeName(`${route.namespace}-${refName}`)}@${CRD_PROVIDER}`,
          undefined,
        ]);
        break;
      }
      default:
        return {
          ok: false,
          field: `${ff}.type`,
          message: `unsupported filter ${JSON.stringify(type)}`,
        };
    }
  }
  return { ok: true, middlewares, mirrors };
}

/** HTTPRoute/GRPCRoute rules on one listener (Traefik's loadHTTPRoute / loadGRPCRoute). */
export function buildHttpRoute(
  acc: Acc,
  opts: GatewayProviderOptions,
  route: RouteInput,
  listener: GwListener,
  hostnames: string[],
): RouteBuild {
  const out = emptyBuild(route);
  const rules = asArray(route.spec.rules);
  out.rules = rules.length;
  const grpc = route.kind === 'GRPCRoute';
  const setResolved = (reason: string, message: string) => {
    if (out.resolvedRefs.status === 'True')
      out.resolvedRefs = condition('ResolvedRefs', false, reason, message, route.generation);
  };
  const diag = (field: string, message: string, level: 'error' | 'warning' = 'error') =>
    out.diagnostics.push({
      kind: route.kind,
      namespace: route.namespace,
      name: route.name,
      field,
      message,
      level,
    });

  for (const [ri, rawRule] of rules.entries()) {
    const rf = `spec.rules[${ri}]`;
    const rule = asRecord(rawRule) ?? {};
    const routeKey = normalizeName(
      `${route.kind.toLowerCase()}-${route.namespace}-${route.name}-gw-${listener.gatewayNamespace}-${listener.gatewayName}-ep-${listener.epName ?? ''}-${ri}`,
    );
    // GEP-1742 timeouts are not enforced (Traefik neither): said, never silently dropped
    const timeouts = asRecord(rule.timeouts);
    for (const t of ['request', 'backendRequest'])
      if (timeouts?.[t] !== undefined)
        diag(
          `${rf}.timeouts.${t}`,
          `not enforced by Portico (HTTPRoute timeouts, GEP-1742): the rule is served without it`,
          'warning',
        );
    const rawMatches = asArray(rule.matches);
    const matches: unknown[] = rawMatches.length > 0 ? rawMatches : [undefined];
    for (const [mi, match] of matches.entries()) {
      const mf = `${rf}.matches[${mi}]`;
      const built = grpc
        ? grpcMatchRule(hostnames, match, mf)
        : httpMatchRule(hostnames, match, mf);
      if (!built.ok) {
        out.invalid.push({ field: built.field, message: built.message });
        diag(built.field, built.message);
        continue;
      }
      const routerName = makeRouterName(built.rule, routeKey);
      const router: RouterConfig = {
        rule: built.rule,
        priority: grpc ? built.priority : built.priority + rules.length - ri,
        entryPoints: listener.epName !== undefined ? [listener.epName] : [],
        service: '',
      };
      if (listener.protocol === 'HTTPS') router.tls = {};
      const pm = grpc ? { type: 'PathPrefix', value: '/' } : pathMatchOf(match);
      const filters = loadFilters(route, routerName, rule.filters, `${rf}.filters`, pm, listener);
      if (!filters.ok) {
        diag(filters.field, filters.message);
        out.invalid.push({ field: filters.field, message: filters.message });
        const errName = `${routerName}-err-wrr`;
        out.http.services[errName] = {
          weighted: { services: [STATUS_500(`invalid-${route.kind.toLowerCase()}-filter`)] },
        };
        router.service = errName;
        out.http.routers[routerName] = router;
        continue;
      }
      const mws: string[] = [];
      for (const [name, config] of filters.middlewares) {
        if (config !== undefined) out.http.middlewares[name] = config;
        mws.push(name);
      }
      // Traefik (isInternalService): a lone TraefikService `x@internal` is the router's service
      const refs = asArray(rule.backendRefs);
      const lone = refs.length === 1 ? readBackendRef(refs[0], route.namespace) : undefined;
      if (
        lone !== undefined &&
        lone.group === TRAEFIK_GROUP &&
        lone.kind === 'TraefikService' &&
        lone.name.endsWith('@internal')
      ) {
        if (mws.length > 0) router.middlewares = mws;
        router.service = lone.name;
        out.http.routers[routerName] = router;
        out.served++;
        continue;
      }
      let service = loadWrr(
        out,
        acc,
        opts,
        route,
        routerName,
        rule.backendRefs,
        `${rf}.backendRefs`,
        grpc,
        setResolved,
        diag,
        mws,
      );
      if (filters.mirrors.length > 0)
        service = loadMirrors(
          out,
          acc,
          opts,
          route,
          routerName,
          service,
          filters.mirrors,
          grpc,
          setResolved,
          diag,
        );
      if (mws.length > 0) router.middlewares = mws;
      router.service = service;
      out.http.routers[routerName] = router;
      out.served++;
    }
  }
  return out;
}

function loadWrr(
  out: RouteBuild,
  acc: Acc,
  opts: GatewayProviderOptions,
  route: RouteInput,
  routerName: string,
  rawRefs: unknown,
  field: string,
  grpc: boolean,
  setResolved: (reason: string, message: string) => void,
  diag: (field: string, message: string, level?: 'error' | 'warning') => void,
  routerMiddlewares: string[],
): string {
  const name = `${routerName}-wrr`;
  const children: { name: string; weight: number; status?: number }[] = [];
  const refs = asArray(rawRefs);
  for (const [bi, raw] of refs.entries()) {
    const bf = `${field}[${bi}]`;
    const ref = readBackendRef(raw, route.namespace);
    if (ref === undefined) {
      setResolved('InvalidKind', 'a backendRef needs a name');
      diag(bf, 'a backendRef needs a name');
      children.push(STATUS_500(`${routerName}-svc-invalid-${bi}`));
      continue;
    }
    const svcName = `${routerName}-svc-${ref.namespace}-${ref.name}-${bi}`;
    // filters of one backendRef: on the router when it is the only backend
    // (the same requests); with several, Portico cannot run middlewares per
    // weighted child, so they are refused for that backend
    const bfilters = asArray(asRecord(raw)?.filters);
    if (bfilters.length > 0) {
      if (refs.length > 1) {
        const msg = 'filters on a backendRef are supported only when the rule has one backendRef';
        setResolved('UnsupportedValue', msg);
        diag(`${bf}.filters`, msg);
        children.push({ name: svcName, weight: ref.weight, status: 500 });
        continue;
      }
      const lf = loadFilters(
        route,
        svcName,
        bfilters,
        `${bf}.filters`,
        { type: 'PathPrefix', value: '/' },
        { protocol: 'HTTP' } as GwListener,
      );
      if (!lf.ok) {
        setResolved('InvalidKind', lf.message);
        diag(lf.field, lf.message);
        children.push({ name: svcName, weight: ref.weight, status: 500 });
        continue;
      }
      for (const [mname, config] of lf.middlewares) {
        if (config !== undefined) out.http.middlewares[mname] = config;
        routerMiddlewares.push(mname);
      }
    }
    const r = resolveBackend(acc, opts, route.kind, route.namespace, ref, grpc ? 'grpc' : 'http');
    if (!r.ok) {
      setResolved(r.reason, r.message);
      diag(`${bf}.name`, r.message);
      children.push({ name: svcName, weight: ref.weight, status: 500 });
      continue;
    }
    if (r.kind === 'named') {
      children.push({ name: r.service, weight: ref.weight });
      continue;
    }
    const svc: ServiceConfig = { loadBalancer: { servers: r.urls.map((url) => ({ url })) } };
    out.http.services[svcName] = svc;
    children.push({ name: svcName, weight: ref.weight });
  }
  // no backend, or all weights 0: every request gets the spec's 500
  const live = children.filter((c) => c.weight > 0);
  out.http.services[name] = {
    weighted: { services: live.length > 0 ? live : [STATUS_500(`${routerName}-no-backend`)] },
  };
  return name;
}

function loadMirrors(
  out: RouteBuild,
  acc: Acc,
  opts: GatewayProviderOptions,
  route: RouteInput,
  routerName: string,
  main: string,
  mirrors: unknown[],
  grpc: boolean,
  setResolved: (reason: string, message: string) => void,
  diag: (field: string, message: string, level?: 'error' | 'warning') => void,
): string {
  const list: { name: string; percent?: number }[] = [];
  for (const m of mirrors) {
    const { raw, field, index: i } = m as { raw: unknown; field: string; index: number };
    const f = asRecord(raw);
    const ref = readBackendRef(f?.backendRef, route.namespace);
    if (ref === undefined) {
      setResolved('InvalidKind', 'a mirror needs a backendRef with a name');
      diag(`${field}.backendRef`, 'a mirror needs a backendRef with a name');
      continue;
    }
    const r = resolveBackend(acc, opts, route.kind, route.namespace, ref, grpc ? 'grpc' : 'http');
    if (!r.ok) {
      setResolved(r.reason, r.message);
      diag(`${field}.backendRef`, r.message);
      continue;
    }
    // Gateway API mirrors every request unless percent/fraction says otherwise
    // (Portico's mirror percent defaults to 0, as Traefik's)
    let percent = 100;
    if (typeof f?.percent === 'number') percent = Math.max(0, Math.min(100, Math.round(f.percent)));
    const fraction = asRecord(f?.fraction);
    if (fraction !== undefined && typeof fraction.numerator === 'number') {
      const den =
        typeof fraction.denominator === 'number' && fraction.denominator > 0
          ? fraction.denominator
          : 100;
      percent = Math.max(0, Math.min(100, Math.round((100 * fraction.numerator) / den)));
    }
    let name: string;
    if (r.kind === 'named') name = r.service;
    else {
      name = `${routerName}-requestmirror-${i}-svc-${ref.namespace}-${ref.name}`;
      out.http.services[name] = { loadBalancer: { servers: r.urls.map((url) => ({ url })) } };
    }
    list.push({ name, percent });
  }
  if (list.length === 0) return main;
  const name = `${routerName}-mirror`;
  out.http.services[name] = { mirroring: { service: main, mirrors: list } };
  return name;
}
