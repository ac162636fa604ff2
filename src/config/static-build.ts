/*
 * Building the StaticConfig from the merged store: defaults (read from the
 * schema, so `--help`, the docs and the built configuration agree), entry
 * points, access log, metrics, providers, and the checks that span options
 * (addresses used twice, readHeaderTimeout within readTimeout, ...). ACME
 * resolvers and entry point TLS domains: static-build-tls.ts; the Kubernetes
 * providers: static-build-kubernetes.ts.
 */
import { availableParallelism } from 'node:os';
import { StaticConfigError } from '../kernel/errors.js';
import { formatDuration, parseDuration } from '../kernel/duration.js';
import { editDistance } from '../kernel/suggest.js';
import { ACCESS_LOG_FIELDS, ACCESS_LOG_TRAEFIK_ONLY_FIELDS } from './access-log-fields.js';
import { ENCODED_CHARACTERS, staticOptions } from './schema/static.js';
import { parseAddress, type ParsedAddress } from './static-values.js';
import {
  absolute,
  entry,
  RANK,
  renderFor,
  valueOf,
  type Context,
  type Entry,
} from './static-store.js';
import { buildDomains, buildResolvers } from './static-build-tls.js';
import {
  buildKubernetesCrdProvider,
  buildKubernetesGatewayProvider,
  buildKubernetesIngressNginxProvider,
  buildKubernetesIngressProvider,
} from './static-build-kubernetes.js';
import type {
  AccessLogFieldMode,
  AccessLogFields,
  AccessLogFilters,
  EntryPointConfig,
  StaticConfig,
} from './static-types.js';

/** a default as the schema states it, so `--help`, the docs and the built configuration agree */
export function schemaDefault(path: string): string {
  const def = staticOptions().find((o) => o.path === path)?.def;
  if (def === undefined) throw new Error(`static schema: no default for ${path}`);
  return def;
}
export const EP = 'entryPoints.<name>.';
export const defaultMs = (path: string): number => parseDuration(schemaDefault(path), path);
export const defaultInt = (path: string): number => Number(schemaDefault(path));

export const DEFAULTS = {
  readTimeoutMs: defaultMs(`${EP}transport.respondingTimeouts.readTimeout`),
  readHeaderTimeoutMs: defaultMs(`${EP}transport.respondingTimeouts.readHeaderTimeout`),
  writeTimeoutMs: defaultMs(`${EP}transport.respondingTimeouts.writeTimeout`),
  idleTimeoutMs: defaultMs(`${EP}transport.respondingTimeouts.idleTimeout`),
  graceTimeOutMs: defaultMs(`${EP}transport.lifeCycle.graceTimeOut`),
  requestAcceptGraceTimeoutMs: defaultMs(`${EP}transport.lifeCycle.requestAcceptGraceTimeout`),
  keepAliveMaxRequests: defaultInt(`${EP}transport.keepAliveMaxRequests`),
  maxHeaderBytes: defaultInt(`${EP}http.maxHeaderBytes`),
  providersThrottleDurationMs: defaultMs('providers.providersThrottleDuration'),
  dialTimeoutMs: defaultMs('serversTransport.forwardingTimeouts.dialTimeout'),
  responseHeaderTimeoutMs: defaultMs('serversTransport.forwardingTimeouts.responseHeaderTimeout'),
  idleConnTimeoutMs: defaultMs('serversTransport.forwardingTimeouts.idleConnTimeout'),
  maxIdleConnsPerHost: defaultInt('serversTransport.maxIdleConnsPerHost'),
  udpTimeoutMs: defaultMs(`${EP}udp.timeout`),
  /** unprivileged, so Portico runs as a non-root user without extra capabilities */
  webAddress: ':8000',
  internalAddress: ':8080',
} as const;

// ---------------------------------------------------------------------------
// Building the StaticConfig

