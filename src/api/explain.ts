/*
 * explain: which router would take a request, and why the others did not (issue #6).
 *
 * Nothing here re-implements routing. The request goes through the same steps the
 * entrypoint applies in `handle` (absolute-form split, Host check, path normalisation,
 * canonical host, X-Forwarded-* removal for untrusted clients) into a real
 * RequestContext, and the answer comes from the table's own host index and compiled
 * matchers, so the explanation is exactly what the router would do. The rule's AST is
 * used only to say *which* part of a rule failed, through the same matcher builder the
 * compiler uses (compileMatcherCall).
 *
 * Pure: no I/O. The API serves the result as JSON at /api/explain, `portico explain`
 * prints it, the dashboard shows it.
 */
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { EntryPointConfig } from '../config/static-types.js';
import { PorticoError } from '../kernel/errors.js';
import { byPriority, routesFor, type CompiledRoute, type RoutingTable } from '../table/table.js';
import { canonicalHost, RequestContext } from '../kernel/context.js';
import {
  createTrustCheck,
  dropForwardedHeaders,
  splitAbsolute,
  validHost,
} from '../server/entrypoint.js';
import { BadPathError, normaliseTarget } from '../server/path.js';
import { explainRule } from './explain-rule.js';

export { renderRuleNode } from './explain-rule.js';

export interface ExplainInput {
  /** absolute (`http://a.example:8000/x?y`) or origin-form (`/x?y`, host from the Host header) */
  url: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  entryPoint?: string;
  /** the client address ClientIP() and the trusted-IP check see; none when absent */
  clientIp?: string;
}

export interface ExplainServer {
  url: string;
  status: 'UP' | 'DOWN';
}

export interface ExplainMatch {
  router: string;
  rule: string;
  priority: number;
  /** in the order they run: the entrypoint's middlewares first, then the router's */
  middlewares: string[];
  service: string;
  servers: ExplainServer[];
  /** the entrypoint terminates TLS, so the router serves HTTPS */
  tls?: boolean;
}

export interface ExplainCandidate {
  router: string;
  rule: string;
  priority: number;
  matched: boolean;
  /** "matched", or which part of the rule failed and on what */
  reason: string;
}

export interface ExplainDisabled {
  router: string;
  errors: string[];
}

export interface ExplainResult {
  request: { entryPoint: string; method: string; host: string; path: string; query: string };
  /** the entrypoint assumed: the one given, else the one whose port the URL names, else the default */
  entryPoint: string;
  matched: ExplainMatch | null;
  /** routers of the entrypoint in evaluation order, up to and including the one that matched */
  candidates: ExplainCandidate[];
  /** routers of the entrypoint left out of the table because of errors */
  disabled: ExplainDisabled[];
  notes: string[];
}

/** A request explain cannot evaluate (not a URL, unknown entrypoint, bad parameter): a 400 for the API. */
export class ExplainError extends PorticoError {
  constructor(message: string) {
    super('PORTICO_ERR_EXPLAIN', message);
    this.name = 'ExplainError';
  }
}

// --- the request, as the entrypoint would see it -------------------------------------

interface Target {
  /** the Host header value the request carries (with port) */
  rawHost: string;
  /** origin-form target: path and query */
  target: string;
  port: number;
  urlScheme: 'http' | 'https';
}

