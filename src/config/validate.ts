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
 *
 * The element schemas are src/config/schema/ (the one description of every
 * field); this file walks a configuration through them. `tcp` and `udp`
 * elements are checked the same way (their errors have kinds of their own:
 * `tcpRouter`, `udpService`, ...); their rules are parsed where routers are
 * compiled, as for http.
 */
import type { DynamicConfig, ElementError } from './dynamic.js';
import { isPlainObject, setKey } from './objects.js';
import type { TSchema } from './schema/core.js';
import {
  SKIP,
  canonicalEntries,
  decodeValue,
  findCi,
  parseDuration,
  typeName,
  type Issue,
} from './schema/decode.js';
import { Router, SERVICE_TYPES, Service, ServersTransport } from './schema/http.js';
import { middlewareSchemas } from './schema/middlewares/index.js';
import { TlsCertificate, TlsInternalCertificate, TlsOptions, TlsStore } from './schema/tls.js';
import {
  TCP_MIDDLEWARE_TYPES,
  TCP_SERVICE_TYPES,
  TcpMiddleware,
  TcpRouter,
  TcpServersTransport,
  TcpService,
} from './schema/tcp.js';
import { UDP_SERVICE_TYPES, UdpRouter, UdpService } from './schema/udp.js';
import { fieldsOf } from './schema/core.js';
import { compileIpMatcher, InvalidIpEntry } from '../kernel/ip-match.js';
import { suggest } from '../kernel/suggest.js';

// kept here for the callers that imported them from the validator
export { parseDuration, suggest };

export interface ValidateResult {
  config: DynamicConfig;
  errors: ElementError[];
}

type Kind = ElementError['kind'];

/** Traefik's middleware type names, so `StripPrefix` or `stripprefix` normalise to one spelling. */
const MIDDLEWARE_TYPES = middlewareSchemas.map((m) => m.type);

const ROOT_KEYS = ['http', 'tls', 'tcp', 'udp'];
const HTTP_KEYS = ['routers', 'services', 'middlewares', 'serversTransports'];
const TLS_KEYS = ['certificates', 'options', 'stores'];
const TCP_KEYS = ['routers', 'services', 'middlewares', 'serversTransports'];
const UDP_KEYS = ['routers', 'services'];

function check(schema: TSchema, value: unknown, path: string, issues: Issue[]): unknown {
  return decodeValue(schema, value, path, issues, 'config');
}

/* ---------------------------------------------------------------- elements */

function checkRouter(value: unknown, issues: Issue[]): unknown {
  return checkSpec(Router, 'a router', false)(value, issues);
}

/** A service-like element: its schema, plus exactly one of `types` given and not empty. */
function checkOneOf(schema: TSchema, types: readonly string[], what: string) {
  return (value: unknown, issues: Issue[]): unknown => {
    if (!isPlainObject(value)) {
      issues.push({ field: '', message: `${what} must be a mapping, got ${typeName(value)}` });
      return SKIP;
    }
    const out = check(schema, value, '', issues);
    if (out === SKIP || !isPlainObject(out)) return SKIP;
    const given = Object.keys(value)
      .map((k) => types.find((t) => t.toLowerCase() === k.toLowerCase()))
      .filter((t): t is string => t !== undefined);
    if (given.length !== 1) {
      issues.push({
        field: '',
        message:
          given.length === 0
            ? `${what} must have exactly one of ${types.join(', ')}, found none`
            : `${what} must have exactly one of ${types.join(', ')}, found: ${given.join(', ')}`,
      });
    } else if (findCi(value, given[0]!) === null) {
      issues.push({ field: given[0]!, message: `${given[0]} must not be empty` });
    }
    return out;
  };
}

const checkService = checkOneOf(Service, SERVICE_TYPES, 'a service');

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