export function defaultEntryPoint(name: string, address: ParsedAddress): EntryPointConfig {
  return {
    name,
    address: address.address,
    host: address.host,
    port: address.port,
    forwardedHeaders: { trustedIPs: [], insecure: false },
    transport: {
      respondingTimeouts: {
        readTimeoutMs: DEFAULTS.readTimeoutMs,
        readHeaderTimeoutMs: DEFAULTS.readHeaderTimeoutMs,
        writeTimeoutMs: DEFAULTS.writeTimeoutMs,
        idleTimeoutMs: DEFAULTS.idleTimeoutMs,
      },
      lifeCycle: {
        graceTimeOutMs: DEFAULTS.graceTimeOutMs,
        requestAcceptGraceTimeoutMs: DEFAULTS.requestAcceptGraceTimeoutMs,
      },
      keepAliveMaxRequests: DEFAULTS.keepAliveMaxRequests,
    },
    http: {
      middlewares: [],
      maxHeaderBytes: DEFAULTS.maxHeaderBytes,
      sanitizePath: true,
      // Traefik's current default: ambiguous encoded characters are refused (its request-path security page)
      encodedCharacters: {
        allowEncodedSlash: false,
        allowEncodedBackSlash: false,
        allowEncodedNullCharacter: false,
        allowEncodedSemicolon: false,
        allowEncodedPercent: false,
        allowEncodedQuestionMark: false,
        allowEncodedHash: false,
      },
    },
    asDefault: false,
    ...(address.protocol === 'udp' ? { udp: { timeoutMs: DEFAULTS.udpTimeoutMs } } : {}),
  };
}

