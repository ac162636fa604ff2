/*
 * The load balancer service: servers parsed from the configuration (HTTP/1.1
 * through Portico's pool, h2c through an HTTP/2 session, mirror copies through
 * undici), picked by smooth weighted round robin among those up, with sticky
 * cookies and active/passive health as in Traefik.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { request as undiciRequest, type Pool } from 'undici';
import type { LoadBalancerConfig } from '../config/dynamic.js';
import { stableKey } from '../config/objects.js';
import type { RequestContext } from '../kernel/context.js';
import { ConfigElementError } from '../kernel/errors.js';
import { sendStatus } from '../kernel/status.js';
import {
  forward,
  type ForwardObserver,
  type ForwardOptions,
  type UpstreamServer,
} from '../proxy/forward.js';
import {
  forwardH2c,
  H2cSession,
  mirrorH2c,
  type H2cForwardOptions,
  type H2cObserver,
  type H2cServer,
} from '../proxy/forward-h2.js';
import { upstreamHeaders } from '../proxy/headers.js';
import { createH1Pool, createPool, loadCA, type TransportSettings } from '../proxy/transport.js';
import { forwardWebSocket } from '../proxy/websocket.js';
import { createHealthChecker, type HealthCheckTlsOptions } from './health-check.js';
import { createPassiveHealth } from './passive.js';
import {
  discardMirrorBody,
  type MirrorBody,
  type ServiceBuildContext,
  type ServiceRuntime,
} from './runtime.js';
import { createStickyCookie, serverKey } from './sticky.js';
import { SmoothWeightedRoundRobin } from './wrr.js';

interface LbServerInfo {
  weight: number;
  key: string;
  /** prefix the server URL's path to the request path (per server, as in Traefik) */
  preservePath: boolean;
}

/** http/https servers go through undici's pools, h2c servers through an HTTP/2 session. */
type LbServer =
  (UpstreamServer & LbServerInfo & { kind: 'http' }) | (H2cServer & LbServerInfo & { kind: 'h2c' });

/** Health probes go through the service's serversTransport TLS settings, as in Traefik. */
function healthTls(t: TransportSettings): HealthCheckTlsOptions {
  return {
    rejectUnauthorized: !t.insecureSkipVerify,
    ...(t.serverName ? { servername: t.serverName } : {}),
    ...(t.rootCAs.length > 0 ? { ca: t.rootCAs.map(loadCA) } : {}),
  };
}

