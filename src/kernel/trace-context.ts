/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) propagation.
 *
 * Portico records no spans, so it does not act as a tracing participant: a
 * valid incoming `traceparent` goes upstream unchanged (with its
 * `tracestate`), which keeps the upstream's spans children of the caller's.
 * A missing or invalid one is replaced by a fresh one, so every request that
 * reaches an upstream carries a trace id that the access log also records
 * (TraceId) — the one key that joins a log line to the upstream's own logs.
 *
 * Generated headers carry the sampled flag (01): an upstream instrumented
 * with OpenTelemetry's default ParentBased(AlwaysOn) sampler keeps tracing as
 * it did when it was the root without Portico in front; 00 would silently
 * switch its tracing off. Traefik v3 with tracing on (sampleRate 1.0) also
 * sends 01.
 */
import { randomFillSync } from 'node:crypto';

/** one getrandom call and one hex conversion per ~170 generated ids instead of one per request */
const POOL_BYTES = 4096;
const ID_HEX = 48; // 32 hex digits of trace id, 16 of parent (span) id
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolHex = '';
let offset = 0;

const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);
/** version 00 is the only one this implementation parses; lowercase hex only (spec §3.2.2) */
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Whether a received traceparent may be forwarded as it is. Duplicate
 * headers arrive joined with ", " and fail the length test, as the spec
 * wants (several traceparent headers are invalid).
 */
export function isValidTraceparent(value: string | string[] | undefined): value is string {
  return (
    typeof value === 'string' &&
    value.length === 55 &&
    TRACEPARENT.test(value) &&
    !value.startsWith(ZERO_TRACE_ID, 3) &&
    !value.startsWith(ZERO_PARENT_ID, 36)
  );
}

/** A new traceparent: random trace id and parent id, sampled. */
export function generateTraceparent(): string {
  for (let tries = 0; tries < 4; tries++) {
    if (offset + ID_HEX > poolHex.length) {
      randomFillSync(pool);
      poolHex = pool.toString('hex');
      offset = 0;
    }
    const traceId = poolHex.slice(offset, offset + 32);
    const parentId = poolHex.slice(offset + 32, offset + ID_HEX);
    offset += ID_HEX;
    // all-zero ids are invalid; at 2^-64 odds this loop runs once
    if (traceId !== ZERO_TRACE_ID && parentId !== ZERO_PARENT_ID) {
      return '00-' + traceId + '-' + parentId + '-01';
    }
  }
  throw new Error('random source returned zeros');
}

/** the trace id inside a (valid) traceparent */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}