export function buildEntryPoint(ctx: Context, name: string): EntryPointConfig {
  const p = `entryPoints.${name}.`;
  const addressEntry = entry(ctx, `${p}address`);
  if (!addressEntry) {
    const source = ctx.store.entryPointNames.get(name.toLowerCase())?.source ?? { kind: 'flag' };
    throw new StaticConfigError(
      renderFor(source, ['entryPoints', name, 'address']),
      `is required (entry point "${name}" has no address)`,
    );
  }
  const ep = defaultEntryPoint(name, addressEntry.value as ParsedAddress);
  const get = <T>(key: string, fallback: T): T => valueOf(ctx, `${p}${key}`, fallback);
  ep.forwardedHeaders.trustedIPs = get(
    'forwardedHeaders.trustedIPs',
    ep.forwardedHeaders.trustedIPs,
  );
  ep.forwardedHeaders.insecure = get('forwardedHeaders.insecure', false);
  const proxyProtocol = entry(ctx, `${p}proxyProtocol`);
  if (proxyProtocol !== undefined && proxyProtocol.value !== false) {
    ep.proxyProtocol = {
      trustedIPs: get('proxyProtocol.trustedIPs', []),
      insecure: get('proxyProtocol.insecure', false),
    };
    // Traefik fails the entrypoint at start here (ip.NewChecker: "no trusted IPs provided")
    if (!ep.proxyProtocol.insecure && ep.proxyProtocol.trustedIPs.length === 0) {
      throw new StaticConfigError(
        proxyProtocol.origin,
        'needs trustedIPs or insecure (no sender would be trusted)',
      );
    }
  }
  const rt = ep.transport.respondingTimeouts;
  rt.readTimeoutMs = get('transport.respondingTimeouts.readTimeout', rt.readTimeoutMs);
  rt.writeTimeoutMs = get('transport.respondingTimeouts.writeTimeout', rt.writeTimeoutMs);
  rt.idleTimeoutMs = get('transport.respondingTimeouts.idleTimeout', rt.idleTimeoutMs);
  const headerEntry = entry(ctx, `${p}transport.respondingTimeouts.readHeaderTimeout`);
  if (headerEntry) {
    rt.readHeaderTimeoutMs = headerEntry.value as number;
    if (rt.readTimeoutMs > 0 && rt.readHeaderTimeoutMs > rt.readTimeoutMs) {
      throw new StaticConfigError(
        headerEntry.origin,
        `must not exceed readTimeout (${formatDuration(rt.readHeaderTimeoutMs)} > ${formatDuration(rt.readTimeoutMs)})`,
      );
    }
  } else if (rt.readTimeoutMs > 0) {
    // the default must not be the one thing that fails a shorter readTimeout someone set
    rt.readHeaderTimeoutMs = Math.min(rt.readHeaderTimeoutMs, rt.readTimeoutMs);
  }
  const lc = ep.transport.lifeCycle;
  lc.graceTimeOutMs = get('transport.lifeCycle.graceTimeOut', lc.graceTimeOutMs);
  lc.requestAcceptGraceTimeoutMs = get(
    'transport.lifeCycle.requestAcceptGraceTimeout',
    lc.requestAcceptGraceTimeoutMs,
  );
  ep.transport.keepAliveMaxRequests = get(
    'transport.keepAliveMaxRequests',
    ep.transport.keepAliveMaxRequests,
  );
  ep.http.middlewares = get('http.middlewares', ep.http.middlewares);
  ep.http.maxHeaderBytes = get('http.maxHeaderBytes', ep.http.maxHeaderBytes);
  ep.http.sanitizePath = get('http.sanitizePath', ep.http.sanitizePath);
  for (const name of ENCODED_CHARACTERS) {
    ep.http.encodedCharacters[name] = get(`http.encodedCharacters.${name}`, false);
  }
  if (valueOf(ctx, `${p}http.tls`, false)) {
    const options = entry(ctx, `${p}http.tls.options`);
    const resolver = entry(ctx, `${p}http.tls.certResolver`);
    const domains = buildDomains(ctx, ['entryPoints', name, 'http', 'tls', 'domains']);
    ep.http.tls = {
      ...(options ? { options: String(options.value) } : {}),
      ...(resolver ? { certResolver: String(resolver.value) } : {}),
      ...(domains.length > 0 ? { domains } : {}),
    };
  }
  const to = entry(ctx, `${p}http.redirections.entryPoint.to`);
  if (to) {
    ep.http.redirect = {
      to: String(to.value),
      toOrigin: to.origin,
      scheme: get('http.redirections.entryPoint.scheme', 'https'),
      permanent: get('http.redirections.entryPoint.permanent', true),
      priority: get('http.redirections.entryPoint.priority', Number.MAX_SAFE_INTEGER - 1),
    };
  }
  ep.asDefault = get('asDefault', false);
  if (ep.udp !== undefined) {
    const timeout = entry(ctx, `${p}udp.timeout`);
    if (timeout !== undefined) {
      // Traefik's udp.ListenPacketConn: "timeout should be greater than zero"
      if ((timeout.value as number) <= 0)
        throw new StaticConfigError(timeout.origin, 'must be greater than zero');
      ep.udp.timeoutMs = timeout.value as number;
    }
  }
  return ep;
}

/** An HTTP feature (ping, redirections, metrics, HTTP-01) cannot be served on a UDP entrypoint. */
function checkNotUdp(
  entryPoints: Record<string, EntryPointConfig>,
  name: string | undefined,
  origin: string,
): void {
  if (name !== undefined && entryPoints[name]?.udp !== undefined)
    throw new StaticConfigError(
      origin,
      `"${name}" is a udp entrypoint; it serves udp routers only`,
    );
}

/** accessLog.filters.*: undefined when none is set */
export function buildAccessLogFilters(ctx: Context): AccessLogFilters | undefined {
  const p = 'accessLog.filters.';
  const codes = entry(ctx, `${p}statusCodes`);
  const retry = entry(ctx, `${p}retryAttempts`);
  const min = entry(ctx, `${p}minDuration`);
  if (!codes && !retry && !min) return undefined;
  return {
    statusCodes: codes ? parseStatusCodes(codes.value as string[], codes.origin) : [],
    retryAttempts: retry?.value === true,
    minDurationMs: (min?.value as number | undefined) ?? 0,
  };
}

