/*
 * Over 600 lines because it is one declarative table: every static option of Traefik v3 in one place.
 *
 * The static configuration (Traefik v3 install options) as a TypeBox schema
 * (issue 12 §1): names, help text and defaults of every option, from which
 * `portico schema --static` (JSON Schema for the static file), the options
 * table in docs/static-options.md and the option lines of `--help` are
 * derived.
 *
 * Each option carries one `x-portico-static` annotation: how `--help` shows
 * it (placeholder, default as text, sections that turn on by themselves,
 * notes) and the Traefik options Portico knows but does not implement. The
 * JSON types accept what the loader accepts from a file: booleans and numbers
 * also as text (Go's strconv spellings), lists also as one comma-separated
 * text, durations as Go durations or seconds, blocks like `api:` or
 * `ping: true` that turn a section on (the builders: static-builders.ts).
 * The four Kubernetes providers' groups are in static-kubernetes.ts.
 *
 * src/config/static.ts decodes flags, PORTICO_* variables and the file
 * against a tree it reads from this schema (names, value syntax, sections,
 * unsupported options) and takes its built defaults from here too. Adding an
 * option is one entry here plus where static.ts builds StaticConfig from it.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import {
  address,
  bool,
  duration,
  group,
  groupList,
  int,
  list,
  map,
  ms,
  objectOf,
  oneOf,
  path,
  str,
  STATIC_HINT,
  staticHintOf,
  type Placeholder,
} from './static-builders.js';
import {
  KUBERNETES_CRD,
  KUBERNETES_GATEWAY,
  KUBERNETES_INGRESS,
  KUBERNETES_INGRESS_NGINX,
} from './static-kubernetes.js';

export type { TSchema } from '@sinclair/typebox';
export {
  objectOf,
  STATIC_HINT,
  staticHintOf,
  type ListItem,
  type Placeholder,
  type StaticHint,
} from './static-builders.js';

// --- the options --------------------------------------------------------------

export const ENCODED_CHARACTERS = [
  'allowEncodedSlash',
  'allowEncodedBackSlash',
  'allowEncodedNullCharacter',
  'allowEncodedSemicolon',
  'allowEncodedPercent',
  'allowEncodedQuestionMark',
  'allowEncodedHash',
] as const;

const FIELD_MODES = ['keep', 'drop', 'redact'] as const;
const FORMATS = ['json', 'common'] as const;

const ENTRY_POINT = group(
  {
    address: address(
      'listen address: ":8000", "127.0.0.1:8000", "[::1]:8000"; a "/udp" suffix makes a UDP entrypoint (":53/udp"), "/tcp" is the default; port 0 picks a free port',
    ),
    asDefault: bool('routers without entryPoints attach here', 'false'),
    forwardedHeaders: group(
      {
        trustedIPs: list(
          'comma-separated IPs/CIDRs whose X-Forwarded-* headers are kept',
          '(none)',
          'cidr',
        ),
        insecure: bool('keep X-Forwarded-* headers from every client', 'false'),
      },
      { unsupported: ['connection', 'notAppendXForwardedFor'] },
    ),
    // Traefik's entryPoints.<n>.proxyProtocol (issue 13 item 6): headers from other senders are read and dropped
    proxyProtocol: group(
      {
        trustedIPs: list(
          'comma-separated IPs/CIDRs whose PROXY protocol headers (v1, v2) give the client address',
          '(none)',
          'cidr',
        ),
        insecure: bool('use the PROXY protocol header of every sender', 'false'),
      },
      { section: 'accept PROXY protocol headers (needs trustedIPs or insecure)' },
    ),
    transport: group(
      {
        respondingTimeouts: group({
          readTimeout: duration('whole request read deadline; 0 = none', ms(60_000)),
          readHeaderTimeout: duration(
            'request headers deadline (slow-loris guard; Portico addition); at most readTimeout',
            ms(10_000),
          ),
          writeTimeout: duration('response write deadline; 0 = none', ms(0)),
          idleTimeout: duration('keep-alive idle time between requests', ms(180_000)),
        }),
        lifeCycle: group({
          graceTimeOut: duration('time in-flight requests get to finish on shutdown', ms(10_000)),
          requestAcceptGraceTimeout: duration(
            'keep accepting requests this long after a shutdown signal',
            ms(0),
          ),
        }),
        keepAliveMaxRequests: int(
          'requests per connection before it is closed; 0 = unlimited',
          '0',
          0,
        ),
      },
      { unsupported: ['keepAliveMaxTime'] },
    ),
    http: group(
      {
        middlewares: list(
          'comma-separated middlewares applied to every router here (name@provider)',
          '(none)',
        ),
        maxHeaderBytes: int(
          'request header size limit in bytes; larger requests get 431 (Traefik: 1 MiB)',
          '32768',
          1,
        ),
        sanitizePath: bool('clean ".." and "//" from request paths before routing', 'true'),
        tls: group(
          {
            options: str(
              'TLS options (tls.options in the dynamic configuration) for every router here',
            ),
            certResolver: str('certificate resolver for every router here'),
            // Traefik's TLSConfig.Domains ([]types.Domain), copied into the routers' tls
            domains: groupList(
              group(
                {
                  main: str(
                    'main domain of a certificate for the routers here (may be a wildcard: DNS-01)',
                    '(required)',
                    false,
                  ),
                  sans: list('other names of that certificate', '(none)'),
                },
                { required: ['main'] },
              ),
              'certificates ordered from certResolver for the routers here, instead of their Host names',
            ),
          },
          {
            section: 'terminate TLS: every router on this entrypoint becomes an HTTPS router',
          },
        ),
        redirections: group({
          entryPoint: group({
            to: str('redirect every request to this entrypoint (e.g. websecure)'),
            scheme: str('scheme of the redirect target', 'https'),
            permanent: bool('301/308 rather than 302/307', 'true'),
            priority: int('priority of the redirecting router', 'max - 1', 1),
          }),
        }),
        encodedCharacters: group(
          Object.fromEntries(
            ENCODED_CHARACTERS.map((name) => [
              name,
              bool(
                'accept requests whose path contains this percent-encoded character (Traefik rejects them by default too)',
                'false',
              ),
            ]),
          ),
        ),
      },
      { unsupported: ['encodeQuerySemicolons'] },
    ),
    // Traefik's entryPoints.<n>.udp (pkg/config/static/entrypoints.go UDPConfig); docs/udp.md
    udp: group({
      timeout: duration(
        'UDP entrypoints: a client session without a datagram either way for this long is closed',
        ms(3000),
      ),
    }),
  },
  {
    required: ['address'],
    unsupported: ['http2', 'http3', 'reusePort', 'observability', 'allowACMEByPass'],
  },
);

const RESOLVER = group({
  acme: group(
    {
      email: str('account email'),
      caServer: str('ACME directory URL', "Let's Encrypt production", false),
      storage: str(
        'acme.json path (Traefik layout), or redis://host:port to share certificates between replicas',
        'acme.json',
      ),
      keyType: str('EC256, EC384, RSA2048, RSA4096 or RSA8192', 'RSA4096'),
      caCertificates: list(
        'CA certificates trusted for the caServer (files or PEM)',
        undefined,
        'pathOrPem',
      ),
      httpChallenge: group(
        {
          entryPoint: str('entrypoint (port 80 from outside) answering HTTP-01 challenges'),
        },
        { section: 'validate with HTTP-01', unsupported: ['delay'] },
      ),
      tlsChallenge: group(
        {},
        {
          section: 'validate with TLS-ALPN-01, answered on the TLS entrypoints',
          unsupported: ['delay'],
        },
      ),
      // Traefik's dnsChallenge (issue 13 §3; docs/acme.md "DNS-01"): credentials come
      // from the provider's lego environment variables, never from this file
      dnsChallenge: group(
        {
          provider: str(
            'DNS provider (lego name): rfc2136, exec, httpreq, cloudflare, route53, digitalocean, gandiv5; configured by its environment variables',
          ),
          resolvers: list(
            'DNS servers (host:port) asked to check the TXT record propagation',
            "(the system's)",
          ),
          propagation: group(
            {
              delayBeforeChecks: duration(
                'wait this long before checking the TXT record propagation',
                '0s',
              ),
              disableChecks: bool(
                'do not check the propagation, only wait (not recommended)',
                'false',
              ),
              requireAllRNS: bool(
                'require the TXT record on every recursive nameserver (resolvers)',
                'false',
              ),
              disableANSChecks: bool(
                'do not check the authoritative nameservers of the zone',
                'false',
              ),
            },
            {
              section:
                "propagation checks; when absent, lego's defaults (recursive and authoritative checks)",
            },
          ),
          delayBeforeCheck: duration('deprecated: use propagation.delayBeforeChecks'),
          disablePropagationCheck: bool('deprecated: use propagation.disableChecks'),
        },
        { section: 'validate with DNS-01 (the challenge for wildcard domains)' },
      ),
      eab: group({
        kid: str('external account binding key id'),
        hmacEncoded: str('base64url HMAC key'),
      }),
    },
    {
      section: "ACME (Let's Encrypt) certificates for routers with tls.certResolver",
      unsupported: [
        'preferredChain',
        'caSystemCertPool',
        'caServerName',
        'certificatesDuration',
        'profile',
        'emailAddresses',
        'disableCommonName',
        'clientTimeout',
        'clientResponseHeaderTimeout',
      ],
    },
  ),
});

const FIELD_MODE = (help: string, def?: string) =>
  oneOf(FIELD_MODES, 'keep|drop|redact', help, def);

/** Traefik's static configuration as Portico reads it (file, PORTICO_* variables, flags). */
export const StaticConfiguration = group(
  {
    configFile: path(
      'static configuration file, YAML or JSON (flag or PORTICO_CONFIGFILE only); default ./portico.yml or ./portico.yaml if present',
    ),
    global: group(
      {
        checkNewVersion: bool('accepted for Traefik compatibility and ignored'),
        sendAnonymousUsage: bool('accepted for Traefik compatibility and ignored'),
      },
      { note: 'Portico never checks for updates or sends usage data' },
    ),
    entryPoints: map(ENTRY_POINT, '<name>'),
    certificatesResolvers: map(RESOLVER, '<resolver>'),
    providers: group(
      {
        providersThrottleDuration: duration(
          "a provider's changes are applied at most this often (Portico default; Traefik: 2s)",
          ms(200),
        ),
        file: group(
          {
            filename: path('dynamic configuration file (YAML/JSON)'),
            directory: path('directory of dynamic configuration files (not with filename)'),
            watch: bool('reload on change', 'true'),
          },
          {
            section: 'file provider (needs filename or directory)',
            unsupported: ['debugLogGeneratedTemplate'],
          },
        ),
        docker: group(
          {
            endpoint: str(
              'Docker API endpoint: unix:///path/docker.sock or tcp://host:port (default: DOCKER_HOST, else unix:///var/run/docker.sock)',
            ),
            exposedByDefault: bool('route containers that have no enable label', 'true'),
            defaultRule: str(
              'rule template for containers without a rule',
              'Host(`{{ normalize .Name }}`)',
            ),
            network: str('default network to reach containers on'),
            constraints: str(
              'which containers to consider: Label(`k`,`v`), LabelRegex(`k`,`re`), !, &&, ||',
            ),
            watch: bool('follow Docker events', 'true'),
            allowEmptyServices: bool(
              'keep services without a running healthy container (503 instead of 404)',
              'false',
            ),
            tls: group({
              ca: path('CA certificate for a tcp:// endpoint'),
              cert: path('client certificate for a tcp:// endpoint'),
              key: path('client key for a tcp:// endpoint'),
              insecureSkipVerify: bool('do not verify the daemon certificate', 'false'),
            }),
          },
          {
            section: 'Docker provider: container labels become routes',
            unsupported: ['useBindPortIP', 'httpClientTimeout', 'username', 'password'],
          },
        ),
        kubernetesIngress: KUBERNETES_INGRESS,
        kubernetesCRD: KUBERNETES_CRD,
        kubernetesGateway: KUBERNETES_GATEWAY,
        kubernetesIngressNGINX: KUBERNETES_INGRESS_NGINX,
      },
      {
        unsupported: [
          'swarm',
          'knative',
          'consul',
          'consulCatalog',
          'etcd',
          'redis',
          'zooKeeper',
          'nomad',
          'ecs',
          'http',
          'rest',
          'plugin',
        ],
      },
    ),
    log: group(
      {
        level: oneOf(
          ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
          'TRACE|DEBUG|INFO|WARN|ERROR|FATAL|PANIC',
          'log level, case-insensitive; PANIC means FATAL',
          'INFO',
          // Traefik accepts PANIC; Portico has no panic level, and fatal is the closest
          { panic: 'fatal' },
        ),
        format: oneOf(FORMATS, 'json|common', 'log format', 'json'),
        filePath: path('write logs to this file instead of stdout'),
      },
      { unsupported: ['noColor', 'maxSize', 'maxBackups', 'maxAge', 'compress', 'otlp'] },
    ),
    accessLog: group(
      {
        filePath: path('write access logs to this file instead of stdout'),
        format: oneOf(FORMATS, 'json|common', 'access log format', 'common'),
        bufferingSize: int('lines buffered before writing', '0', 0),
        filters: group(
          {
            statusCodes: list(
              'log only responses with these statuses or ranges ("200,300-302")',
              '(all)',
            ),
            retryAttempts: bool('log requests the retry middleware retried', 'false'),
            minDuration: duration('log requests that took longer than this', '0s'),
          },
          { note: 'a line is written when any filter set here matches' },
        ),
        fields: group(
          {
            defaultMode: FIELD_MODE('mode of every JSON field not in names', 'keep'),
            names: map(
              FIELD_MODE('mode of this field (Traefik field name)'),
              '<FieldName>',
              'field name',
            ),
            headers: group({
              defaultMode: FIELD_MODE(
                'mode of every header not in names (request_* and downstream_* fields)',
                'drop',
              ),
              names: map(
                FIELD_MODE('mode of this header (case-insensitive)'),
                '<Header-Name>',
                'header name',
              ),
            }),
          },
          { note: 'JSON format only', unsupported: ['queryParameters'] },
        ),
      },
      {
        section: 'access log (off by default); setting any accessLog option turns it on',
        unsupported: ['addInternals', 'otlp'],
      },
    ),
    api: group(
      {
        insecure: bool(
          'serve the API and dashboard on entry point "traefik" (added on :8080 if missing)',
          'false',
        ),
        dashboard: bool('serve the dashboard', 'true'),
      },
      {
        section: 'API and dashboard (off by default)',
        unsupported: ['basePath', 'debug', 'disableDashboardAd'],
      },
    ),
    ping: group(
      {
        entryPoint: str(
          'entry point serving /ping ("traefik" is added on :8080 if missing)',
          'traefik',
        ),
      },
      {
        section: 'GET /ping health check (off by default)',
        unsupported: ['manualRouting', 'terminatingStatusCode'],
      },
    ),
    metrics: group(
      {
        addInternals: bool(
          'also count requests to internal routers (api, ping, /metrics)',
          'false',
        ),
        prometheus: group(
          {
            buckets: list(
              'request duration histogram buckets, in seconds',
              '0.1,0.3,1.2,5',
              'number',
            ),
            addEntryPointsLabels: bool('per entry point request metrics', 'true'),
            addRoutersLabels: bool('per router request metrics', 'false'),
            addServicesLabels: bool('per service request metrics and server_up', 'true'),
            entryPoint: str(
              'entry point serving /metrics ("traefik" is added on :8080 if missing)',
              'traefik',
            ),
            manualRouting: bool(
              'no /metrics router: route to the prometheus@internal service yourself',
              'false',
            ),
            addInternals: bool('same as metrics.addInternals', 'false'),
          },
          {
            section: 'Prometheus metrics on /metrics (off by default)',
            unsupported: ['headerLabels'],
          },
        ),
      },
      { unsupported: ['otlp', 'datadog', 'influxDB2', 'statsD'] },
    ),
    serversTransport: group(
      {
        insecureSkipVerify: bool('do not verify upstream TLS certificates', 'false'),
        maxIdleConnsPerHost: int(
          'idle keep-alive connections kept per upstream origin (0 = 2, as in Go); active ones are not capped',
          '200',
          0,
        ),
        rootCAs: list(
          'comma-separated CA certificate files (or PEM) trusted for upstreams',
          '(system CAs)',
          'pathOrPem',
        ),
        forwardingTimeouts: group(
          {
            dialTimeout: duration('upstream connect deadline; 0 = the default', ms(30_000)),
            responseHeaderTimeout: duration('upstream response headers deadline; 0 = none', ms(0)),
            idleConnTimeout: duration('idle upstream connection lifetime', ms(90_000)),
          },
          { unsupported: ['pingTimeout', 'readIdleTimeout'] },
        ),
      },
      { unsupported: ['spiffe', 'disableHTTP2', 'certificates'] },
    ),
    workers: int('worker processes (Portico); 0 = serve from this process', '(CPU count)', 0, 1024),
    quickstart: bool('built-in demo upstream and routes (Portico)', 'false'),
  },
  {
    unsupported: [
      'tracing',
      'experimental',
      'hub',
      'core',
      'tcpServersTransport',
      'spiffe',
      'ocsp',
    ],
  },
);