function headerValue(headers: ExplainInput['headers'], name: string): string | undefined {
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function hostPort(rawHost: string, fallback: number): number {
  const close = rawHost.startsWith('[') ? rawHost.indexOf(']') : -1;
  const colon = rawHost.indexOf(':', close + 1);
  if (colon === -1) return fallback;
  const port = Number(rawHost.slice(colon + 1));
  return Number.isInteger(port) && port > 0 ? port : fallback;
}

/**
 * A URL as a client would send it: like curl, an explicit Host header wins over the URL's
 * authority (which then only picks the entrypoint by its port). Fragments never leave the client.
 */
function parseTarget(input: ExplainInput, notes: string[]): Target {
  let url = input.url.trim();
  const hash = url.indexOf('#');
  if (hash !== -1) {
    url = url.slice(0, hash);
    notes.push('the fragment (#...) is not sent by clients and was ignored');
  }
  const hostHeader = headerValue(input.headers, 'host');
  if (url.startsWith('/')) {
    const rawHost = hostHeader ?? '';
    return { rawHost, target: url, port: hostPort(rawHost, 80), urlScheme: 'http' };
  }
  const abs = splitAbsolute(url);
  if (abs === null) {
    throw new ExplainError(
      `invalid url ${JSON.stringify(input.url)}: expected http://host[:port]/path or /path`,
    );
  }
  const urlScheme = url.slice(0, 5).toLowerCase() === 'https' ? 'https' : 'http';
  const port = hostPort(abs.host, urlScheme === 'https' ? 443 : 80);
  if (hostHeader !== undefined && hostHeader !== abs.host) {
    notes.push(
      `the Host header ${hostHeader} is used for routing instead of the URL's ${abs.host}`,
    );
  }
  return { rawHost: hostHeader ?? abs.host, target: abs.target, port, urlScheme };
}

function chooseEntryPoint(
  entryPoints: Record<string, EntryPointConfig>,
  given: string | undefined,
  port: number,
  notes: string[],
): EntryPointConfig {
  const all = Object.values(entryPoints);
  if (given !== undefined && given !== '') {
    const ep = entryPoints[given];
    if (ep === undefined) {
      throw new ExplainError(
        `unknown entryPoint ${JSON.stringify(given)}, expected one of ${all.map((e) => e.name).join(', ') || '(none)'}`,
      );
    }
    notes.push(`entrypoint ${ep.name} was given`);
    return ep;
  }
  const byPort = all.filter((e) => e.port === port);
  if (byPort.length > 0) {
    const ep = byPort[0]!;
    const others =
      byPort.length > 1
        ? ` (also on that port: ${byPort
            .slice(1)
            .map((e) => e.name)
            .join(', ')})`
        : '';
    notes.push(
      `entrypoint ${ep.name} was chosen because it listens on the URL's port ${port}${others}`,
    );
    return ep;
  }
  // the same entrypoints a router without entryPoints lands on (see compile)
  const ep = all.find((e) => e.asDefault) ?? all.find((e) => e.name !== 'traefik') ?? all[0];
  if (ep === undefined) throw new ExplainError('no entrypoint is configured');
  notes.push(
    `no entrypoint listens on port ${port}: assumed ${ep.asDefault ? 'the default (asDefault) ' : 'the first '}entrypoint ${ep.name}; pass entryPoint to choose`,
  );
  return ep;
}

/** path and query as given, for a request refused before its path is normalised */
function rawSplit(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q === -1
    ? { path: target, query: '' }
    : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** Header lines as a client sends them, in order (Host first, like clients do). */
function rawHeaderLines(input: ExplainInput, rawHost: string): string[] {
  const raw: string[] = [];
  if (rawHost !== '') raw.push('Host', rawHost);
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (name.toLowerCase() === 'host') continue;
    for (const v of Array.isArray(value) ? value : [value]) raw.push(name, v);
  }
  return raw;
}

type HeaderFolding = { _addHeaderLines?: (lines: string[], n: number) => void };

/**
 * The IncomingMessage the matchers read, over a socket that only carries the client address.
 * Node's own header folding (repeated headers joined with ", ", cookies with "; ", duplicate
 * Host dropped) is applied through the hook its HTTP parser calls, so Header() sees what it
 * would see on a real connection.
 */
function fakeRequest(method: string, url: string, raw: string[], clientIp: string) {
  const socket = { remoteAddress: clientIp, remotePort: 0 } as unknown as Socket;
  const req = new http.IncomingMessage(socket);
  req.method = method;
  req.url = url;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const fold = (req as unknown as HeaderFolding)._addHeaderLines;
  if (typeof fold === 'function') {
    fold.call(req, raw, raw.length);
  } else {
    // a Node without the parser hook: fold the common way (", "-joined)
    req.rawHeaders = raw;
    const headers: IncomingHttpHeaders = {};
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!.toLowerCase();
      headers[k] = headers[k] === undefined ? raw[i + 1]! : `${String(headers[k])}, ${raw[i + 1]!}`;
    }
    req.headers = headers;
  }
  return req;
}

// --- the table's answer -----------------------------------------------------------------

/** Every route of the entrypoint once, in the order the router would try them. */
function allRoutes(routes: { byHost: ReadonlyMap<string, CompiledRoute[]>; any: CompiledRoute[] }) {
  const seen = new Map<string, CompiledRoute>();
  for (const r of routes.any) seen.set(r.name, r);
  for (const list of routes.byHost.values()) for (const r of list) seen.set(r.name, r);
  return [...seen.values()].sort(byPriority);
}