/** "200", "300-302" (both ends included) → [from, to] */
export function parseStatusCodes(items: string[], origin: string): [number, number][] {
  return items.map((item) => {
    const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(item);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (!m || from < 100 || to > 599 || from > to) {
      throw new StaticConfigError(
        origin,
        `${JSON.stringify(item)} is not a status code or range like 300-302`,
      );
    }
    return [from, to];
  });
}

/** the entries of a name → mode map (fields.names, fields.headers.names), highest source first */
export function modeEntries(
  ctx: Context,
  prefix: string,
): Map<string, { name: string; entry: Entry }> {
  const found = new Map<string, { name: string; entry: Entry }>();
  for (const [key, e] of ctx.store.entries) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    const lower = name.toLowerCase();
    const prev = found.get(lower);
    // names match case-insensitively: the same field spelt differently by two sources is one option
    if (!prev || RANK[e.source.kind] >= RANK[prev.entry.source.kind])
      found.set(lower, { name, entry: e });
  }
  return found;
}

export const FIELD_NAMES = [...ACCESS_LOG_FIELDS, ...ACCESS_LOG_TRAEFIK_ONLY_FIELDS];

/** accessLog.fields.*: undefined when none is set (Traefik's defaults apply) */
export function buildAccessLogFields(ctx: Context): AccessLogFields | undefined {
  const p = 'accessLog.fields.';
  const fieldModes = modeEntries(ctx, `${p}names.`);
  const headerModes = modeEntries(ctx, `${p}headers.names.`);
  const defaultMode = entry(ctx, `${p}defaultMode`);
  const headerDefault = entry(ctx, `${p}headers.defaultMode`);
  if (!defaultMode && !headerDefault && fieldModes.size === 0 && headerModes.size === 0) {
    return undefined;
  }
  const names: Record<string, AccessLogFieldMode> = {};
  for (const [lower, { name, entry: e }] of fieldModes) {
    const known = FIELD_NAMES.find((f) => f.toLowerCase() === lower);
    if (known === undefined) {
      const near = FIELD_NAMES.map((f) => [f, editDistance(lower, f.toLowerCase())] as const).sort(
        (a, b) => a[1] - b[1],
      )[0];
      const hint = near && near[1] <= 3 ? `did you mean ${near[0]}?` : 'see docs/access-log.md';
      throw new StaticConfigError(
        e.origin,
        `unknown access log field ${JSON.stringify(name)}; ${hint}`,
      );
    }
    names[known] = e.value as AccessLogFieldMode;
  }
  const headerNames: Record<string, AccessLogFieldMode> = {};
  for (const { name, entry: e } of headerModes.values())
    headerNames[name] = e.value as AccessLogFieldMode;
  return {
    defaultMode: (defaultMode?.value as AccessLogFieldMode | undefined) ?? 'keep',
    names,
    headers: {
      // Traefik's default: headers are not logged unless asked for
      defaultMode: (headerDefault?.value as AccessLogFieldMode | undefined) ?? 'drop',
      names: headerNames,
    },
  };
}

export const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);

/** two listeners on one port collide if hosts match or either binds every interface */
export function checkAddresses(
  entryPoints: Record<string, EntryPointConfig>,
  origins: Map<string, string>,
): void {
  const list = Object.values(entryPoints);
  for (let i = 0; i < list.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = list[j];
      const b = list[i];
      // TCP and UDP ports are separate: ":53" and ":53/udp" together are the usual DNS setup
      const sameProtocol = (a?.udp === undefined) === (b?.udp === undefined);
      if (!a || !b || a.port === 0 || a.port !== b.port || !sameProtocol) continue;
      if (a.host === b.host || WILDCARD_HOSTS.has(a.host) || WILDCARD_HOSTS.has(b.host)) {
        // name the entry point the user configured, not one Portico added
        const [culprit, other] = origins.has(b.name) ? [b, a] : [a, b];
        const note = origins.has(other.name)
          ? ''
          : ` (added by portico; set entryPoints.${other.name}.address to move it)`;
        throw new StaticConfigError(
          origins.get(culprit.name) ?? `entryPoints.${culprit.name}.address`,
          `${culprit.address} conflicts with entry point "${other.name}" on ${other.address}${note}`,
        );
      }
    }
  }
}

