/*
 * The mirroring service (Traefik's pkg/server/service/mirror): the main
 * service answers, the mirrors get a copy whose answer is discarded, chosen by
 * deterministic percentages. The body is held whole when small (as Traefik
 * does) or copied alongside as it streams to main when large.
 */
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import type { MirroringConfig } from '../config/dynamic.js';
import { requestHasBody, type RequestContext } from '../kernel/context.js';
import type { ServiceBuildContext, ServiceRuntime } from './runtime.js';

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

/** A mirror target and how many requests it got, for the percentages. */
export interface MirrorTarget {
  child: ServiceRuntime;
  percent: number;
  count: number;
}

/**
 * Chooses the mirrors for each request by deterministic percentages: Traefik
 * counts requests rather than rolling dice, so 10% is exactly every tenth.
 */
export function createMirrorChooser(mirrors: MirrorTarget[]): () => MirrorTarget[] {
  let total = 0;
  return () => {
    total++;
    const out: MirrorTarget[] = [];
    for (const m of mirrors) {
      if (m.percent <= 0) continue;
      if ((m.count * 100) / total < m.percent) {
        m.count++;
        out.push(m);
      }
    }
    return out;
  };
}

/** What the body copiers of one mirroring service share. */
interface MirrorScope {
  main: ServiceRuntime;
  maxBodySize: number;
  /** what is read ahead before deciding (at most MIRROR_BUFFER_BYTES, at most maxBodySize) */
  readAhead: number;
  log: Logger;
}

export function buildMirroring(
  name: string,
  cfg: MirroringConfig,
  ctx: ServiceBuildContext,
): ServiceRuntime {
  const main = ctx.child(cfg.service);
  const chosen = createMirrorChooser(
    (cfg.mirrors ?? []).map((m) => ({
      child: ctx.child(m.name),
      percent: m.percent ?? 0,
      count: 0,
    })),
  );
  const mirrorBody = cfg.mirrorBody ?? true;
  const maxBodySize = cfg.maxBodySize ?? -1;
  // what is read ahead before deciding: over maxBodySize means "not mirrored", so no need to read more
  const readAhead =
    maxBodySize >= 0 ? Math.min(maxBodySize, MIRROR_BUFFER_BYTES) : MIRROR_BUFFER_BYTES;
  const scope: MirrorScope = {
    main,
    maxBodySize,
    readAhead,
    log: ctx.logger.child({ service: name }),
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
        if (maxBodySize >= 0 && rc.body.length > maxBodySize) tooLarge(scope, rc);
        else {
          for (const t of targets) t.child.mirror(rc, rc.body);
          main.handle(rc);
        }
        return;
      }
      const declared = declaredLength(rc);
      if (maxBodySize >= 0 && declared > maxBodySize) tooLarge(scope, rc);
      else if (declared > readAhead || streamingCopies.has(rc)) tee(scope, rc, targets);
      else readFirst(scope, rc, targets);
    },
    mirror(rc, body) {
      main.mirror(rc, body);
    },
  };
}

function tooLarge(scope: MirrorScope, rc: RequestContext): void {
  // as Traefik: the main service still gets the request, the mirrors do not
  scope.log.debug({ path: rc.path }, 'no mirroring: request body larger than maxBodySize');
  scope.main.handle(rc);
}

/**
 * Streams the request to main and copies each chunk to the mirrors as main
 * reads it. The request stays paused until main's client starts reading, so
 * the mirrors see exactly the bytes main sees, in order (bytes already read
 * ahead were put back into the stream with unshift).
 */
function tee(scope: MirrorScope, rc: RequestContext, targets: readonly MirrorTarget[]): void {
  const { maxBodySize, log } = scope;
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
  scope.main.handle(rc);
}

/**
 * Reads up to readAhead bytes: a body that ends within them is kept whole
 * (rc.body) and replayed to the mirrors and main; a longer one is put back
 * into the stream and goes on to tee (or, over maxBodySize, to main alone).
 */
function readFirst(scope: MirrorScope, rc: RequestContext, targets: readonly MirrorTarget[]): void {
  const { main, maxBodySize, readAhead } = scope;
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
    if (maxBodySize >= 0 && maxBodySize <= readAhead) tooLarge(scope, rc);
    else tee(scope, rc, targets);
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
}