function checkSpec(spec: TSchema, what: string, nullIsEmpty = true) {
  return (value: unknown, issues: Issue[]): unknown => {
    if (value === null && nullIsEmpty) value = {};
    if (!isPlainObject(value)) {
      issues.push({ field: '', message: `${what} must be a mapping, got ${typeName(value)}` });
      return SKIP;
    }
    return check(spec, value, '', issues);
  };
}

/* ------------------------------------------------------------- tcp and udp */

/**
 * Why `address` is not what Go's net.SplitHostPort (which Traefik's TCP and
 * UDP services check servers with) and a dial accept, or undefined.
 */
export function addressProblem(address: string): string | undefined {
  let host: string;
  let port: string;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    if (end < 0) return 'missing "]"';
    if (address[end + 1] !== ':') return 'missing port';
    host = address.slice(1, end);
    port = address.slice(end + 2);
    if (!host.includes(':')) return 'brackets are for ipv6 addresses only';
  } else {
    const colons = address.split(':').length - 1;
    if (colons === 0) return 'missing port';
    if (colons > 1) return 'too many colons: write an ipv6 address in brackets, [::1]:53';
    [host, port] = address.split(':') as [string, string];
  }
  if (/[\s/]/.test(host)) return `"${host}" is not a host name or ip address`;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    return 'port must be a number from 1 to 65535';
  return undefined;
}

/** Reports every server whose address cannot be dialled, by its index. */
function checkAddresses(out: unknown, issues: Issue[]): void {
  const lb = isPlainObject(out) ? out.loadBalancer : undefined;
  const servers = isPlainObject(lb) ? lb.servers : undefined;
  if (!Array.isArray(servers)) return;
  servers.forEach((server: unknown, i) => {
    const address = isPlainObject(server) ? server.address : undefined;
    if (typeof address !== 'string') return;
    const problem = addressProblem(address);
    if (problem !== undefined) {
      issues.push({
        field: `loadBalancer.servers[${i}].address`,
        message: `invalid address "${address}": ${problem}${problem === 'missing port' ? ' (expected host:port, [ipv6]:port)' : ''}`,
      });
    }
  });
}

function withAddresses(checker: (v: unknown, issues: Issue[]) => unknown) {
  return (value: unknown, issues: Issue[]): unknown => {
    const out = checker(value, issues);
    if (out !== SKIP) checkAddresses(out, issues);
    return out;
  };
}

const checkTcpService = withAddresses(checkOneOf(TcpService, TCP_SERVICE_TYPES, 'a tcp service'));
const checkUdpService = withAddresses(checkOneOf(UdpService, UDP_SERVICE_TYPES, 'a udp service'));

/** A TCP middleware: one of Traefik's three types (a closed set, unlike http's). */
function checkTcpMiddleware(value: unknown, issues: Issue[]): unknown {
  if (!isPlainObject(value)) {
    issues.push({
      field: '',
      message: `a tcp middleware must be a mapping, got ${typeName(value)}`,
    });
    return SKIP;
  }
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    const found = keys.map(
      (k) => TCP_MIDDLEWARE_TYPES.find((t) => t.toLowerCase() === k.toLowerCase()) ?? k,
    );
    issues.push({
      field: '',
      message:
        keys.length === 0
          ? `a tcp middleware must have exactly one type (${TCP_MIDDLEWARE_TYPES.join(', ')}), found none`
          : `a tcp middleware must have exactly one type, found: ${found.join(', ')}`,
    });
    return SKIP;
  }
  const raw = keys[0]!;
  const type = TCP_MIDDLEWARE_TYPES.find((t) => t.toLowerCase() === raw.toLowerCase());
  if (type === undefined) {
    const hint = suggest(raw, TCP_MIDDLEWARE_TYPES);
    issues.push({
      field: raw,
      message:
        `unknown tcp middleware type "${raw}"` +
        (hint
          ? `, did you mean "${hint}"?`
          : ` (tcp middlewares: ${TCP_MIDDLEWARE_TYPES.join(', ')})`),
    });
    return SKIP;
  }
  const before = issues.length;
  const options = check(fieldsOf(TcpMiddleware)[type]!, value[raw] ?? {}, type, issues);
  if (options === SKIP || issues.length > before) return SKIP;
  const sourceRange = (options as { sourceRange?: string[] }).sourceRange;
  if (sourceRange !== undefined) {
    // Traefik refuses an empty list ("sourceRange is empty") and any entry ip.NewChecker refuses
    if (sourceRange.length === 0)
      issues.push({ field: `${type}.sourceRange`, message: 'must not be empty' });
    sourceRange.forEach((entry, i) => {
      try {
        compileIpMatcher([entry]);
      } catch (err) {
        if (!(err instanceof InvalidIpEntry)) throw err;
        issues.push({ field: `${type}.sourceRange[${i}]`, message: err.message });
      }
    });
  }
  const out: Record<string, unknown> = {};
  setKey(out, type, options);
  return out;
}

