/*
 * The API's HTTP surface: `/api/*` in Traefik's shapes plus Portico's own
 * endpoints (providers, certificates, events, traffic, explain), and the
 * dashboard's static files under `/dashboard/`. All read-only: GET and HEAD.
 *
 * The handler takes plain node:http request/response objects so it serves
 * the same way inside a data-plane process (single-process mode) and in the
 * cluster primary's control server (workers forward to it).
 */
import type { IncomingMessage } from 'node:http';
import { redact } from '../config/redact.js';
import type { ApiResponse } from './response.js';
import type { ControlState, ApiEvent } from './state.js';
import {
  certificateViews,
  entryPointView,
  entryPointViews,
  middlewareViews,
  overview,
  providerViews,
  rawData,
  routerViews,
  serviceViews,
  tcpMiddlewareViews,
  tcpRouterViews,
  tcpServiceViews,
  udpRouterViews,
  udpServiceViews,
} from './views.js';
import { ExplainError, explainRequest } from './explain.js';
import { serveDashboard } from './dashboard.js';

type Res = ApiResponse;
type Json = Record<string, unknown>;

const DEFAULT_PER_PAGE = 100;

type Views = (state: ControlState) => Json[];

/**
 * The element lists per protocol, as Traefik's API routes them (pkg/api/handler.go): UDP has
 * routers and services only. One list code (criteria, paging, 404) serves all three.
 */
