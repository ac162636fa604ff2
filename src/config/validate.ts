/*
 * Structural validation of a dynamic configuration, element by element.
 *
 * A broken router, service or middleware is reported and left out; every other
 * element still serves, so this never throws. Only shapes and types are checked
 * here: cross references (router → service, middleware chains, entry points)
 * need the whole merged picture and live in a later stage.
 *
 * Traefik decodes file-provider fields case-insensitively (paerser matches
 * struct fields with strings.EqualFold) and rejects unknown fields, so keys are
 * matched ignoring case, rewritten to their canonical camelCase, and anything
 * unknown is an error with a "did you mean" hint. Traefik also decodes scalars
 * from their text, so `priority: "10"` or `passHostHeader: "false"` are
 * accepted and coerced; strings are never made out of numbers though, a
 * numeric `rule` is more likely a mistake than intent.
 */
import type { DynamicConfig, ElementError } from './dynamic.js';
import { tryParseGoDuration } from '../kernel/duration.js';
import { isPlainObject, setKey } from './objects.js';

export interface ValidateResult {
  config: DynamicConfig;
  errors: ElementError[];
}

type Kind = ElementError['kind'];

interface Issue {
  field: string;
  message: string;
}

/* ------------------------------------------------------------------ specs */

type Spec =
  | { t: 'string'; oneOf?: readonly string[]; check?: (v: string) => string | undefined }
  | { t: 'int'; min?: number; max?: number }
  | { t: 'bool' }
  | { t: 'duration'; min?: number }
  | { t: 'url' }
  | { t: 'stringList' }
  | { t: 'array'; of: Spec; nonEmpty?: boolean }
  | { t: 'map'; of: Spec }
  | {
      t: 'object';
      fields: Record<string, Spec>;
      required?: readonly string[];
      allowEmpty?: boolean;
    }
  | { t: 'any' };

const str = (extra: Omit<Extract<Spec, { t: 'string' }>, 't'> = {}): Spec => ({
  t: 'string',
  ...extra,
});
const int = (min?: number, max?: number): Spec => ({ t: 'int', min, max });
const bool: Spec = { t: 'bool' };
const duration = (min?: number): Spec => ({ t: 'duration', min });
const stringList: Spec = { t: 'stringList' };
const obj = (
  fields: Record<string, Spec>,
  extra: { required?: readonly string[]; allowEmpty?: boolean } = {},
): Spec => ({ t: 'object', fields, ...extra });

const stickySpec = obj({
  cookie: obj(
    {
      name: str(),
      secure: bool,
      httpOnly: bool,
      sameSite: str({ oneOf: ['none', 'lax', 'strict', ''] }),
      maxAge: int(),
      path: str(),
      domain: str(),
    },
    // `cookie: {}` (or `cookie: true` as labels write it) turns stickiness on with defaults
    { allowEmpty: true },
  ),
});

/** Composite services only take an empty `healthCheck: {}` (propagate child status). */
const emptyHealthCheck = obj({}, { allowEmpty: true });

const healthCheckSpec = obj(
  {
    scheme: str(),
    mode: str({ oneOf: ['http', 'grpc'] }),
    path: str({ check: (v) => (v.startsWith('/') ? undefined : `path must start with '/'`) }),
    method: str(),
    status: int(100, 599),
    port: int(1, 65535),
    interval: duration(0),
    unhealthyInterval: duration(0),
    timeout: duration(0),
    hostname: str(),
    followRedirects: bool,
    headers: { t: 'map', of: str() },
  },
  { required: ['path'] },
);

const loadBalancerSpec = obj({
  servers: {
    t: 'array',
    of: obj({ url: { t: 'url' }, weight: int(0), preservePath: bool }, { required: ['url'] }),
  },
  strategy: str({ oneOf: ['wrr', 'p2c', 'hrw', 'leasttime'] }),
  sticky: stickySpec,
  healthCheck: healthCheckSpec,
  passiveHealthCheck: obj({ failureWindow: duration(0), maxFailedAttempts: int(1) }),
  passHostHeader: bool,
  responseForwarding: obj({ flushInterval: duration() }),
  serversTransport: str(),
});