function parseServer(
  raw: { url: string; weight?: number; preservePath?: boolean },
  index: number,
  ctx: ServiceBuildContext,
  transport: TransportSettings,
): LbServer {
  let u: URL;
  try {
    u = new URL(raw.url);
  } catch {
    throw new ConfigElementError(
      `invalid url ${JSON.stringify(raw.url)}`,
      `loadBalancer.servers[${index}].url`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'h2c:') {
    throw new ConfigElementError(
      `scheme ${u.protocol.slice(0, -1)} is not supported (use http, https or h2c)`,
      `loadBalancer.servers[${index}].url`,
    );
  }
  const basePath = u.pathname === '/' || u.pathname === '' ? '' : u.pathname.replace(/\/$/, '');
  const info: LbServerInfo = {
    weight: raw.weight ?? 1,
    key: serverKey(raw.url),
    preservePath: raw.preservePath === true,
  };
  if (u.protocol === 'h2c:') {
    if (u.hostname === '') {
      throw new ConfigElementError(
        `invalid url ${JSON.stringify(raw.url)}: missing host`,
        `loadBalancer.servers[${index}].url`,
      );
    }
    // h2c is HTTP/2 over plain TCP: the session dials http://host:port (port 80 when omitted)
    const origin = `http://${u.host}`;
    const session = ctx.state.acquire(
      `h2c:${transport.key}|${origin}`,
      () => new H2cSession(origin, transport),
      (s) => s.close(),
    );
    return { kind: 'h2c', url: raw.url, origin, hostPort: u.host, basePath, session, ...info };
  }
  const origin = u.origin;
  // undici's pool carries mirror copies only: it is made on the first copy, not for every
  // server (each Pool allocates queues up front; 50,000 of them made loading crawl, issue 11)
  const mirrorPool = ctx.state.acquire(
    `pool:${transport.key}|${origin}`,
    () => new LazyPool(() => createPool(origin, transport)),
    (p) => p.close(),
  );
  // requests go through Portico's own HTTP/1.1 client; mirrors through undici's pool
  const h1 = ctx.state.acquire(
    `h1:${transport.key}|${origin}`,
    () => createH1Pool(origin, transport),
    (p) => void p.close(),
  );
  return {
    kind: 'http',
    url: raw.url,
    origin,
    hostPort: u.host,
    basePath,
    get pool() {
      return mirrorPool.get();
    },
    h1,
    ...info,
  };
}

/** An undici Pool made when first used; shared through the StateRegistry like the pool itself. */
class LazyPool {
  private pool: Pool | undefined;
  private closed = false;
  constructor(private readonly create: () => Pool) {}

  get(): Pool {
    // after close() (the server left the configuration) a late copy is refused, as by a closed Pool
    if (this.pool === undefined) {
      this.pool = this.create();
      if (this.closed) void this.pool.close().catch(() => undefined);
    }
    return this.pool;
  }

  close(): void {
    this.closed = true;
    void this.pool?.close().catch(() => undefined);
  }
}

/**
 * A load balancer over servers (Traefik's pkg/server/service/loadbalancer):
 * smooth weighted round robin over the servers that are up, sticky cookies,
 * active and passive health, and a copy of a request for mirroring.
 */
export function buildLoadBalancer(
  name: string,
  lb: LoadBalancerConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  const transport = ctx.transport(lb.serversTransport);
  const wsTls = healthTls(transport);
  const servers = (lb.servers ?? []).map((s, i) => parseServer(s, i, ctx, transport));
  const configKey = stableKey({
    servers: lb.servers,
    hc: lb.healthCheck,
    p: lb.passiveHealthCheck,
  });
  const passHostHeader = lb.passHostHeader ?? true;
  const log = ctx.logger.child({ service: name });
  const { isUp, observer } = serverHealth(name, lb, ctx, servers, transport, configKey, log);
  const wrr = ctx.state.acquire(
    `wrr:${name}:${configKey}`,
    () => new SmoothWeightedRoundRobin(servers.map((s) => ({ item: s.url, weight: s.weight }))),
  );
  const byUrl = new Map(servers.map((s) => [s.url, s]));
  const byKey = new Map(servers.map((s) => [s.key, s]));

  const sticky = lb.sticky?.cookie ? createStickyCookie(lb.sticky.cookie, name) : undefined;

  const pick = (rc: RequestContext): { server: LbServer; setCookie: boolean } | undefined => {
    if (sticky !== undefined) {
      const wanted = sticky.read(rc.req.headers.cookie);
      if (wanted !== undefined) {
        const s = byKey.get(wanted);
        if (s !== undefined && isUp(s.url)) return { server: s, setCookie: false };
      }
    }
    const url = wrr.next(isUp);
    if (url === undefined) return undefined;
    return { server: byUrl.get(url)!, setCookie: sticky !== undefined };
  };

  return {
    name,
    type: 'loadBalancer',
    isUp: () => servers.some((s) => isUp(s.url)),
    serverStatus: () => {
      const out: Record<string, 'UP' | 'DOWN'> = {};
      for (const s of servers) out[s.url] = isUp(s.url) ? 'UP' : 'DOWN';
      return out;
    },
    handle(rc) {
      rc.serviceName = name;
      const chosen = pick(rc);
      if (chosen === undefined) {
        sendStatus(rc.writer, 503);
        return;
      }
      const { server, setCookie } = chosen;
      if (setCookie && sticky !== undefined) {
        const cookie = sticky.serialize(server.key);
        (rc.responseHeaderHooks ??= []).push((_c, _s, headers) =>
          headers.push('set-cookie', cookie),
        );
      }
      // one small object per request, no spreads on the hot path
      const opts = {
        passHostHeader,
        trusted: rc.trusted,
        entryPointPort: ctx.entryPointPort(rc),
        observer,
      };
      forwardToServer(rc, server, opts, wsTls, log);
    },
    mirror(rc, body) {
      const url = wrr.next(isUp);
      if (url === undefined) {
        discardMirrorBody(body);
        return;
      }
      mirrorToServer(rc, byUrl.get(url)!, body, passHostHeader, ctx, log);
    },
  };
}

/**
 * A server is up when neither the active checker (shared across swaps through
 * the StateRegistry) nor the passive one counts it down.
 */
function serverHealth(
  name: string,
  lb: LoadBalancerConfig,
  ctx: ServiceBuildContext,
  servers: readonly LbServer[],
  transport: TransportSettings,
  configKey: string,
  log: Logger,
): { isUp: (url: string) => boolean; observer: (ForwardObserver & H2cObserver) | undefined } {
  const health = lb.healthCheck
    ? ctx.state.acquire(
        // the transport shapes the probes too (TLS verification, CAs, SNI)
        `health:${name}:${configKey}|${transport.key}`,
        () => {
          const checker = createHealthChecker({
            service: name,
            servers: servers.map((s) => s.url),
            config: lb.healthCheck!,
            onChange: () => undefined,
            logger: log,
            tls: healthTls(transport),
          });
          checker.start();
          return checker;
        },
        (c) => c.close(),
      )
    : undefined;
  const passive = lb.passiveHealthCheck
    ? ctx.state.acquire(`passive:${name}:${configKey}`, () =>
        createPassiveHealth(lb.passiveHealthCheck!),
      )
    : undefined;
  const isUp = (url: string): boolean =>
    (health === undefined || health.isUp(url)) && (passive === undefined || passive.isUp(url));
  const observer: (ForwardObserver & H2cObserver) | undefined = passive
    ? {
        failure: (s: { url: string }) => passive.recordFailure(s.url),
        success: (s: { url: string }, status: number) =>
          status >= 500 ? passive.recordFailure(s.url) : passive.recordSuccess(s.url),
      }
    : undefined;
  return { isUp, observer };
}

/** The request to the chosen server: HTTP/1.1, h2c, or a WebSocket upgrade. */
function forwardToServer(
  rc: RequestContext,
  server: LbServer,
  opts: ForwardOptions & H2cForwardOptions,
  wsTls: HealthCheckTlsOptions,
  log: Logger,
): void {
  if (server.kind === 'h2c') {
    if (rc.upgrade !== undefined) {
      // http-proxy-3 speaks HTTP/1.1 upgrades only; RFC 8441 (WebSocket over HTTP/2) is not done
      rc.upstreamUrl = server.url;
      rc.upstreamError = new Error('WebSocket upgrades to h2c servers are not supported');
      log.warn(
        { server: server.url, path: rc.path },
        'WebSocket upgrade to an h2c server refused (not supported): answering 502',
      );
      sendStatus(rc.writer, 502);
      return;
    }
    forwardH2c(rc, server, opts, server.preservePath);
  } else if (rc.upgrade !== undefined)
    forwardWebSocket(rc, server, opts, server.preservePath, wsTls);
  else forward(rc, server, opts, server.preservePath);
}

/** A mirror copy to one server; its answer is discarded and its failure only logged. */
function mirrorToServer(
  rc: RequestContext,
  server: LbServer,
  body: MirrorBody,
  passHostHeader: boolean,
  ctx: ServiceBuildContext,
  log: Logger,
): void {
  if (server.kind === 'h2c') {
    if (body instanceof Readable) {
      // the h2c mirror client sends whole bodies only: a body too large to hold is not copied there
      body.destroy();
      log.debug({ server: server.url }, 'mirror skipped: streamed bodies are not copied to h2c');
      return;
    }
    mirrorH2c(
      rc,
      server,
      { passHostHeader, trusted: rc.trusted, entryPointPort: ctx.entryPointPort(rc) },
      server.preservePath,
      body,
      (err) => log.debug({ err: err.message, server: server.url }, 'mirror request failed'),
    );
    return;
  }
  // the same header treatment as the main request: hop-by-hop stripped, forwarded family set
  const headers = upstreamHeaders(rc, {
    passHostHeader,
    serverHost: server.hostPort,
    trusted: rc.trusted,
    entryPointPort: ctx.entryPointPort(rc),
  });
  if (body === null) {
    // mirrorBody: false sends the request without its body: its length no longer applies
    const at = headers.indexOf('content-length');
    if (at !== -1 && at % 2 === 0) headers.splice(at, 2);
  }
  const path =
    server.preservePath && server.basePath !== '' ? server.basePath + rc.target() : rc.target();
  undiciRequest(server.origin + path, {
    method: rc.method as 'GET',
    headers,
    body,
    dispatcher: server.pool,
  })
    .then((r) => r.body.dump())
    .catch((err: Error) =>
      log.debug({ err: err.message, server: server.url }, 'mirror request failed'),
    );
}
