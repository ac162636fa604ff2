/*
 * Services as runtime objects: a load balancer over servers, or a composite
 * (weighted, mirroring, failover) over other services. Built by the compiler
 * from validated config; the state that must survive swaps (health, pools,
 * round-robin position) comes from the StateRegistry.
 */
import { PassThrough, Readable } from 'node:stream';
import type { Logger } from 'pino';
import { request as undiciRequest, type Pool } from 'undici';
import { requestHasBody, type Handler, type RequestContext } from '../kernel/context.js';
import type {
  FailoverConfig,
  LoadBalancerConfig,
  MirroringConfig,
  ServiceConfig,
  WeightedConfig,
} from '../config/dynamic.js';
import { ConfigElementError } from '../kernel/errors.js';
import { forward, type ForwardObserver, type UpstreamServer } from '../proxy/forward.js';
import {
  forwardH2c,
  H2cSession,
  mirrorH2c,
  type H2cObserver,
  type H2cServer,
} from '../proxy/forward-h2.js';
import { forwardWebSocket } from '../proxy/websocket.js';
import { sendStatus } from '../kernel/status.js';
import { upstreamHeaders } from '../proxy/headers.js';
import { createH1Pool, createPool, loadCA, type TransportSettings } from '../proxy/transport.js';
import type { StateRegistry } from '../kernel/state.js';
import { stableKey } from '../config/objects.js';
import { SmoothWeightedRoundRobin } from './wrr.js';
import { createStickyCookie, serverKey } from './sticky.js';
import { createHealthChecker, type HealthCheckTlsOptions } from './health-check.js';
import { createPassiveHealth } from './passive.js';

export interface ServiceRuntime {
  name: string;
  type: 'loadBalancer' | 'weighted' | 'mirroring' | 'failover';
  handle: Handler;
  /** whether any server can take traffic; parents with a healthCheck skip children that are down */
  isUp(): boolean;
  /** UP/DOWN per server URL, for the API and the dashboard */
  serverStatus(): Record<string, 'UP' | 'DOWN'>;
  /**
   * sends a copy of the request (mirroring); the answer is discarded. The body
   * is null (none), whole, or a stream fed alongside the main request, which
   * the receiver must consume or destroy (`discardMirrorBody`)
   */
  mirror(ctx: RequestContext, body: MirrorBody): void;
}

export type MirrorBody = Buffer | Readable | null;

/** for a mirror that cannot send its copy: a streamed body is released rather than left to fill up */
export function discardMirrorBody(body: MirrorBody): void {
  if (body instanceof Readable) body.destroy();
}

export interface ServiceBuildContext {
  state: StateRegistry;
  logger: Logger;
  /** resolves `serversTransport` names (qualified) to settings; undefined name = default */
  transport(name: string | undefined): TransportSettings;
  /** resolves a child service (qualified name) for composites; throws on unknown or cycles */
  child(name: string): ServiceRuntime;
  entryPointPort(ctx: RequestContext): number;
}

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

function buildLoadBalancer(
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
  const wrr = ctx.state.acquire(
    `wrr:${name}:${configKey}`,
    () => new SmoothWeightedRoundRobin(servers.map((s) => ({ item: s.url, weight: s.weight }))),
  );
  const byUrl = new Map(servers.map((s) => [s.url, s]));
  const byKey = new Map(servers.map((s) => [s.key, s]));
  const isUp = (url: string): boolean =>
    (health === undefined || health.isUp(url)) && (passive === undefined || passive.isUp(url));

  const observer: (ForwardObserver & H2cObserver) | undefined = passive
    ? {
        failure: (s: { url: string }) => passive.recordFailure(s.url),
        success: (s: { url: string }, status: number) =>
          status >= 500 ? passive.recordFailure(s.url) : passive.recordSuccess(s.url),
      }
    : undefined;

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
    },
    mirror(rc, body) {
      const url = wrr.next(isUp);
      if (url === undefined) {
        discardMirrorBody(body);
        return;
      }
      const server = byUrl.get(url)!;
      if (server.kind === 'h2c') {
        if (body instanceof Readable) {
          // the h2c mirror client sends whole bodies only: a body too large to hold is not copied there
          body.destroy();
          log.debug(
            { server: server.url },
            'mirror skipped: streamed bodies are not copied to h2c',
          );
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
    },
  };
}