export function build(ctx: Context): StaticConfig {
  const { store } = ctx;
  const entryPoints: Record<string, EntryPointConfig> = {};
  const addressOrigins = new Map<string, string>();
  for (const { name } of store.entryPointNames.values()) {
    entryPoints[name] = buildEntryPoint(ctx, name);
    addressOrigins.set(name, entry(ctx, `entryPoints.${name}.address`)?.origin ?? name);
  }
  if (Object.keys(entryPoints).length === 0) {
    entryPoints.web = defaultEntryPoint('web', parseAddress(DEFAULTS.webAddress, 'web'));
  }

  const apiOn = valueOf(ctx, 'api', false);
  const api = apiOn
    ? {
        insecure: valueOf(ctx, 'api.insecure', false),
        dashboard: valueOf(ctx, 'api.dashboard', true),
      }
    : undefined;

  let ping: StaticConfig['ping'];
  if (valueOf(ctx, 'ping', false)) {
    const pingEntry = entry(ctx, 'ping.entryPoint');
    const wanted = (pingEntry?.value as string | undefined) ?? 'traefik';
    const name = store.knownName(wanted) ?? wanted;
    ping = { entryPoint: name };
    if (!entryPoints[name] && name.toLowerCase() !== 'traefik') {
      throw new StaticConfigError(
        pingEntry?.origin ?? 'ping.entryPoint',
        `entry point "${wanted}" is not configured`,
      );
    }
  }
  const metrics = buildMetrics(ctx, entryPoints);
  // as Traefik does, the internal entry point appears only when something needs it
  const internal = store.knownName('traefik') ?? 'traefik';
  if (
    (api?.insecure ||
      ping?.entryPoint === internal ||
      metrics?.prometheus?.entryPoint === internal) &&
    !entryPoints[internal]
  ) {
    entryPoints[internal] = defaultEntryPoint(
      internal,
      parseAddress(DEFAULTS.internalAddress, internal),
    );
  }
  checkAddresses(entryPoints, addressOrigins);
  for (const ep of Object.values(entryPoints)) {
    const r = ep.http.redirect;
    if (r && !entryPoints[r.to]) {
      throw new StaticConfigError(r.toOrigin, `entrypoint "${r.to}" does not exist`);
    }
    if (r && r.to === ep.name)
      throw new StaticConfigError(r.toOrigin, 'an entrypoint cannot redirect to itself');
    if (r) checkNotUdp(entryPoints, r.to, r.toOrigin);
    if (r) checkNotUdp(entryPoints, ep.name, r.toOrigin);
  }
  checkNotUdp(entryPoints, ping?.entryPoint, entry(ctx, 'ping.entryPoint')?.origin ?? 'ping');
  checkNotUdp(
    entryPoints,
    metrics?.prometheus?.entryPoint,
    entry(ctx, 'metrics.prometheus.entryPoint')?.origin ?? 'metrics.prometheus',
  );

  const file = buildFileProvider(ctx);

  const docker = buildDockerProvider(ctx);

  const certificatesResolvers = buildResolvers(ctx);

  const log: StaticConfig['log'] = {
    level: valueOf(ctx, 'log.level', 'info') as StaticConfig['log']['level'],
    format: valueOf(ctx, 'log.format', 'json') as StaticConfig['log']['format'],
  };
  const logFile = valueOf<string | undefined>(ctx, 'log.filePath', undefined);
  if (logFile !== undefined) log.filePath = absolute(ctx, logFile);

  const accessLog = buildAccessLog(ctx);

  const config: StaticConfig = {
    entryPoints,
    providers: {
      providersThrottleDurationMs: valueOf(
        ctx,
        'providers.providersThrottleDuration',
        DEFAULTS.providersThrottleDurationMs,
      ),
    },
    log,
    serversTransport: buildServersTransport(ctx),
    workers: valueOf(ctx, 'workers', availableParallelism()),
    quickstart: valueOf(ctx, 'quickstart', false),
  };
  if (Object.keys(certificatesResolvers).length > 0)
    config.certificatesResolvers = certificatesResolvers;
  if (file) config.providers.file = file;
  if (docker) config.providers.docker = docker;
  const kubernetesIngress = buildKubernetesIngressProvider(ctx);
  if (kubernetesIngress) config.providers.kubernetesIngress = kubernetesIngress;
  const kubernetesCRD = buildKubernetesCrdProvider(ctx);
  if (kubernetesCRD) config.providers.kubernetesCRD = kubernetesCRD;
  const kubernetesGateway = buildKubernetesGatewayProvider(ctx);
  if (kubernetesGateway) config.providers.kubernetesGateway = kubernetesGateway;
  // after the entry points Portico adds itself ("web", "traefik"): its entry points are checked
  const kubernetesIngressNGINX = buildKubernetesIngressNginxProvider(ctx, entryPoints);
  if (kubernetesIngressNGINX) config.providers.kubernetesIngressNGINX = kubernetesIngressNGINX;
  if (accessLog) config.accessLog = accessLog;
  if (api) config.api = api;
  if (ping) config.ping = ping;
  if (metrics) config.metrics = metrics;
  return config;
}