const SERVICE_TYPES = ['loadBalancer', 'weighted', 'mirroring', 'failover'] as const;

const serviceSpec = obj({
  loadBalancer: loadBalancerSpec,
  weighted: obj(
    {
      services: {
        t: 'array',
        of: obj({ name: str(), weight: int(0) }, { required: ['name'] }),
        nonEmpty: true,
      },
      sticky: stickySpec,
      healthCheck: emptyHealthCheck,
    },
    { required: ['services'] },
  ),
  mirroring: obj(
    {
      service: str(),
      mirrors: {
        t: 'array',
        of: obj({ name: str(), percent: int(0, 100) }, { required: ['name'] }),
      },
      mirrorBody: bool,
      maxBodySize: int(-1),
      healthCheck: emptyHealthCheck,
    },
    { required: ['service'] },
  ),
  failover: obj(
    {
      service: str(),
      fallback: str(),
      healthCheck: emptyHealthCheck,
      errors: obj({ status: stringList, maxRequestBodyBytes: int(-1) }),
    },
    { required: ['service', 'fallback'] },
  ),
});

const routerSpec = obj(
  {
    rule: str(),
    ruleSyntax: str({ oneOf: ['v2', 'v3'] }),
    entryPoints: stringList,
    middlewares: stringList,
    service: str(),
    priority: int(),
    tls: obj(
      {
        certResolver: str(),
        options: str(),
        domains: { t: 'array', of: obj({ main: str(), sans: stringList }) },
      },
      // `tls: {}` alone means "terminate TLS with the default certificate"
      { allowEmpty: true },
    ),
    observability: obj({ accessLogs: bool, metrics: bool, tracing: bool, traceVerbosity: str() }),
  },
  { required: ['rule', 'service'] },
);

const certFiles = obj({ certFile: str(), keyFile: str() }, { required: ['certFile', 'keyFile'] });

const serversTransportSpec = obj({
  serverName: str(),
  insecureSkipVerify: bool,
  rootCAs: stringList,
  certificates: { t: 'array', of: certFiles },
  maxIdleConnsPerHost: int(-1),
  disableHTTP2: bool,
  peerCertURI: str(),
  cipherSuites: stringList,
  minVersion: str(),
  maxVersion: str(),
  forwardingTimeouts: obj({
    dialTimeout: duration(0),
    responseHeaderTimeout: duration(0),
    idleConnTimeout: duration(0),
    readIdleTimeout: duration(0),
    pingTimeout: duration(0),
  }),
  spiffe: obj({ ids: stringList, trustDomain: str() }),
});

const tlsCertificateSpec = obj(
  { certFile: str(), keyFile: str(), stores: stringList },
  { required: ['certFile', 'keyFile'] },
);

/** The ACME manager's certificates (provider `internal`) also say which resolver issued them. */
const tlsInternalCertificateSpec = obj(
  { certFile: str(), keyFile: str(), stores: stringList, resolver: str() },
  { required: ['certFile', 'keyFile'] },
);

const tlsOptionSpec = obj({
  minVersion: str(),
  maxVersion: str(),
  cipherSuites: stringList,
  curvePreferences: stringList,
  clientAuth: obj({ caFiles: stringList, clientAuthType: str() }),
  sniStrict: bool,
  alpnProtocols: stringList,
  disableSessionTickets: bool,
  preferServerCipherSuites: bool,
});

const tlsStoreSpec = obj({
  defaultCertificate: certFiles,
  defaultGeneratedCert: obj({
    resolver: str(),
    domain: obj({ main: str(), sans: stringList }),
  }),
});

/** Traefik's middleware type names, so `StripPrefix` or `stripprefix` normalise to one spelling. */
const MIDDLEWARE_TYPES = [
  'addPrefix',
  'basicAuth',
  'buffering',
  'chain',
  'circuitBreaker',
  'compress',
  'contentType',
  'digestAuth',
  'encodedCharacters',
  'errors',
  'forwardAuth',
  'grpcWeb',
  'headers',
  'ipAllowList',
  'ipWhiteList',
  'inFlightReq',
  'passTLSClientCert',
  'plugin',
  'rateLimit',
  'redirectRegex',
  'redirectScheme',
  'replacePath',
  'replacePathRegex',
  'retry',
  'stripPrefix',
  'stripPrefixRegex',
];