/* ------------------------------------------------------------------- entry */

type Checker = (v: unknown, issues: Issue[]) => unknown;

/**
 * What every section's walk shares: the errors found so far, how element names
 * are qualified with the provider, and the two shapes a section holds (a
 * mapping of known keys, a mapping of names to elements).
 */
class Walk {
  readonly errors: ElementError[] = [];
  private readonly providerName: string;

  constructor(readonly provider: string | undefined) {
    this.providerName = provider ?? 'config';
  }

  qualify(name: string): string {
    return this.provider && !name.includes('@') ? `${name}@${this.provider}` : name;
  }

  report(kind: Kind, name: string, issue: Issue): void {
    this.errors.push({
      kind,
      name,
      ...(issue.field ? { field: issue.field } : {}),
      message: issue.message,
    });
  }

  /** a problem of the configuration as a whole, not of one element */
  reportRoot(issue: Issue): void {
    this.report('provider', this.providerName, issue);
  }

  /** a section (`http`, `tls.stores`...) with its keys in canonical spelling, or undefined */
  section(
    value: unknown,
    path: string,
    keys: readonly string[],
  ): Record<string, unknown> | undefined {
    if (value === null || value === undefined) return undefined;
    if (!isPlainObject(value)) {
      this.reportRoot({ field: path, message: `expected a mapping, got ${typeName(value)}` });
      return undefined;
    }
    const issues: Issue[] = [];
    const entries = canonicalEntries(value, keys, path, issues);
    for (const issue of issues) this.reportRoot(issue);
    return Object.fromEntries(entries);
  }

  /** the valid elements of a name → definition mapping; each broken one reported and left out */
  elements(
    value: unknown,
    path: string,
    kind: Kind,
    checker: Checker,
  ): Record<string, unknown> | undefined {
    if (value === null || value === undefined) return undefined;
    if (!isPlainObject(value)) {
      this.reportRoot({
        field: path,
        message: `expected a mapping of names to definitions, got ${typeName(value)}`,
      });
      return undefined;
    }
    const valid: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(value)) {
      const issues: Issue[] = [];
      const checked = checker(def, issues);
      for (const issue of issues) this.report(kind, this.qualify(name), issue);
      if (issues.length === 0 && checked !== SKIP) setKey(valid, name, checked);
    }
    return valid;
  }

  /** a section's element mappings, each checked with its kind and checker; absent ones left out */
  elementGroups(
    prefix: string,
    section: Record<string, unknown>,
    groups: Record<string, [Kind, Checker]>,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, [kind, checker]] of Object.entries(groups)) {
      const valid = this.elements(section[key], `${prefix}.${key}`, kind, checker);
      if (valid) out[key] = valid;
    }
    return out;
  }
}

function validateHttp(walk: Walk, http: Record<string, unknown>): DynamicConfig['http'] {
  return walk.elementGroups('http', http, {
    routers: ['router', checkRouter],
    services: ['service', checkService],
    middlewares: ['middleware', checkMiddleware],
    serversTransports: ['serversTransport', checkSpec(ServersTransport, 'a servers transport')],
  }) as DynamicConfig['http'];
}

