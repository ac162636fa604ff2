/*
 * CircuitBreaker (Traefik's, after vulcand/oxy's cbreaker): watches what
 * happens after it in the chain over a rolling 10-second window and, when
 * `expression` holds, opens: requests get responseCode (503) without reaching
 * the service for fallbackDuration. Then it recovers: a linearly growing share
 * of requests goes through for recoveryDuration (the expression still
 * applies: a match opens it again), after which it closes.
 *
 * The expression is parsed once, at build time, into closures; errors name
 * the position. It is evaluated after a response at most once per
 * checkPeriod, never per request. Outcomes are observed by wrapping
 * ctx.writer: the status written, a network failure (ctx.upstreamError set
 * when the proxy wrote its 502/504), and the latency since ctx.startTime when
 * the response ends. State lives in ctx.state so a configuration swap that
 * keeps the middleware unchanged keeps the circuit as it was.
 *
 * One circuit per router that uses the middleware: Traefik builds a
 * middleware instance per router, so a failing service behind one router
 * does not open the circuit of another router sharing the middleware.
 *
 * In a cluster the primary decides (src/cluster/limits.ts): every worker
 * reports each outcome there, the primary evaluates the expression over the
 * window of all workers' traffic and tells every worker when a circuit opens;
 * each worker then runs the open → recovering → closed timeline and the
 * recovery ratio itself. Nothing waits for the primary on the request path:
 * if it stops answering, workers keep the last state they were told and the
 * circuit cannot open (fails open), which leaves the service as reachable as
 * it would be without the middleware.
 */
import { STATUS_CODES } from 'node:http';
import { ConfigElementError } from '../src/kernel/errors.js';
import { sendStatus } from '../src/kernel/status.js';
import { WriterWrapper } from '../src/kernel/writer.js';
import { stableKey } from '../src/config/objects.js';
import type { RequestContext, ResponseWriter } from '../src/kernel/context.js';
import { sharedLimits, type LimitKind } from '../src/cluster/limits.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import {
  circuitBreaker as schema,
  type CircuitBreakerOptions as Options,
} from '../src/config/schema/middlewares/traffic.js';

const WINDOW_BUCKETS = 10;
const BUCKET_MS = 1000;
/** latency samples kept per one-second bucket (reservoir sampled beyond that) */
const MAX_SAMPLES = 1024;

// --- metrics: a rolling window of one-second buckets -----------------------------

class Bucket {
  epoch = -1;
  total = 0;
  netErrors = 0;
  codes = new Map<number, number>();
  latencies: number[] = [];

  reset(epoch: number): void {
    this.epoch = epoch;
    this.total = 0;
    this.netErrors = 0;
    this.codes.clear();
    this.latencies.length = 0;
  }
}

export class Metrics {
  private buckets = Array.from({ length: WINDOW_BUCKETS }, () => new Bucket());

  record(status: number, netError: boolean, latencyMs: number, now: number): void {
    const epoch = Math.floor(now / BUCKET_MS);
    const b = this.buckets[epoch % WINDOW_BUCKETS]!;
    if (b.epoch !== epoch) b.reset(epoch);
    b.total++;
    if (netError) b.netErrors++;
    b.codes.set(status, (b.codes.get(status) ?? 0) + 1);
    if (b.latencies.length < MAX_SAMPLES) b.latencies.push(latencyMs);
    else {
      const i = Math.floor(Math.random() * b.total);
      if (i < MAX_SAMPLES) b.latencies[i] = latencyMs;
    }
  }

  reset(): void {
    for (const b of this.buckets) b.reset(-1);
  }

  private live(now: number): Bucket[] {
    const epoch = Math.floor(now / BUCKET_MS);
    return this.buckets.filter((b) => b.epoch > epoch - WINDOW_BUCKETS && b.epoch !== -1);
  }

  requests(now: number): number {
    let n = 0;
    for (const b of this.live(now)) n += b.total;
    return n;
  }

  networkErrorRatio(now: number): number {
    let n = 0;
    let e = 0;
    for (const b of this.live(now)) {
      n += b.total;
      e += b.netErrors;
    }
    return n === 0 ? 0 : e / n;
  }

  /** responses with status in [from, to) over those in [divFrom, divTo); 0 when none of the latter */
  responseCodeRatio(from: number, to: number, divFrom: number, divTo: number, now: number): number {
    let a = 0;
    let d = 0;
    for (const b of this.live(now))
      for (const [code, n] of b.codes) {
        if (code >= from && code < to) a += n;
        if (code >= divFrom && code < divTo) d += n;
      }
    return d === 0 ? 0 : a / d;
  }