const ROOT_KEYS = ['http', 'tls', 'tcp', 'udp'];
const HTTP_KEYS = ['routers', 'services', 'middlewares', 'serversTransports'];
const TLS_KEYS = ['certificates', 'options', 'stores'];

/* ---------------------------------------------------------------- helpers */

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** Closest known name within a small edit distance, for "did you mean" hints. */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = lower.length <= 4 ? 1 : lower.length <= 8 ? 2 : 3;
  return bestDistance <= limit ? best : undefined;
}

function unknownFieldMessage(key: string, known: readonly string[]): string {
  const hint = suggest(key, known);
  return hint ? `unknown field "${key}", did you mean "${hint}"?` : `unknown field "${key}"`;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/**
 * Maps each key of `value` to its canonical spelling among `known` (exact match
 * first, then ignoring case). Unknown and doubly-spelled keys become issues.
 */
function canonicalEntries(
  value: Record<string, unknown>,
  known: readonly string[],
  path: string,
  issues: Issue[],
): [string, unknown][] {
  const byLower = new Map(known.map((k) => [k.toLowerCase(), k]));
  const seen = new Map<string, string>();
  const out: [string, unknown][] = [];
  for (const [key, v] of Object.entries(value)) {
    const canonical = known.includes(key) ? key : byLower.get(key.toLowerCase());
    if (canonical === undefined) {
      issues.push({ field: join(path, key), message: unknownFieldMessage(key, known) });
      continue;
    }
    const previous = seen.get(canonical);
    if (previous !== undefined) {
      issues.push({
        field: join(path, canonical),
        message: `field given twice ("${previous}" and "${key}"); field names are case-insensitive`,
      });
      continue;
    }
    seen.set(canonical, key);
    out.push([canonical, v]);
  }
  return out;
}

/** Go's strconv.ParseBool spellings, which Traefik accepts for booleans given as text. */
const TRUE_TEXT = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_TEXT = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** Seconds for a Go duration string, or a bare number of seconds (Traefik's ptypes.Duration). */
export function parseDuration(value: string | number): number | undefined {
  const ms = tryParseGoDuration(value);
  return ms === undefined ? undefined : ms / 1000;
}

const SKIP = Symbol('skip');
type Checked = unknown | typeof SKIP;

/**
 * Checks `value` against `spec` and returns its normalised form; problems go to
 * `issues`. Returns SKIP when the value should be left out (null scalars, which
 * Traefik decodes as the zero value, i.e. "not set").
 */
function check(spec: Spec, value: unknown, path: string, issues: Issue[]): Checked {
  const fail = (message: string): typeof SKIP => {
    issues.push({ field: path, message });
    return SKIP;
  };
  switch (spec.t) {
    case 'any':
      return value;
    case 'string': {
      if (value === null || value === undefined) return SKIP;
      if (typeof value !== 'string') return fail(`expected a string, got ${typeName(value)}`);
      let v = value;
      if (spec.oneOf) {
        const match = spec.oneOf.find((o) => o.toLowerCase() === v.toLowerCase());
        if (match === undefined) {
          const allowed = spec.oneOf.filter((o) => o !== '').join(', ');
          return fail(`invalid value "${v}", expected one of: ${allowed}`);
        }
        v = match;
      }
      const problem = spec.check?.(v);
      return problem ? fail(problem) : v;
    }
    case 'int': {
      if (value === null || value === undefined) return SKIP;
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && /^[-+]?\d+$/.test(value.trim())) n = Number(value);
      else return fail(`expected an integer, got ${typeName(value)}`);
      if (!Number.isSafeInteger(n)) return fail(`expected an integer, got ${n}`);
      if (spec.min !== undefined && n < spec.min) {
        return fail(
          spec.min === 0
            ? `must not be negative, got ${n}`
            : `must be at least ${spec.min}, got ${n}`,
        );
      }
      if (spec.max !== undefined && n > spec.max)
        return fail(`must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case 'bool': {
      if (value === null || value === undefined) return SKIP;
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && TRUE_TEXT.has(value.trim())) return true;
      if (typeof value === 'string' && FALSE_TEXT.has(value.trim())) return false;
      return fail(`expected a boolean, got ${typeName(value)}`);
    }
    case 'duration': {
      if (value === null || value === undefined) return SKIP;
      if (typeof value !== 'string' && typeof value !== 'number') {
        return fail(
          `expected a duration such as "10s" or a number of seconds, got ${typeName(value)}`,
        );
      }
      const seconds = parseDuration(value);
      if (seconds === undefined) {
        return fail(
          `invalid duration "${value}", expected e.g. "500ms", "10s", "1m30s" or seconds`,
        );
      }
      if (spec.min !== undefined && seconds < spec.min)
        return fail(`must not be negative, got ${value}`);
      return value;
    }
    case 'url': {
      if (value === null || value === undefined) return SKIP;
      if (typeof value !== 'string') return fail(`expected a url string, got ${typeName(value)}`);
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return fail(`invalid url "${value}": not an absolute url`);
      }
      if (!['http:', 'https:', 'h2c:'].includes(url.protocol)) {
        return fail(`invalid url "${value}": scheme must be http, https or h2c`);
      }
      if (!url.hostname) return fail(`invalid url "${value}": missing host`);
      return value;
    }
    case 'stringList': {
      if (value === null || value === undefined) return SKIP;
      // Traefik splits a scalar on commas for list fields, as labels do
      if (typeof value === 'string') {
        return value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
      }
      if (!Array.isArray(value)) return fail(`expected a list of strings, got ${typeName(value)}`);
      const before = issues.length;
      value.forEach((item, i) => {
        if (typeof item !== 'string') {
          issues.push({
            field: `${path}[${i}]`,
            message: `expected a string, got ${typeName(item)}`,
          });
        }
      });
      return issues.length > before ? SKIP : [...(value as string[])];
    }
    case 'array': {
      if (value === null || value === undefined) return SKIP;
      if (!Array.isArray(value)) return fail(`expected a list, got ${typeName(value)}`);
      if (spec.nonEmpty && value.length === 0) return fail('must not be empty');
      const out: unknown[] = [];
      value.forEach((item, i) => {
        const r = check(spec.of, item, `${path}[${i}]`, issues);
        if (r === SKIP) {
          if (item === null) issues.push({ field: `${path}[${i}]`, message: 'empty list entry' });
        } else out.push(r);
      });
      return out;
    }
    case 'map': {
      if (value === null || value === undefined) return SKIP;
      if (!isPlainObject(value)) return fail(`expected a mapping, got ${typeName(value)}`);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const r = check(spec.of, v, join(path, k), issues);
        if (r !== SKIP) setKey(out, k, r);
      }
      return out;
    }
    case 'object': {
      if (value === undefined) return SKIP;
      if (value === null)
        return spec.allowEmpty || Object.keys(spec.fields).length === 0 ? {} : SKIP;
      if (spec.allowEmpty && typeof value === 'boolean') return value ? {} : SKIP;
      if (!isPlainObject(value)) return fail(`expected a mapping, got ${typeName(value)}`);
      const out: Record<string, unknown> = {};
      const known = Object.keys(spec.fields);
      for (const [key, v] of canonicalEntries(value, known, path, issues)) {
        const r = check(spec.fields[key]!, v, join(path, key), issues);
        if (r !== SKIP) setKey(out, key, r);
      }
      for (const req of spec.required ?? []) {
        const given = findCi(value, req);
        if (given === undefined || given === null) {
          issues.push({ field: join(path, req), message: `missing required field "${req}"` });
        }
      }
      return out;
    }
  }
}

function findCi(value: Record<string, unknown>, key: string): unknown {
  const k = Object.keys(value).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : value[k];
}

/* ---------------------------------------------------------------- elements */

function checkRouter(value: unknown, issues: Issue[]): unknown {
  if (!isPlainObject(value)) {
    issues.push({ field: '', message: `a router must be a mapping, got ${typeName(value)}` });
    return SKIP;
  }
  return check(routerSpec, value, '', issues);
}

function checkService(value: unknown, issues: Issue[]): unknown {
  if (!isPlainObject(value)) {
    issues.push({ field: '', message: `a service must be a mapping, got ${typeName(value)}` });
    return SKIP;
  }
  const out = check(serviceSpec, value, '', issues);
  if (out === SKIP || !isPlainObject(out)) return SKIP;
  const types = Object.keys(value)
    .map((k) => SERVICE_TYPES.find((t) => t.toLowerCase() === k.toLowerCase()))
    .filter((t): t is (typeof SERVICE_TYPES)[number] => t !== undefined);
  if (types.length !== 1) {
    issues.push({
      field: '',
      message:
        types.length === 0
          ? `a service must have exactly one of ${SERVICE_TYPES.join(', ')}, found none`
          : `a service must have exactly one of ${SERVICE_TYPES.join(', ')}, found: ${types.join(', ')}`,
    });
  } else if (findCi(value, types[0]!) === null) {
    issues.push({ field: types[0]!, message: `${types[0]} must not be empty` });
  }
  return out;
}

function checkMiddleware(value: unknown, issues: Issue[]): unknown {
  if (!isPlainObject(value)) {
    issues.push({ field: '', message: `a middleware must be a mapping, got ${typeName(value)}` });
    return SKIP;
  }
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    issues.push({
      field: '',
      message:
        keys.length === 0
          ? 'a middleware must have exactly one type, found none'
          : `a middleware must have exactly one type, found: ${keys.join(', ')}`,
    });
    return SKIP;
  }
  const raw = keys[0]!;
  // unknown types pass through: the middleware registry knows which ones exist
  const type = MIDDLEWARE_TYPES.find((t) => t.toLowerCase() === raw.toLowerCase()) ?? raw;
  const options = value[raw];
  if (options !== null && !isPlainObject(options)) {
    issues.push({ field: type, message: `options must be a mapping, got ${typeName(options)}` });
    return SKIP;
  }
  const out: Record<string, unknown> = {};
  setKey(out, type, options ?? {});
  return out;
}

function checkSpec(spec: Spec, what: string) {
  return (value: unknown, issues: Issue[]): unknown => {
    if (value === null) value = {};
    if (!isPlainObject(value)) {
      issues.push({ field: '', message: `${what} must be a mapping, got ${typeName(value)}` });
      return SKIP;
    }
    return check(spec, value, '', issues);
  };
}

/* ------------------------------------------------------------------- entry */

/**
 * Checks every element of `config` structurally. The returned config holds only
 * the valid elements, with field names in their canonical spelling; `provider`
 * qualifies element names in errors (`name@provider`) when they are not already.
 */
export function validateDynamic(config: DynamicConfig, provider?: string): ValidateResult {
  const errors: ElementError[] = [];
  const qualify = (name: string) =>
    provider && !name.includes('@') ? `${name}@${provider}` : name;
  const providerName = provider ?? 'config';
  const report = (kind: Kind, name: string, issue: Issue) =>
    errors.push({
      kind,
      name,
      ...(issue.field ? { field: issue.field } : {}),
      message: issue.message,
    });

  const out: DynamicConfig = {};
  if (!isPlainObject(config)) {
    report('provider', providerName, {
      field: '',
      message: `configuration must be a mapping, got ${typeName(config)}`,
    });
    return { config: out, errors };
  }

  const rootIssues: Issue[] = [];
  // `x-*` root keys only hold YAML anchors for reuse (the Compose convention);
  // Traefik ignores unknown root keys altogether, Portico reports the others
  const rootInput = Object.fromEntries(
    Object.entries(config as Record<string, unknown>).filter(([k]) => !k.startsWith('x-')),
  );
  const root = Object.fromEntries(canonicalEntries(rootInput, ROOT_KEYS, '', rootIssues)) as Record<
    string,
    unknown
  >;
  for (const issue of rootIssues) report('provider', providerName, issue);

  const section = (
    value: unknown,
    path: string,
    keys: readonly string[],
  ): Record<string, unknown> | undefined => {
    if (value === null || value === undefined) return undefined;
    if (!isPlainObject(value)) {
      report('provider', providerName, {
        field: path,
        message: `expected a mapping, got ${typeName(value)}`,
      });
      return undefined;
    }
    const issues: Issue[] = [];
    const entries = canonicalEntries(value, keys, path, issues);
    for (const issue of issues) report('provider', providerName, issue);
    return Object.fromEntries(entries);
  };

  const elements = (
    value: unknown,
    path: string,
    kind: Kind,
    checker: (v: unknown, issues: Issue[]) => unknown,
  ): Record<string, unknown> | undefined => {
    if (value === null || value === undefined) return undefined;
    if (!isPlainObject(value)) {
      report('provider', providerName, {
        field: path,
        message: `expected a mapping of names to definitions, got ${typeName(value)}`,
      });
      return undefined;
    }
    const valid: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(value)) {
      const issues: Issue[] = [];
      const checked = checker(def, issues);
      for (const issue of issues) report(kind, qualify(name), issue);
      if (issues.length === 0 && checked !== SKIP) setKey(valid, name, checked);
    }
    return valid;
  };

  const http = section(root.http, 'http', HTTP_KEYS);
  if (http) {
    const h: Record<string, unknown> = {};
    const routers = elements(http.routers, 'http.routers', 'router', checkRouter);
    const services = elements(http.services, 'http.services', 'service', checkService);
    const middlewares = elements(
      http.middlewares,
      'http.middlewares',
      'middleware',
      checkMiddleware,
    );
    const transports = elements(
      http.serversTransports,
      'http.serversTransports',
      'serversTransport',
      checkSpec(serversTransportSpec, 'a servers transport'),
    );
    if (routers) h.routers = routers;
    if (services) h.services = services;
    if (middlewares) h.middlewares = middlewares;
    if (transports) h.serversTransports = transports;
    out.http = h as DynamicConfig['http'];
  }

  const tls = section(root.tls, 'tls', TLS_KEYS);
  if (tls) {
    const t: Record<string, unknown> = {};
    if (tls.certificates !== undefined && tls.certificates !== null) {
      if (!Array.isArray(tls.certificates)) {
        report('tls', qualify('tls'), {
          field: 'certificates',
          message: `expected a list, got ${typeName(tls.certificates)}`,
        });
      } else {
        const certs: unknown[] = [];
        tls.certificates.forEach((cert, i) => {
          const issues: Issue[] = [];
          const spec = provider === 'internal' ? tlsInternalCertificateSpec : tlsCertificateSpec;
          const checked = check(spec, cert, `certificates[${i}]`, issues);
          if (cert === null)
            issues.push({ field: `certificates[${i}]`, message: 'empty list entry' });
          for (const issue of issues) report('tls', qualify('tls'), issue);
          if (issues.length === 0 && checked !== SKIP) certs.push(checked);
        });
        t.certificates = certs;
      }
    }
    const options = elements(
      tls.options,
      'tls.options',
      'tls',
      checkSpec(tlsOptionSpec, 'tls options'),
    );
    const stores = elements(
      tls.stores,
      'tls.stores',
      'tls',
      checkSpec(tlsStoreSpec, 'a tls store'),
    );
    if (options) t.options = options;
    if (stores) t.stores = stores;
    out.tls = t as DynamicConfig['tls'];
  }

  for (const proto of ['tcp', 'udp'] as const) {
    const value = root[proto];
    if (value === undefined || value === null) continue;
    const routers = isPlainObject(value) ? findCi(value, 'routers') : undefined;
    const count = isPlainObject(routers) ? Object.keys(routers).length : 0;
    report('provider', providerName, {
      field: proto,
      message: `${proto} routing is not supported yet; ${count} router${count === 1 ? '' : 's'} ignored`,
    });
  }

  return { config: out, errors };
}