/** `tls.certificates` is a list, not a mapping: its entries are reported by index */
function validateCertificates(walk: Walk, certificates: unknown): unknown[] | undefined {
  if (certificates === undefined || certificates === null) return undefined;
  if (!Array.isArray(certificates)) {
    walk.report('tls', walk.qualify('tls'), {
      field: 'certificates',
      message: `expected a list, got ${typeName(certificates)}`,
    });
    return undefined;
  }
  const certs: unknown[] = [];
  const spec = walk.provider === 'internal' ? TlsInternalCertificate : TlsCertificate;
  certificates.forEach((cert, i) => {
    const issues: Issue[] = [];
    const checked = check(spec, cert, `certificates[${i}]`, issues);
    if (cert === null) issues.push({ field: `certificates[${i}]`, message: 'empty list entry' });
    for (const issue of issues) walk.report('tls', walk.qualify('tls'), issue);
    if (issues.length === 0 && checked !== SKIP) certs.push(checked);
  });
  return certs;
}

function validateTls(walk: Walk, tls: Record<string, unknown>): DynamicConfig['tls'] {
  const t: Record<string, unknown> = {};
  const certificates = validateCertificates(walk, tls.certificates);
  if (certificates) t.certificates = certificates;
  Object.assign(
    t,
    walk.elementGroups('tls', tls, {
      options: ['tls', checkSpec(TlsOptions, 'tls options')],
      stores: ['tls', checkSpec(TlsStore, 'a tls store')],
    }),
  );
  return t as DynamicConfig['tls'];
}

function validateTcp(walk: Walk, tcp: Record<string, unknown>): DynamicConfig['tcp'] {
  return walk.elementGroups('tcp', tcp, {
    routers: ['tcpRouter', checkSpec(TcpRouter, 'a tcp router', false)],
    services: ['tcpService', checkTcpService],
    middlewares: ['tcpMiddleware', checkTcpMiddleware],
    serversTransports: [
      'tcpServersTransport',
      checkSpec(TcpServersTransport, 'a tcp servers transport'),
    ],
  }) as DynamicConfig['tcp'];
}

function validateUdp(walk: Walk, udp: Record<string, unknown>): DynamicConfig['udp'] {
  return walk.elementGroups('udp', udp, {
    routers: ['udpRouter', checkSpec(UdpRouter, 'a udp router', false)],
    services: ['udpService', checkUdpService],
  }) as DynamicConfig['udp'];
}

/**
 * Checks every element of `config` structurally. The returned config holds only
 * the valid elements, with field names in their canonical spelling; `provider`
 * qualifies element names in errors (`name@provider`) when they are not already.
 */
export function validateDynamic(config: DynamicConfig, provider?: string): ValidateResult {
  const walk = new Walk(provider);
  const out: DynamicConfig = {};
  if (!isPlainObject(config)) {
    walk.reportRoot({
      field: '',
      message: `configuration must be a mapping, got ${typeName(config)}`,
    });
    return { config: out, errors: walk.errors };
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
  for (const issue of rootIssues) walk.reportRoot(issue);

  // in this order, so errors are listed as before: http, tls, tcp, udp
  const http = walk.section(root.http, 'http', HTTP_KEYS);
  if (http) out.http = validateHttp(walk, http);
  const tls = walk.section(root.tls, 'tls', TLS_KEYS);
  if (tls) out.tls = validateTls(walk, tls);
  const tcp = walk.section(root.tcp, 'tcp', TCP_KEYS);
  if (tcp) out.tcp = validateTcp(walk, tcp);
  const udp = walk.section(root.udp, 'udp', UDP_KEYS);
  if (udp) out.udp = validateUdp(walk, udp);

  return { config: out, errors: walk.errors };
}