/**
 * A static configuration file (or object) as written, before defaults: the
 * input of the loader. The built StaticConfig (src/config/static-types.ts)
 * stays a separate output type: durations in milliseconds, parsed addresses,
 * every default applied, sections resolved to on/off.
 */
export type StaticConfigFile = Static<typeof StaticConfiguration>;

// --- derived --------------------------------------------------------------------

/** One option as `--help` and the docs table show it. */
export interface StaticOption {
  /** dotted, entry point names as `<name>` */
  path: string;
  /** a section switch (`--api`) rather than a value */
  section: boolean;
  help: string;
  placeholder: Placeholder;
  def?: string;
  /** the JSON Schema of the option (a section: of its block) */
  schema: TSchema;
}

/** the item schema of a list of groups */
function itemsOf(schema: TSchema): TSchema {
  return (schema as unknown as { items: TSchema }).items;
}

/** `…domains` → `…domains[n]`: the items of a list of groups, as `--help` and the docs show them */
function indexed(prefix: string[]): string[] {
  return [...prefix.slice(0, -1), `${prefix[prefix.length - 1] ?? ''}[n]`];
}

/** Every option and section, in schema order (the order of `--help`). */
export function staticOptions(
  schema: TSchema = StaticConfiguration,
  prefix: string[] = [],
  out: StaticOption[] = [],
): StaticOption[] {
  const hint = staticHintOf(schema);
  if (hint.map) {
    const item = (schema as unknown as { additionalProperties: TSchema }).additionalProperties;
    return staticOptions(item, [...prefix, hint.map.placeholder], out);
  }
  if (hint.groupList) return staticOptions(itemsOf(schema), indexed(prefix), out);
  const object = objectOf(schema);
  if (hint.placeholder !== undefined || object === undefined) {
    const option: StaticOption = {
      path: prefix.join('.'),
      section: false,
      help: (schema as unknown as { description?: string }).description ?? '',
      placeholder: hint.placeholder ?? 'name',
      schema,
    };
    if (hint.def !== undefined) option.def = hint.def;
    out.push(option);
    return out;
  }
  if (hint.section !== undefined) {
    out.push({
      path: prefix.join('.'),
      section: true,
      help: hint.section,
      placeholder: 'bool',
      schema,
    });
  }
  const fields = (object as unknown as { properties: Record<string, TSchema> }).properties;
  for (const [name, field] of Object.entries(fields)) staticOptions(field, [...prefix, name], out);
  return out;
}

