/*
 * The traffic-control middlewares: who may come in, how many at once, how
 * fast, and what to do when the service fails. Options as in Traefik v3; each
 * factory in middlewares/ imports its decoded type and schema from here.
 */
import { Any, Bool, DurationMs, Int, Obj, Str, StrList, type Static } from '../core.js';
import { middleware } from './define.js';

/** Traefik's ipStrategy: which address of the request is the client's. */
function ipStrategy(description: string) {
  return Obj(
    {
      depth: Int({
        description: 'use the Nth address from the right of X-Forwarded-For (0: not used)',
        default: 0,
        min: 0,
      }),
      excludedIPs: StrList({
        description:
          'use the first X-Forwarded-For address from the right that is not in these IPs/CIDRs (ignored when depth is set)',
      }),
      ipv6Subnet: Int({
        description: 'an IPv6 address is replaced by the first address of its subnet of this size',
        min: 0,
        max: 128,
      }),
    },
    { description, allowEmpty: true },
  );
}

/** Traefik's sourceCriterion: what groups requests into one bucket. */
function sourceCriterion(description: string) {
  return Obj(
    {
      ipStrategy: ipStrategy('group requests by client IP, chosen as ipStrategy says'),
      requestHeaderName: Str({ description: 'group requests by the value of this request header' }),
      requestHost: Bool({ description: 'group requests by the Host header', default: false }),
    },
    { description, allowEmpty: true },
  );
}

const IpStrategy = ipStrategy('how the client IP is chosen (default: the socket address)');

export type IpStrategyOptions = Static<typeof IpStrategy>;
export type SourceCriterionOptions = Static<ReturnType<typeof sourceCriterion>>;

const ipAllowListOptions = Obj(
  {
    sourceRange: StrList({ description: 'allowed IPs and CIDRs (IPv4 and IPv6)' }),
    ipStrategy: IpStrategy,
    rejectStatusCode: Int({
      description: 'status answered to clients outside sourceRange',
      default: 403,
      min: 100,
      max: 599,
    }),
  },
  { required: ['sourceRange'], allowEmpty: true },
);

export const ipAllowList = middleware(
  'ipAllowList',
  'lets through only clients whose IP is in sourceRange; others get 403',
  ipAllowListOptions,
);

/** Traefik v2's name, still accepted by v3 (deprecated) */
export const ipWhiteList = middleware(
  'ipWhiteList',
  'deprecated name of ipAllowList (same options and behaviour)',
  ipAllowListOptions,
);

export type IpAllowListOptions = Static<typeof ipAllowListOptions>;

export const inFlightReq = middleware(
  'inFlightReq',
  'limits simultaneous requests per source; over the limit answers 429',
  Obj(
    {
      amount: Int({ description: 'maximum simultaneous requests per source', min: 1 }),
      sourceCriterion: sourceCriterion('how requests are grouped (default: by requestHost)'),
    },
    { required: ['amount'], allowEmpty: true },
  ),
);

export type InFlightReqOptions = Static<typeof inFlightReq.options>;

export const rateLimit = middleware(
  'rateLimit',
  'token-bucket rate limit per source; short waits are delayed, longer ones answered 429',
  Obj(
    {
      average: Int({
        description: 'requests allowed per period on average; 0 disables the limit',
        default: 0,
        min: 0,
      }),
      period: DurationMs({ description: 'the period of average', default: '1s' }),
      burst: Int({ description: 'bucket size: requests allowed at once', default: 1, min: 0 }),
      sourceCriterion: sourceCriterion('how requests are grouped (default: by client IP)'),
      redis: Any({ description: 'distributed limiting through Redis (not supported yet)' }),
    },
    { allowEmpty: true },
  ),
);

export type RateLimitOptions = Static<typeof rateLimit.options>;

export const circuitBreaker = middleware(
  'circuitBreaker',
  'stops sending requests to a failing service for a while (answers 503)',
  Obj(
    {
      expression: Str({ description: 'when to open, e.g. NetworkErrorRatio() > 0.30' }),
      checkPeriod: DurationMs({
        description: 'how often the expression is checked',
        default: '100ms',
      }),
      fallbackDuration: DurationMs({
        description: 'how long the circuit stays open',
        default: '10s',
      }),
      recoveryDuration: DurationMs({
        description: 'how long recovery ramps traffic up',
        default: '10s',
      }),
      responseCode: Int({
        description: 'status answered while open',
        default: 503,
        min: 100,
        max: 599,
      }),
    },
    { required: ['expression'], allowEmpty: true },
  ),
);

export type CircuitBreakerOptions = Static<typeof circuitBreaker.options>;

export const retry = middleware(
  'retry',
  'sends the request again when the upstream cannot be reached',
  Obj(
    {
      attempts: Int({ description: 'how many times the request is tried in all', min: 1 }),
      initialInterval: DurationMs({
        description: 'first wait of the exponential backoff (0: retry at once)',
        default: '0s',
      }),
      timeout: DurationMs({
        description: 'no new attempt after this time since the first (0: no limit)',
        default: '0s',
      }),
      maxRequestBodyBytes: Int({
        description: 'largest request body kept for replay, in bytes (-1: no limit)',
        default: 2097152,
        min: -1,
      }),
      status: StrList({
        description: 'also retry on these response statuses or ranges ("500-599")',
      }),
      disableRetryOnNetworkError: Bool({
        description: 'do not retry network failures (needs status)',
        default: false,
      }),
      retryNonIdempotentMethod: Bool({
        description: 'also retry POST, PATCH and LOCK requests',
        default: false,
      }),
    },
    { required: ['attempts'], allowEmpty: true },
  ),
);

export type RetryOptions = Static<typeof retry.options>;