  latencyAtQuantile(q: number, now: number): number {
    const all: number[] = [];
    for (const b of this.live(now)) for (const l of b.latencies) all.push(l);
    if (all.length === 0) return 0;
    all.sort((x, y) => x - y);
    const idx = Math.min(all.length - 1, Math.max(0, Math.ceil((q / 100) * all.length) - 1));
    return Math.floor(all[idx]!);
  }
}

// --- the expression language ---------------------------------------------------------

export type Predicate = (m: Metrics, now: number) => boolean;
type Value = (m: Metrics, now: number) => number;

interface Token {
  kind: 'ident' | 'number' | 'op' | '(' | ')' | ',' | 'end';
  text: string;
  pos: number;
}

const FUNCTIONS: Record<string, { args: number; make: (a: number[], pos: number) => Value }> = {
  NetworkErrorRatio: { args: 0, make: () => (m, now) => m.networkErrorRatio(now) },
  ResponseCodeRatio: {
    args: 4,
    make: ([a, b, c, d], pos) => {
      for (const v of [a!, b!, c!, d!])
        if (!Number.isInteger(v)) throw exprError('ResponseCodeRatio takes integer statuses', pos);
      return (m, now) => m.responseCodeRatio(a!, b!, c!, d!, now);
    },
  },
  LatencyAtQuantileMS: {
    args: 1,
    make: ([q], pos) => {
      if (!(q! > 0 && q! <= 100))
        throw exprError('LatencyAtQuantileMS takes a quantile between 0 and 100', pos);
      return (m, now) => m.latencyAtQuantile(q!, now);
    },
  },
  RequestThreshold: { args: 0, make: () => (m, now) => m.requests(now) },
};

function exprError(message: string, pos: number): ConfigElementError {
  return new ConfigElementError(`${message} (at position ${pos + 1})`, 'expression');
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re =
    /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d*)?|\.\d+)|(&&|\|\||>=|<=|==|!=|>|<)|([(),]))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (m === null) {
      const at = i + (src.slice(i).length - src.slice(i).trimStart().length);
      throw exprError(`unexpected character "${src[at]}"`, at);
    }
    const pos = re.lastIndex - m[0].trimStart().length;
    if (m[1] !== undefined) out.push({ kind: 'ident', text: m[1], pos });
    else if (m[2] !== undefined) out.push({ kind: 'number', text: m[2], pos });
    else if (m[3] !== undefined) out.push({ kind: 'op', text: m[3], pos });
    else out.push({ kind: m[4] as '(' | ')' | ',', text: m[4]!, pos });
    i = re.lastIndex;
  }
  out.push({ kind: 'end', text: 'end of expression', pos: src.length });
  return out;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

/** Parses a circuit breaker expression; throws ConfigElementError naming the position. */
export function parseExpression(src: string): Predicate {
  const tokens = tokenize(src);
  let i = 0;
  const peek = (): Token => tokens[i]!;
  const take = (): Token => tokens[i++]!;
  const expect = (kind: Token['kind'], what: string): Token => {
    const t = take();
    if (t.kind !== kind) throw exprError(`expected ${what}, found "${t.text}"`, t.pos);
    return t;
  };

  const call = (): Value => {
    const name = expect('ident', 'a function such as NetworkErrorRatio()');
    const fn = FUNCTIONS[name.text];
    if (fn === undefined)
      throw exprError(
        `unknown function ${name.text}; known: ${Object.keys(FUNCTIONS).join(', ')}`,
        name.pos,
      );
    expect('(', `"(" after ${name.text}`);
    const args: number[] = [];
    if (peek().kind !== ')') {
      for (;;) {
        args.push(Number(expect('number', 'a number').text));
        if (peek().kind !== ',') break;
        take();
      }
    }
    expect(')', '")"');
    if (args.length !== fn.args)
      throw exprError(`${name.text} takes ${fn.args} argument(s), got ${args.length}`, name.pos);
    return fn.make(args, name.pos);
  };

  const comparison = (): Predicate => {
    const value = call();
    const op = take();
    const cmp = op.kind === 'op' ? COMPARE[op.text] : undefined;
    if (cmp === undefined)
      throw exprError(`expected a comparison (> >= < <= == !=), found "${op.text}"`, op.pos);
    const limit = Number(expect('number', 'a number to compare with').text);
    return (m, now) => cmp(value(m, now), limit);
  };

  const primary = (): Predicate => {
    if (peek().kind === '(') {
      take();
      const inner = or();
      expect(')', '")"');
      return inner;
    }
    return comparison();
  };

  const and = (): Predicate => {
    let left = primary();
    while (peek().kind === 'op' && peek().text === '&&') {
      take();
      const l = left;
      const r = primary();
      left = (m, now) => l(m, now) && r(m, now);
    }
    return left;
  };

  const or = (): Predicate => {
    let left = and();
    while (peek().kind === 'op' && peek().text === '||') {
      take();
      const l = left;
      const r = and();
      left = (m, now) => l(m, now) || r(m, now);
    }
    return left;
  };

  if (src.trim() === '') throw new ConfigElementError('must not be empty', 'expression');
  const p = or();
  const rest = peek();
  if (rest.kind !== 'end') throw exprError(`unexpected "${rest.text}"`, rest.pos);
  return p;
}