function candidateFor(
  table: RoutingTable,
  route: CompiledRoute,
  inLookup: boolean,
  ctx: RequestContext,
): ExplainCandidate {
  const rule = table.routers.get(route.name)?.rule ?? '';
  // the compiled matcher decides, as in findRoute; the AST only words the reason
  const matched = inLookup && route.matcher(ctx);
  const verdict = explainRule(rule, ctx);
  let reason: string;
  if (matched) reason = 'matched';
  else if (!inLookup && verdict?.ok !== false)
    reason = `not tried: the host index has no entry for host ${ctx.host || '(empty)'} for this router`;
  else if (verdict === undefined || verdict.ok) reason = 'the rule did not match';
  else reason = verdict.why;
  return { router: route.name, rule, priority: route.priority, matched, reason };
}

function matchFor(
  table: RoutingTable,
  route: CompiledRoute,
  ep: EntryPointConfig,
  notes: string[],
  tls: boolean,
): ExplainMatch {
  const info = table.routers.get(route.name);
  const service = info?.service ?? '';
  const runtime = table.serviceRuntimes.get(service);
  const servers = Object.entries(runtime?.serverStatus() ?? {}).map(([url, status]) => ({
    url,
    status,
  }));
  if (runtime !== undefined && !runtime.isUp()) {
    notes.push(`service ${service} has no server up: the request would be answered 503`);
  }
  return {
    router: route.name,
    rule: info?.rule ?? '',
    priority: route.priority,
    // compile wraps the router's chain inside the entrypoint's, so the entrypoint's run first
    middlewares: [...ep.http.middlewares, ...(info?.middlewares ?? [])],
    service,
    servers,
    tls,
  };
}

/** Routers that list the entrypoint but are not in its table, with the errors that kept them out. */
function disabledOn(table: RoutingTable, ep: string, present: Set<string>): ExplainDisabled[] {
  const out: ExplainDisabled[] = [];
  for (const info of table.routers.values()) {
    if (!info.entryPoints.includes(ep) || present.has(info.name)) continue;
    out.push({ router: info.name, errors: [...info.errors] });
  }
  return out.sort((a, b) => (a.router < b.router ? -1 : a.router > b.router ? 1 : 0));
}

function lookupNote(
  routes: { byHost: ReadonlyMap<string, CompiledRoute[]> },
  host: string,
): string {
  return routes.byHost.has(host)
    ? `host ${host} is in the host index: its routers and the routers for any host are tried by priority`
    : `no router is bound to host ${host || '(empty)'}: only the routers that match any host are tried`;
}

/**
 * Explains how `table` would route `req` on one of `entryPoints`: the router that takes it
 * (middlewares, service, servers), every router tried before it with the reason it failed,
 * and the routers left out for errors. Throws ExplainError when the input is not a request.
 */