function buildWeighted(
  name: string,
  cfg: WeightedConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  const children = (cfg.services ?? []).map((s) => ({
    child: ctx.child(s.name),
    weight: s.weight ?? 1,
  }));
  const checkHealth = cfg.healthCheck !== undefined;
  const wrr = ctx.state.acquire(
    `wrr:${name}:${stableKey(cfg.services)}`,
    () =>
      new SmoothWeightedRoundRobin(children.map((c) => ({ item: c.child.name, weight: c.weight }))),
  );
  const byName = new Map(children.map((c) => [c.child.name, c.child]));
  const byKey = new Map(children.map((c) => [serverKey(c.child.name), c.child]));
  const up = (n: string): boolean => !checkHealth || byName.get(n)!.isUp();
  const sticky = cfg.sticky?.cookie ? createStickyCookie(cfg.sticky.cookie, name) : undefined;
  const pick = (rc: RequestContext | null): ServiceRuntime | undefined => {
    if (sticky !== undefined && rc !== null) {
      const wanted = sticky.read(rc.req.headers.cookie);
      const c = wanted !== undefined ? byKey.get(wanted) : undefined;
      if (c !== undefined && up(c.name)) return c;
    }
    const n = wrr.next(up);
    const child = n === undefined ? undefined : byName.get(n);
    if (child !== undefined && sticky !== undefined && rc !== null) {
      const cookie = sticky.serialize(serverKey(child.name));
      (rc.responseHeaderHooks ??= []).push((_c, _s, headers) => headers.push('set-cookie', cookie));
    }
    return child;
  };
  return {
    name,
    type: 'weighted',
    isUp: () => children.some((c) => c.child.isUp()),
    serverStatus: () => Object.assign({}, ...children.map((c) => c.child.serverStatus())),
    handle(rc) {
      rc.serviceName = name;
      const child = pick(rc);
      if (child === undefined) sendStatus(rc.writer, 503);
      else child.handle(rc);
    },
    mirror(rc, body) {
      const child = pick(null);
      if (child === undefined) discardMirrorBody(body);
      else child.mirror(rc, body);
    },
  };
}

/**
 * How much of a request body a mirroring service holds. Traefik reads the whole
 * body into memory before anything goes upstream (maxBodySize -1, the default,
 * meaning no limit), which lets one upload take as much memory as it is large
 * (issue 11: 300 MB took a worker from 89 to 681 MB). Portico holds at most
 * this much: a body that fits (or a declared Content-Length that does) is read
 * whole and replayed, as Traefik does; a larger one streams to the main service
 * while each mirror gets a copy of the same chunks as they pass.
 */
export const MIRROR_BUFFER_BYTES = 1024 * 1024;
/**
 * How far a mirror's copy may fall behind the main request. The main request
 * sets the pace (the client's upload is never slowed down for a mirror, which
 * must never affect the client); a mirror further behind is dropped: its
 * request is aborted, so it never sees a truncated body as a whole one.
 */
export const MIRROR_LAG_BYTES = 4 * 1024 * 1024;

/**
 * Requests whose body a mirroring service is copying as it streams. A
 * mirroring service behind it (its main service mirrors too) must not read
 * ahead: the copy being made would see the bytes twice (once read, once put
 * back) and the stream is paused for main's client to start. It copies the
 * same chunks alongside instead.
 */
const streamingCopies = new WeakSet<RequestContext>();