function placeholderText(p: Placeholder): string {
  if (typeof p === 'object') return `=${p.shown}`;
  switch (p) {
    case 'bool':
      return '[=true|false]';
    case 'int':
      return '=N';
    case 'duration':
      return '=DURATION';
    case 'cidrs':
      return '=CIDR,...';
    case 'list':
      return '=A,B,...';
    case 'address':
      return '=[HOST]:PORT';
    case 'path':
      return '=PATH';
    case 'name':
      return '=NAME';
  }
}

function helpLines(schema: TSchema, prefix: string[], out: string[]): void {
  const hint = staticHintOf(schema);
  if (hint.map) {
    const item = (schema as unknown as { additionalProperties: TSchema }).additionalProperties;
    helpLines(item, [...prefix, hint.map.placeholder], out);
    return;
  }
  if (hint.groupList) {
    helpLines(itemsOf(schema), indexed(prefix), out);
    return;
  }
  const object = objectOf(schema);
  if (hint.placeholder !== undefined || object === undefined) {
    const def =
      hint.def === undefined
        ? ''
        : hint.def === '(required)'
          ? ' (required)'
          : ` (default ${hint.def.replace(/^\((.*)\)$/, '$1')})`;
    const help = (schema as unknown as { description?: string }).description ?? '';
    out.push(
      `  --${prefix.join('.')}${placeholderText(hint.placeholder ?? 'name')}`,
      `      ${help}${def}`,
    );
    return;
  }
  if (hint.section !== undefined)
    out.push(`  --${prefix.join('.')}[=true|false]`, `      ${hint.section}`);
  if (hint.note !== undefined) out.push(`  (${prefix.join('.')}: ${hint.note})`);
  const fields = (object as unknown as { properties: Record<string, TSchema> }).properties;
  for (const [name, field] of Object.entries(fields)) helpLines(field, [...prefix, name], out);
}

/** The "Options:" lines of `portico --help`, two per option. */
export function staticHelpLines(): string[] {
  const out: string[] = [];
  helpLines(StaticConfiguration, [], out);
  return out;
}

function stripHints(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripHints);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node as Record<string, unknown>)
      .filter(([k]) => k !== STATIC_HINT)
      .map(([k, v]) => [k, stripHints(v)]),
  );
}

/**
 * The JSON Schema (draft-07) of the static configuration file, as
 * `portico schema --static` prints it. Keys are matched exactly here, while
 * Portico matches them ignoring case: an editor flags `entrypoints:` that
 * Portico would accept, never the other way round.
 */
export function staticJsonSchema(): Record<string, unknown> {
  const body = stripHints(objectOf(StaticConfiguration)) as Record<string, unknown>;
  return {
    // the dialect of json-schema.ts (not imported: that would load the dynamic schema here)
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Portico static configuration',
    ...body,
  };
}