// --- the breaker ---------------------------------------------------------------------

const CLOSED = 0;
const OPEN = 1;
const RECOVERING = 2;

/** [router, state, ms left in that state]: what the primary tells workers about a circuit */
type CircuitNews = [router: string, state: number, msLeft: number];

export class Breaker {
  state = CLOSED;
  until = 0;
  nextCheck = 0;
  recoveryStart = 0;
  allowed = 0;
  denied = 0;
  readonly metrics = new Metrics();

  constructor(
    private readonly condition: Predicate,
    private readonly checkPeriodMs: number,
    private readonly fallbackMs: number,
    private readonly recoveryMs: number,
  ) {}

  /** time moves the circuit on: open → recovering after fallbackDuration, recovering → closed after recoveryDuration */
  private advance(now: number): void {
    if (this.state === OPEN && now >= this.until) {
      this.state = RECOVERING;
      this.until = now + this.recoveryMs;
      this.recoveryStart = now;
      this.allowed = 0;
      this.denied = 0;
    }
    if (this.state === RECOVERING && now > this.until) this.state = CLOSED;
  }

  /** true when this request must get the fallback answer */
  reject(now: number): boolean {
    if (this.state === CLOSED) return false;
    this.advance(now);
    if (this.state === OPEN) return true;
    if (this.state === CLOSED) return false;
    // oxy's ratio controller: let through while allowed/(allowed+denied) stays under a target growing to 0.5
    const target = (0.5 * (now - this.recoveryStart)) / this.recoveryMs;
    const ratio = (this.allowed + 1) / (this.allowed + 1 + this.denied);
    if (ratio < target) {
      this.allowed++;
      return false;
    }
    this.denied++;
    return true;
  }

  /** records one outcome; true when it opened the circuit */
  record(status: number, netError: boolean, latencyMs: number, now: number): boolean {
    this.metrics.record(status, netError, latencyMs, now);
    if (now < this.nextCheck) return false;
    this.nextCheck = now + this.checkPeriodMs;
    this.advance(now);
    if (this.state === OPEN) return false;
    if (!this.condition(this.metrics, now)) return false;
    this.state = OPEN;
    this.until = now + this.fallbackMs;
    this.metrics.reset();
    return true;
  }

  /** the state and the time left in it, for a worker to adopt */
  news(now: number): [state: number, msLeft: number] {
    this.advance(now);
    return [this.state, Math.max(0, this.until - now)];
  }

  /** takes the state the primary decided */
  adopt(state: number, msLeft: number, now: number): void {
    this.state = state;
    this.until = now + msLeft;
    if (state === RECOVERING) {
      this.recoveryStart = this.until - this.recoveryMs;
      this.allowed = 0;
      this.denied = 0;
    }
  }
}

/** A worker's copy of a circuit the primary decides: rejects here, reports outcomes there. */
class ReportingBreaker extends Breaker {
  constructor(
    fallbackMs: number,
    recoveryMs: number,
    private readonly report: (status: number, netError: boolean, latencyMs: number) => void,
  ) {
    super(() => false, 0, fallbackMs, recoveryMs);
  }

  override record(status: number, netError: boolean, latencyMs: number): boolean {
    this.report(status, netError, latencyMs);
    return false;
  }
}

/** Watches one request's response for the breaker, forwarding everything unchanged. */
class ObservingWriter extends WriterWrapper {
  private status = 0;
  private done = false;