const LISTS: Record<'http' | 'tcp' | 'udp', Partial<Record<string, Views>>> = {
  http: { routers: routerViews, services: serviceViews, middlewares: middlewareViews },
  tcp: { routers: tcpRouterViews, services: tcpServiceViews, middlewares: tcpMiddlewareViews },
  udp: { routers: udpRouterViews, services: udpServiceViews },
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Every JSON answer leaves through here, and every one is redacted (secrets in error
 * messages, explain's echo of the caller's headers, provider diagnostics...): one rule
 * set for the whole API, whatever the endpoint (issue 11, item 8).
 */
function send(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(redact(body));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Traefik's list criteria: search, status, serviceName, middlewareName, sortBy, direction, paging. */
function listResponse(res: Res, items: Json[], q: URLSearchParams): void {
  const search = (q.get('search') ?? '').toLowerCase();
  // Traefik's searchCriterion.withStatus compares with strings.EqualFold
  const status = (q.get('status') ?? '').toLowerCase();
  const serviceName = q.get('serviceName') ?? '';
  const middlewareName = q.get('middlewareName') ?? '';
  let list = items.filter((i) => {
    if (status !== '' && String(i.status).toLowerCase() !== status) return false;
    if (serviceName !== '' && i.service !== serviceName) return false;
    if (
      middlewareName !== '' &&
      !((i.middlewares as string[] | undefined) ?? []).includes(middlewareName)
    )
      return false;
    if (search === '') return true;
    // the name, and for routers the rule, are what people search by
    return [i.name, i.rule, i.type, i.provider].some(
      (v) => typeof v === 'string' && v.toLowerCase().includes(search),
    );
  });
  const sortBy = q.get('sortBy') ?? 'name';
  const dir = q.get('direction') === 'desc' ? -1 : 1;
  list = list.sort((a, b) => {
    const x = a[sortBy] ?? '';
    const y = b[sortBy] ?? '';
    const c =
      typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return (c !== 0 ? c : String(a.name).localeCompare(String(b.name))) * dir;
  });
  const perPage = intParam(q, 'per_page', DEFAULT_PER_PAGE);
  const page = intParam(q, 'page', 1);
  const start = (page - 1) * perPage;
  if (start !== 0 && start >= list.length)
    throw new ApiError(400, `invalid request: page: ${page}, per_page: ${perPage}`);
  const next = page * perPage < list.length ? page + 1 : 1;
  send(res, 200, list.slice(start, start + perPage), { 'x-next-page': String(next) });
}

function intParam(q: URLSearchParams, name: string, dflt: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ApiError(400, `invalid request: ${name} must be a positive integer, got "${raw}"`);
  return n;
}

function byName(items: Json[], name: string, kind: string): Json {
  const found = items.find((i) => i.name === name);
  if (found === undefined) throw new ApiError(404, `${kind} not found: ${name}`);
  return found;
}

/** SSE: history after Last-Event-ID (or all kept history), then live events; traffic samples on request. */
function streamEvents(
  state: ControlState,
  req: IncomingMessage,
  res: Res,
  q: URLSearchParams,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  const write = (chunk: string): void => {
    res.write(chunk);
  };
  // events carry provider errors, which may quote configuration: redacted like any answer
  const sendEvent = (e: ApiEvent): void =>
    write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(redact(e))}\n\n`);
  write('retry: 2000\n\n');
  const last = Number(req.headers['last-event-id'] ?? q.get('after') ?? 0) || 0;
  for (const e of state.events(last)) sendEvent(e);
  const unsubscribe = state.subscribe(sendEvent);
  let stopTraffic: (() => void) | undefined;
  if (q.get('traffic') === '1' && state.traffic?.onSample) {
    stopTraffic = state.traffic.onSample((sample) =>
      write(`event: traffic\ndata: ${JSON.stringify(redact(sample))}\n\n`),
    );
  }
  // comments keep idle proxies and browsers from closing the stream
  const heartbeat = setInterval(() => write(': keep-alive\n\n'), 15_000);
  heartbeat.unref();
  res.once('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
    stopTraffic?.();
  });
}

function explain(state: ControlState, q: URLSearchParams): unknown {
  const url = q.get('url');
  if (url === null || url === '') throw new ApiError(400, 'the url parameter is required');
  const headers: Record<string, string[]> = {};
  for (const h of q.getAll('header')) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new ApiError(400, `header "${h}" must be written Name:value`);
    const name = h.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(h.slice(colon + 1).trim());
  }
  try {
    return explainRequest(
      state.table(),
      {
        url,
        method: q.get('method') ?? 'GET',
        headers,
        ...(q.get('entryPoint') ? { entryPoint: q.get('entryPoint')! } : {}),
        ...(q.get('clientIp') ? { clientIp: q.get('clientIp')! } : {}),
      },
      state.opts.staticConfig.entryPoints,
    );
  } catch (err) {
    // a bad url, entrypoint or header is the caller's error; anything else is ours (500)
    if (err instanceof ExplainError) throw new ApiError(400, err.message);
    throw err;
  }
}

function route(
  state: ControlState,
  path: string,
  q: URLSearchParams,
  req: IncomingMessage,
  res: Res,
): void {
  const sc = state.opts.staticConfig;
  const segments = path.split('/').slice(2).map(decodeURIComponent); // ['', 'api', ...]
  const [a, b, c] = segments;
  switch (a) {
    case 'version':
      return send(res, 200, {
        Version: state.opts.version,
        Codename: 'portico',
        startDate: state.startDate.toISOString(),
      });
    case 'overview':
      return send(res, 200, overview(state));
    case 'entrypoints':
      if (b === undefined || b === '') return listResponse(res, entryPointViews(sc), q);
      if (!sc.entryPoints[b]) throw new ApiError(404, `entry point not found: ${b}`);
      return send(res, 200, entryPointView(sc.entryPoints[b]));
    case 'rawdata':
      return send(res, 200, rawData(state));
    case 'http':
    case 'tcp':
    case 'udp': {
      // own keys only: /api/http/constructor is no list
      const views = b !== undefined && Object.hasOwn(LISTS[a], b) ? LISTS[a][b] : undefined;
      if (views === undefined) break;
      const items = views(state);
      if (c === undefined || c === '') return listResponse(res, items, q);
      // Traefik's messages: "router not found: x", "service not found: x", "middleware not found: x"
      return send(res, 200, byName(items, c, b!.slice(0, -1)));
    }
    case 'providers':
      if (b === undefined || b === '') return send(res, 200, providerViews(state));
      return send(res, 200, byName(providerViews(state), b, 'provider'));
    case 'certificates':
      return listResponse(
        res,
        certificateViews(state).map((c) => ({ ...c, name: (c.domains as string[])[0] ?? '' })),
        q,
      );
    case 'events':
      if (b === 'history') return send(res, 200, state.events(Number(q.get('after') ?? 0) || 0));
      if (b === undefined || b === '') return streamEvents(state, req, res, q);
      break;
    case 'traffic':
      if (state.traffic === undefined)
        throw new ApiError(404, 'traffic data needs the metrics recorder (api or metrics enabled)');
      return send(res, 200, state.traffic.traffic(intParam(q, 'window', 300)));
    case 'explain':
      return send(res, 200, explain(state, q));
    case 'ready':
      return state.ready()
        ? send(res, 200, { ready: true })
        : send(res, 503, { ready: false, message: 'no configuration applied yet' });
  }
  throw new ApiError(404, `no such API endpoint: ${path}`);
}

export type ApiHandler = (req: IncomingMessage, res: Res, target: string) => void;

/**
 * `target` is the normalised path and query the router saw (the API does not
 * re-read req.url, which may be the client's un-normalised form).
 */
export function createApiHandler(state: ControlState): ApiHandler {
  return (req, res, target) => {
    const qAt = target.indexOf('?');
    const path = qAt === -1 ? target : target.slice(0, qAt);
    const q = new URLSearchParams(qAt === -1 ? '' : target.slice(qAt + 1));
    try {
      if (path === '/' || path === '/dashboard' || path.startsWith('/dashboard/')) {
        // api.dashboard: false keeps the pages off in secure mode too (api@internal routers)
        if (state.opts.staticConfig.api?.dashboard === false)
          throw new ApiError(404, 'the dashboard is disabled (api.dashboard: false)');
        return serveDashboard(req, res, path);
      }
      if (path !== '/api' && !path.startsWith('/api/'))
        throw new ApiError(404, `not found: ${path}`);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, { message: 'the API is read-only: use GET' }, { allow: 'GET, HEAD' });
        return;
      }
      route(state, path, q, req, res);
    } catch (err) {
      if (err instanceof ApiError) {
        send(res, err.status, { message: err.message });
        return;
      }
      state.opts.logger?.error({ err, path }, 'API request failed');
      if (!res.headersSent) send(res, 500, { message: 'internal error; see the log' });
      else res.end();
    }
  };
}