export function explainRequest(
  table: RoutingTable,
  req: ExplainInput,
  entryPoints: Record<string, EntryPointConfig>,
): ExplainResult {
  const notes: string[] = [];
  const target = parseTarget(req, notes);
  const ep = chooseEntryPoint(entryPoints, req.entryPoint, target.port, notes);
  const method = (req.method ?? 'GET').toUpperCase();
  // every entrypoint speaks both: TLS connections reach the TLS routers, the others the rest
  const scheme = target.urlScheme === 'https' ? 'https' : 'http';
  if (ep.http.tls !== undefined && scheme === 'http') {
    notes.push(
      `entrypoint ${ep.name} has http.tls: all its routers are TLS routers, an http:// request matches none`,
    );
  }
  const host = canonicalHost(target.rawHost);
  const result: ExplainResult = {
    request: { entryPoint: ep.name, method, host, ...rawSplit(target.target) },
    entryPoint: ep.name,
    matched: null,
    candidates: [],
    disabled: [],
    notes,
  };
  const routes = (scheme === 'https' ? table.tlsEntryPoints : table.entryPoints).get(ep.name);
  const present = new Set(routes === undefined ? [] : allRoutes(routes).map((r) => r.name));
  result.disabled = disabledOn(table, ep.name, present);

  // the checks the entrypoint makes before routing (see entrypoint.ts handle)
  if (target.rawHost === '' || !validHost(target.rawHost)) {
    notes.push(
      target.rawHost === ''
        ? 'the request has no host: the entrypoint answers 400 before routing'
        : `invalid Host ${JSON.stringify(target.rawHost)}: the entrypoint answers 400 before routing`,
    );
    return result;
  }
  let split;
  try {
    split = normaliseTarget(target.target, {
      sanitize: ep.http.sanitizePath,
      encoded: ep.http.encodedCharacters,
    });
  } catch (err) {
    if (!(err instanceof BadPathError)) throw err;
    notes.push(`${err.message}: the entrypoint answers 400 before routing`);
    return result;
  }
  result.request.path = split.path;
  result.request.query = split.query;
  const ctx = new RequestContext(
    fakeRequest(method, target.target, rawHeaderLines(req, target.rawHost), req.clientIp ?? ''),
    // matchers never touch the response; explain never runs a handler
    {} as ServerResponse,
    ep.name,
    scheme,
    host,
    target.rawHost,
    split.path,
    split.query,
  );
  applyTrust(ctx, ep, req.clientIp, notes);

  if (routes === undefined) {
    notes.push(`entrypoint ${ep.name} has no routers: it answers 404`);
    return result;
  }
  routeAndExplain(table, routes, ctx, ep, result);
  return result;
}

/** X-Forwarded-* from an untrusted client are removed before routing, so Header() cannot see them. */
function applyTrust(
  ctx: RequestContext,
  ep: EntryPointConfig,
  clientIp: string | undefined,
  notes: string[],
): void {
  ctx.trusted = createTrustCheck(ep)(ctx.clientIp);
  if (ctx.trusted) return;
  const before = Object.keys(ctx.headers);
  dropForwardedHeaders(ctx.headers);
  const dropped = before.filter((h) => !(h in ctx.headers));
  if (dropped.length > 0) {
    notes.push(
      `${dropped.join(', ')} removed before routing: client IP ${clientIp || '(none given)'} is not trusted by entrypoint ${ep.name} (forwardedHeaders)`,
    );
  }
}

function routeAndExplain(
  table: RoutingTable,
  routes: { byHost: ReadonlyMap<string, CompiledRoute[]>; any: CompiledRoute[] },
  ctx: RequestContext,
  ep: EntryPointConfig,
  result: ExplainResult,
): void {
  // the routes findRoute tries: the host's and the any-host ones when the host is indexed, else the any-host ones
  const lookup = new Set(routesFor(routes, ctx.host).map((r) => r.name));
  result.notes.push(lookupNote(routes, ctx.host));
  for (const route of allRoutes(routes)) {
    const c = candidateFor(table, route, lookup.has(route.name), ctx);
    result.candidates.push(c);
    if (c.matched) {
      result.matched = matchFor(table, route, ep, result.notes, ctx.scheme === 'https');
      return;
    }
  }
  result.notes.push('no router matched: the entrypoint answers 404');
}

// --- the API's query and the CLI's arguments ------------------------------------------------

/** Splits `Name:value` (or `Name: value`) into its name and value. */
function splitHeader(line: string): [string, string] {
  const colon = line.indexOf(':');
  const name = colon === -1 ? '' : line.slice(0, colon).trim();
  if (name === '' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw new ExplainError(`invalid header ${JSON.stringify(line)}, expected Name:value`);
  }
  return [name, line.slice(colon + 1).trim()];
}