  constructor(
    out: ResponseWriter,
    private readonly ctx: RequestContext,
    private readonly breaker: Breaker,
  ) {
    super(out);
  }

  override writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    this.status = status;
    return this.inner.writeHead(status, statusText, headers);
  }

  override end(chunk?: Buffer | string): unknown {
    const r = this.inner.end(chunk);
    this.finish();
    return r;
  }

  override destroy(err?: Error): unknown {
    const r = this.inner.destroy(err);
    this.finish();
    return r;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    const now = performance.now();
    this.breaker.record(
      this.status,
      this.ctx.upstreamError !== undefined,
      now - this.ctx.startTime,
      now,
    );
  }
}

interface Timing {
  checkPeriodMs: number;
  fallbackMs: number;
  recoveryMs: number;
}

function timing(o: Options): Timing {
  return {
    checkPeriodMs: o.checkPeriod ?? 100,
    fallbackMs: o.fallbackDuration ?? 10_000,
    // a zero ramp would divide by zero: recover at once instead
    recoveryMs: Math.max(o.recoveryDuration ?? 10_000, 1e-3),
  };
}

/** one circuit per router, made on the router's first request */
function perRouter<B extends Breaker>(
  make: (router: string) => B,
): { get(router: string): B; all: Map<string, B> } {
  const all = new Map<string, B>();
  return {
    all,
    get(router) {
      let b = all.get(router);
      if (b === undefined) all.set(router, (b = make(router)));
      return b;
    },
  };
}

/** The primary's side in a cluster: the circuits, fed by every worker's outcomes. */
export const circuitBreakerKind: LimitKind = {
  kind: 'circuitBreaker',
  create(params, broadcast) {
    const o = params as Options;
    const condition = parseExpression(o.expression);
    const t = timing(o);
    const circuits = perRouter(
      () => new Breaker(condition, t.checkPeriodMs, t.fallbackMs, t.recoveryMs),
    );
    return {
      tell(_worker, data) {
        const [router, status, netError, latencyMs] = data as [string, number, number, number];
        if (circuits.get(router).record(status, netError === 1, latencyMs, performance.now()))
          broadcast([[router, OPEN, t.fallbackMs]] satisfies CircuitNews[]);
      },
      welcome() {
        const now = performance.now();
        const news: CircuitNews[] = [];
        for (const [router, b] of circuits.all) {
          const [state, msLeft] = b.news(now);
          if (state !== CLOSED) news.push([router, state, msLeft]);
        }
        return news.length > 0 ? news : undefined;
      },
    };
  },
};

export const circuitBreaker: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw, build) {
    const o = decodeOptions(schema.options, raw);
    const condition = parseExpression(o.expression);
    const code = o.responseCode ?? 503;
    if (STATUS_CODES[code] === undefined)
      throw new ConfigElementError(`${code} is not a known HTTP status`, 'responseCode');
    const t = timing(o);
    const stateKey = `circuitBreaker:${build.name}:${stableKey(o)}`;

    let circuit: (router: string) => Breaker;
    const shared = sharedLimits();
    if (shared !== undefined) {
      const copies = build.state.acquire(
        stateKey,
        () => {
          const copy = perRouter(
            (router) =>
              new ReportingBreaker(t.fallbackMs, t.recoveryMs, (status, netError, latencyMs) =>
                // droppable: while the primary is stuck the circuit fails open anyway
                handle.tell([router, status, netError ? 1 : 0, latencyMs], true),
              ),
          );
          const handle = shared.open(circuitBreakerKind.kind, stateKey, o, (data) => {
            const now = performance.now();
            for (const [router, state, msLeft] of data as CircuitNews[])
              copy.get(router).adopt(state, msLeft, now);
          });
          return { copy, handle };
        },
        (s) => s.handle.close(),
      );
      circuit = (router) => copies.copy.get(router);
    } else {
      const circuits = build.state.acquire(stateKey, () =>
        perRouter(() => new Breaker(condition, t.checkPeriodMs, t.fallbackMs, t.recoveryMs)),
      );
      circuit = (router) => circuits.get(router);
    }
    return (next) => (ctx) => {
      const breaker = circuit(ctx.routerName);
      if (breaker.reject(performance.now())) {
        sendStatus(ctx.writer, code);
        return;
      }
      ctx.writer = new ObservingWriter(ctx.writer, ctx, breaker);
      next(ctx);
    };
  },
};