/** providers.file: filename or directory (not both), paths made absolute */
function buildFileProvider(ctx: Context): StaticConfig['providers']['file'] {
  let file: StaticConfig['providers']['file'];
  if (valueOf(ctx, 'providers.file', false)) {
    const filename = entry(ctx, 'providers.file.filename');
    const directory = entry(ctx, 'providers.file.directory');
    if (filename && directory) {
      throw new StaticConfigError(
        filename.origin,
        `cannot be combined with ${directory.origin}; set filename or directory, not both`,
      );
    }
    if (!filename && !directory) {
      const section = entry(ctx, 'providers.file');
      throw new StaticConfigError(
        section
          ? renderFor(section.source, ['providers', 'file', 'filename'])
          : 'providers.file.filename',
        'the file provider needs filename or directory',
      );
    }
    file = { watch: valueOf(ctx, 'providers.file.watch', true) };
    if (filename) file.filename = absolute(ctx, filename.value as string);
    if (directory) file.directory = absolute(ctx, directory.value as string);
  }
  return file;
}

/** providers.docker: endpoint syntax checked, TLS files made absolute */
function buildDockerProvider(ctx: Context): StaticConfig['providers']['docker'] {
  let docker: StaticConfig['providers']['docker'];
  if (valueOf(ctx, 'providers.docker', false)) {
    const endpoint = entry(ctx, 'providers.docker.endpoint');
    if (endpoint && !/^(unix|tcp|http|https):\/\//.test(String(endpoint.value))) {
      throw new StaticConfigError(
        endpoint.origin,
        'expected unix:///path, tcp://host:port, http:// or https://',
      );
    }
    const constraints = entry(ctx, 'providers.docker.constraints');
    docker = {
      exposedByDefault: valueOf(ctx, 'providers.docker.exposedByDefault', true),
      defaultRule: valueOf(ctx, 'providers.docker.defaultRule', 'Host(`{{ normalize .Name }}`)'),
      watch: valueOf(ctx, 'providers.docker.watch', true),
      allowEmptyServices: valueOf(ctx, 'providers.docker.allowEmptyServices', false),
      tls: {
        insecureSkipVerify: valueOf(ctx, 'providers.docker.tls.insecureSkipVerify', false),
      },
    };
    if (endpoint) docker.endpoint = String(endpoint.value);
    const network = entry(ctx, 'providers.docker.network');
    if (network) docker.network = String(network.value);
    if (constraints) docker.constraints = String(constraints.value);
    for (const k of ['ca', 'cert', 'key'] as const) {
      const e = entry(ctx, `providers.docker.tls.${k}`);
      if (e) docker.tls[k] = absolute(ctx, e.value as string);
    }
  }
  return docker;
}