function addHeader(headers: Record<string, string | string[]>, line: string): void {
  const [name, value] = splitHeader(line);
  const prev = headers[name];
  headers[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
}

/**
 * `/api/explain?url=...&method=...&header=Name:value&entryPoint=...` → ExplainInput.
 * `header` repeats. Throws ExplainError (a 400) for a missing url or a malformed header.
 */
export function parseExplainQuery(params: URLSearchParams): ExplainInput {
  const url = params.get('url');
  if (url === null || url.trim() === '') throw new ExplainError('the url parameter is required');
  const headers: Record<string, string | string[]> = {};
  for (const line of params.getAll('header')) addHeader(headers, line);
  const input: ExplainInput = { url, headers };
  const method = params.get('method');
  if (method !== null && method !== '') input.method = method;
  const entryPoint = params.get('entryPoint');
  if (entryPoint !== null && entryPoint !== '') input.entryPoint = entryPoint;
  return input;
}

export interface ExplainArgs {
  url: string;
  method: string | undefined;
  /** as given, `Name: value` */
  headers: string[];
  entryPoint: string | undefined;
  api: string;
  json: boolean;
}

export const DEFAULT_API = 'http://127.0.0.1:8080';

const VALUE_FLAGS = new Set(['method', 'header', 'entryPoint', 'api']);

/** `portico explain URL [--method=M] [--header='N: v' ...] [--entryPoint=E] [--api=URL] [--json]` */
export function parseExplainArgs(argv: string[]): ExplainArgs {
  const args: ExplainArgs = {
    url: '',
    method: undefined,
    headers: [],
    entryPoint: undefined,
    api: DEFAULT_API,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      if (args.url !== '') throw new ExplainError(`unexpected argument ${a}: give one URL`);
      args.url = a;
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq === -1 ? a.slice(2) : a.slice(2, eq);
    if (flag === 'json' && eq === -1) {
      args.json = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) throw new ExplainError(`unknown option ${a}`);
    const value = eq === -1 ? argv[++i] : a.slice(eq + 1);
    if (value === undefined) throw new ExplainError(`option --${flag} needs a value`);
    setFlag(args, flag, value);
  }
  if (args.url === '') throw new ExplainError('missing URL');
  return args;
}

function setFlag(args: ExplainArgs, flag: string, value: string): void {
  if (flag === 'header') {
    splitHeader(value); // refuse a malformed header here, not as a 400 from the API
    args.headers.push(value);
  } else if (flag === 'method') args.method = value;
  else if (flag === 'entryPoint') args.entryPoint = value;
  else {
    if (!/^https?:\/\/[^/]/i.test(value)) {
      throw new ExplainError(`invalid --api ${value}, expected http://host:port`);
    }
    args.api = value.replace(/\/+$/, '');
  }
}

/** The API request the CLI makes. */
export function explainApiUrl(args: ExplainArgs): string {
  const q = new URLSearchParams({ url: args.url });
  if (args.method !== undefined) q.set('method', args.method);
  for (const h of args.headers) {
    const [name, value] = splitHeader(h);
    q.append('header', `${name}:${value}`);
  }
  if (args.entryPoint !== undefined) q.set('entryPoint', args.entryPoint);
  return `${args.api}/api/explain?${q.toString()}`;
}

// --- the readable form ------------------------------------------------------------------------

function formatMatch(m: ExplainMatch): string[] {
  const pad = '               ';
  const servers =
    m.servers.length === 0
      ? ['(none listed)']
      : m.servers.map((s) => `${s.status === 'UP' ? '✓' : '✗'} ${s.url} ${s.status}`);
  return [
    `✓ router ${m.router} (priority ${m.priority}${m.tls === true ? ', TLS' : ''})`,
    `  rule:        ${m.rule}`,
    `  middlewares: ${m.middlewares.length === 0 ? '(none)' : m.middlewares.join(' → ')}`,
    `  service:     ${m.service}`,
    `  servers:     ${servers[0]!}`,
    ...servers.slice(1).map((s) => pad + s),
  ];
}

/** The explanation as `portico explain` prints it. */
export function formatExplain(r: ExplainResult): string {
  const q = r.request.query === '' ? '' : `?${r.request.query}`;
  const lines = [
    `${r.request.method} ${r.request.host}${r.request.path}${q} on entrypoint ${r.entryPoint}`,
    '',
  ];
  if (r.matched === null) lines.push('✗ no router matched');
  else lines.push(...formatMatch(r.matched));
  if (r.candidates.length > 0) {
    lines.push('', 'routers tried, in order:');
    for (const c of r.candidates) {
      lines.push(
        `  ${c.matched ? '✓' : '✗'} ${c.router} [${c.priority}] ${c.rule}`,
        `      ${c.reason}`,
      );
    }
  }
  if (r.disabled.length > 0) {
    lines.push('', 'routers left out because of errors:');
    for (const d of r.disabled)
      lines.push(`  - ${d.router}: ${d.errors.join('; ') || '(no error recorded)'}`);
  }
  if (r.notes.length > 0) {
    lines.push('', 'notes:');
    for (const n of r.notes) lines.push(`  - ${n}`);
  }
  return lines.join('\n') + '\n';
}