/** the declared Content-Length, or -1 when the body's size is not known up front */
function declaredLength(rc: RequestContext): number {
  const cl = rc.req.headers['content-length'];
  if (cl === undefined) return -1;
  const n = Number(cl);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

function buildMirroring(
  name: string,
  cfg: MirroringConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  const main = ctx.child(cfg.service);
  const mirrors = (cfg.mirrors ?? []).map((m) => ({
    child: ctx.child(m.name),
    percent: m.percent ?? 0,
    count: 0,
  }));
  const mirrorBody = cfg.mirrorBody ?? true;
  const maxBodySize = cfg.maxBodySize ?? -1;
  // what is read ahead before deciding: over maxBodySize means "not mirrored", so no need to read more
  const readAhead =
    maxBodySize >= 0 ? Math.min(maxBodySize, MIRROR_BUFFER_BYTES) : MIRROR_BUFFER_BYTES;
  const log = ctx.logger.child({ service: name });
  let total = 0;
  // deterministic percentages (Traefik counts requests rather than rolling dice)
  const chosen = (): typeof mirrors => {
    total++;
    const out: typeof mirrors = [];
    for (const m of mirrors) {
      if (m.percent <= 0) continue;
      if ((m.count * 100) / total < m.percent) {
        m.count++;
        out.push(m);
      }
    }
    return out;
  };
  const tooLarge = (rc: RequestContext): void => {
    // as Traefik: the main service still gets the request, the mirrors do not
    log.debug({ path: rc.path }, 'no mirroring: request body larger than maxBodySize');
    main.handle(rc);
  };

  /**
   * Streams the request to main and copies each chunk to the mirrors as main
   * reads it. The request stays paused until main's client starts reading, so
   * the mirrors see exactly the bytes main sees, in order (bytes already read
   * ahead were put back into the stream with unshift).
   */
  const tee = (rc: RequestContext, targets: typeof mirrors): void => {
    const req = rc.req;
    const copies = new Set<PassThrough>();
    for (const t of targets) {
      const copy = new PassThrough();
      copies.add(copy);
      t.child.mirror(rc, copy);
    }
    let seen = 0;
    const drop = (copy: PassThrough, why: string): void => {
      copies.delete(copy);
      copy.destroy(new Error(why));
      if (copies.size === 0) detach();
    };
    const dropAll = (why: string): void => {
      for (const copy of copies) drop(copy, why);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (maxBodySize >= 0 && seen > maxBodySize) {
        // a chunked body that outgrew maxBodySize: its copies are aborted, never completed short
        log.debug({ path: rc.path }, 'mirroring stopped: request body larger than maxBodySize');
        dropAll('request body larger than maxBodySize');
        return;
      }
      for (const copy of copies) {
        if (copy.writableLength + copy.readableLength > MIRROR_LAG_BYTES) {
          log.debug({ path: rc.path }, 'mirror dropped: it fell behind the main request');
          drop(copy, 'mirror fell behind the main request');
        } else copy.write(chunk);
      }
    };
    const onEnd = (): void => {
      // the server's _dump() removes 'data' listeners when main did not read the body: the copies missed bytes
      if (req.listeners('data').includes(onData)) for (const copy of copies) copy.end();
      else dropAll('request body not read through');
      detach();
    };
    const onClose = (): void => dropAll('client request ended early');
    function detach(): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onClose);
      req.off('close', onClose);
    }
    streamingCopies.add(rc);
    req.on('data', onData);
    // attaching a 'data' listener starts the flow: hold it until main's client reads (it resumes the stream)
    req.pause();
    req.once('end', onEnd);
    req.once('error', onClose);
    req.once('close', onClose);
    main.handle(rc);
  };

  /**
   * Reads up to readAhead bytes: a body that ends within them is kept whole
   * (rc.body) and replayed to the mirrors and main; a longer one is put back
   * into the stream and goes on to tee (or, over maxBodySize, to main alone).
   */
  const readFirst = (rc: RequestContext, targets: typeof mirrors): void => {
    const req = rc.req;
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      chunks.push(c);
      if (size <= readAhead) return;
      stop();
      req.pause();
      req.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      chunks.length = 0;
      if (maxBodySize >= 0 && maxBodySize <= readAhead) tooLarge(rc);
      else tee(rc, targets);
    };
    const onEnd = (): void => {
      stop();
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      rc.body = body;
      for (const t of targets) t.child.mirror(rc, body);
      main.handle(rc);
    };
    const onBroken = (): void => {
      // the client went away or its body broke off: nothing to mirror; main reports it as it would unmirrored
      stop();
      chunks.length = 0;
      main.handle(rc);
    };
    function stop(): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onBroken);
      req.off('close', onBroken);
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onBroken);
    req.once('close', onBroken);
  };

  return {
    name,
    type: 'mirroring',
    isUp: () => main.isUp(),
    serverStatus: () => main.serverStatus(),
    handle(rc) {
      rc.serviceName = name;
      const targets = chosen();
      if (targets.length === 0) {
        main.handle(rc);
        return;
      }
      if (!mirrorBody || !requestHasBody(rc.req)) {
        for (const t of targets) t.child.mirror(rc, null);
        main.handle(rc);
        return;
      }
      if (rc.body !== undefined) {
        // a middleware (retry, buffering) has read the body already: the stream is spent, replay that
        if (maxBodySize >= 0 && rc.body.length > maxBodySize) tooLarge(rc);
        else {
          for (const t of targets) t.child.mirror(rc, rc.body);
          main.handle(rc);
        }
        return;
      }
      const declared = declaredLength(rc);
      if (maxBodySize >= 0 && declared > maxBodySize) tooLarge(rc);
      else if (declared > readAhead || streamingCopies.has(rc)) tee(rc, targets);
      else readFirst(rc, targets);
    },
    mirror(rc, body) {
      main.mirror(rc, body);
    },
  };
}

function buildFailover(
  name: string,
  cfg: FailoverConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  const main = ctx.child(cfg.service);
  const fallback = ctx.child(cfg.fallback);
  const current = (): ServiceRuntime => (main.isUp() ? main : fallback);
  return {
    name,
    type: 'failover',
    isUp: () => main.isUp() || fallback.isUp(),
    serverStatus: () => ({ ...main.serverStatus(), ...fallback.serverStatus() }),
    handle(rc) {
      rc.serviceName = name;
      current().handle(rc);
    },
    mirror(rc, body) {
      current().mirror(rc, body);
    },
  };
}

export function buildService(
  name: string,
  cfg: ServiceConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  if (cfg.loadBalancer) return buildLoadBalancer(name, cfg.loadBalancer, ctx);
  if (cfg.weighted) return buildWeighted(name, cfg.weighted, ctx);
  if (cfg.mirroring) return buildMirroring(name, cfg.mirroring, ctx);
  if (cfg.failover) return buildFailover(name, cfg.failover, ctx);
  throw new ConfigElementError(
    'a service needs one of loadBalancer, weighted, mirroring or failover',
  );
}