/** accessLog: undefined unless switched on */
function buildAccessLog(ctx: Context): StaticConfig['accessLog'] {
  let accessLog: StaticConfig['accessLog'];
  if (valueOf(ctx, 'accessLog', false)) {
    // Traefik's access log default is the common log format; kept for drop-in configs
    accessLog = {
      format: valueOf(ctx, 'accessLog.format', 'common') as 'json' | 'common',
      bufferingSize: valueOf(ctx, 'accessLog.bufferingSize', 0),
    };
    const path = valueOf<string | undefined>(ctx, 'accessLog.filePath', undefined);
    if (path !== undefined) accessLog.filePath = absolute(ctx, path);
    const filters = buildAccessLogFilters(ctx);
    if (filters) accessLog.filters = filters;
    const fields = buildAccessLogFields(ctx);
    if (fields) accessLog.fields = fields;
  }
  return accessLog;
}

/** serversTransport: the default transport to upstreams */
function buildServersTransport(ctx: Context): StaticConfig['serversTransport'] {
  const rootCAs = valueOf<string[]>(ctx, 'serversTransport.rootCAs', []).map((ca) =>
    // Traefik accepts a file or inline PEM; only files are relative to cwd
    ca.includes('-----BEGIN') ? ca : absolute(ctx, ca),
  );
  return {
    insecureSkipVerify: valueOf(ctx, 'serversTransport.insecureSkipVerify', false),
    maxIdleConnsPerHost: valueOf(
      ctx,
      'serversTransport.maxIdleConnsPerHost',
      DEFAULTS.maxIdleConnsPerHost,
    ),
    rootCAs,
    forwardingTimeouts: {
      dialTimeoutMs: valueOf(
        ctx,
        'serversTransport.forwardingTimeouts.dialTimeout',
        DEFAULTS.dialTimeoutMs,
      ),
      responseHeaderTimeoutMs: valueOf(
        ctx,
        'serversTransport.forwardingTimeouts.responseHeaderTimeout',
        DEFAULTS.responseHeaderTimeoutMs,
      ),
      idleConnTimeoutMs: valueOf(
        ctx,
        'serversTransport.forwardingTimeouts.idleConnTimeout',
        DEFAULTS.idleConnTimeoutMs,
      ),
    },
  };
}

/** metrics.*: undefined unless some metrics option is set (`--metrics.prometheus` switches it on). */
export function buildMetrics(
  ctx: Context,
  entryPoints: Record<string, EntryPointConfig>,
): StaticConfig['metrics'] {
  const addInternals = valueOf(ctx, 'metrics.addInternals', false);
  if (!valueOf(ctx, 'metrics.prometheus', false)) {
    return entry(ctx, 'metrics.addInternals') ? { addInternals } : undefined;
  }
  const p = 'metrics.prometheus';
  const epEntry = entry(ctx, `${p}.entryPoint`);
  const wanted = (epEntry?.value as string | undefined) ?? 'traefik';
  const name = ctx.store.knownName(wanted) ?? wanted;
  if (!entryPoints[name] && name.toLowerCase() !== 'traefik') {
    throw new StaticConfigError(
      epEntry?.origin ?? `${p}.entryPoint`,
      `entry point "${wanted}" is not configured`,
    );
  }
  return {
    addInternals: addInternals || valueOf(ctx, `${p}.addInternals`, false),
    prometheus: {
      buckets: valueOf(ctx, `${p}.buckets`, [0.1, 0.3, 1.2, 5]),
      addEntryPointsLabels: valueOf(ctx, `${p}.addEntryPointsLabels`, true),
      addRoutersLabels: valueOf(ctx, `${p}.addRoutersLabels`, false),
      addServicesLabels: valueOf(ctx, `${p}.addServicesLabels`, true),
      entryPoint: name,
      manualRouting: valueOf(ctx, `${p}.manualRouting`, false),
    },
  };
}
