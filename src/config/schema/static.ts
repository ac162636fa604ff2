/*
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
 * `ping: true` that turn a section on.
 *
 * src/config/static.ts decodes flags, PORTICO_* variables and the file
 * against a tree it reads from this schema (names, value syntax, sections,
 * unsupported options) and takes its built defaults from here too. Adding an
 * option is one entry here plus where static.ts builds StaticConfig from it.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export type { TSchema } from '@sinclair/typebox';
import { formatDuration } from '../../kernel/duration.js';
import { DURATION_PATTERN } from './core.js';

export const STATIC_HINT = 'x-portico-static';

export type Placeholder =
  'bool' | 'int' | 'duration' | 'cidrs' | 'list' | 'address' | 'path' | 'name' | { shown: string };

export interface StaticHint {
  /** an option (leaf); absent on groups */
  placeholder?: Placeholder;
  /** the default as `--help` shows it: "1m0s", "(none)", "(required)" */
  def?: string;
  /** groups: a section that turns on by itself (`--api`, `accessLog: {}`), with its help */
  section?: string;
  /** groups: a note shown in `--help` under the group */
  note?: string;
  /** groups and maps: the placeholder of a name (`<name>`) and what a name is */
  map?: { placeholder: string; label?: string };
  /** groups: Traefik options Portico knows about but does not implement yet */
  unsupported?: string[];
  /** lists: how each item is read (`pathOrPem`: a file path or inline PEM) */
  item?: ListItem;
  /** ints: the range the loader enforces */
  min?: number;
  max?: number;
  /** fixed words: lower-case spelling to the value Portico uses (PANIC reads as fatal) */
  values?: Record<string, string>;
}

export type ListItem = 'string' | 'cidr' | 'pathOrPem' | 'number';

export function staticHintOf(schema: TSchema): StaticHint {
  return (schema as unknown as Record<string, StaticHint>)[STATIC_HINT] ?? {};
}

// --- leaves -----------------------------------------------------------------

const BOOL_TEXT = '^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[TtFf01])\\s*$';

function leafMeta(
  placeholder: Placeholder,
  help: string,
  def: string | undefined,
  value: unknown,
  extra: Partial<StaticHint> = {},
): Record<string, unknown> {
  const hint: StaticHint =
    def === undefined ? { placeholder, ...extra } : { placeholder, def, ...extra };
  const out: Record<string, unknown> = { description: help, [STATIC_HINT]: hint };
  if (value !== undefined) out.default = value;
  return out;
}

/** a boolean; text in Go's strconv.ParseBool spellings too (`"true"`, `"1"`, `"f"`) */
function bool(help: string, def?: 'true' | 'false') {
  return Type.Unsafe<boolean>({
    anyOf: [{ type: 'boolean' }, { type: 'string', pattern: BOOL_TEXT }],
    ...leafMeta('bool', help, def, def === undefined ? undefined : def === 'true'),
  });
}

function int(help: string, def: string | undefined, min: number, max?: number) {
  const range = { minimum: min, ...(max !== undefined ? { maximum: max } : {}) };
  return Type.Unsafe<number>({
    anyOf: [
      { type: 'integer', ...range },
      { type: 'string', pattern: '^\\s*\\d+\\s*$' },
    ],
    ...leafMeta(
      'int',
      help,
      def,
      def !== undefined && /^\d+$/.test(def) ? Number(def) : undefined,
      max !== undefined ? { min, max } : { min },
    ),
  });
}

function duration(help: string, def?: string) {
  return Type.Unsafe<string | number>({
    anyOf: [{ type: 'string', pattern: DURATION_PATTERN }, { type: 'number' }],
    ...leafMeta('duration', help, def, def),
  });
}

const ms = (value: number): string => formatDuration(value);

/** text (a number is read as its text); `def` false: the shown default is not a value */
function text(placeholder: 'name' | 'path', help: string, def?: string, isValue = true) {
  return Type.Unsafe<string>({
    type: ['string', 'number'],
    ...leafMeta(
      placeholder,
      help,
      def,
      isValue && def !== undefined && !def.startsWith('(') ? def : undefined,
    ),
  });
}

const str = (help: string, def?: string, isValue = true) => text('name', help, def, isValue);
const path = (help: string, def?: string) => text('path', help, def);

/** a list: YAML sequence, or one comma-separated text */
function list(help: string, def?: string, item: ListItem = 'string') {
  const scalar = { type: ['string', 'number'] };
  const value =
    def === undefined || def.startsWith('(')
      ? undefined
      : def.split(',').map((v) => (item === 'number' ? Number(v) : v));
  return Type.Unsafe<(string | number)[]>({
    anyOf: [
      { type: 'array', items: scalar },
      { ...scalar, description: 'comma-separated' },
    ],
    ...leafMeta(item === 'cidr' ? 'cidrs' : 'list', help, def, value, { item }),
  });
}

/** one of fixed words, any case (JSON Schema enums are exact: the usual spellings are listed) */
function oneOf(
  words: readonly string[],
  shown: string,
  help: string,
  def?: string,
  aliases: Record<string, string> = {},
) {
  const spellings = [...words, ...Object.keys(aliases)].flatMap((w) => [
    w,
    w.toUpperCase(),
    w[0]!.toUpperCase() + w.slice(1),
  ]);
  const values = { ...Object.fromEntries(words.map((w) => [w, w])), ...aliases };
  return Type.Unsafe<string>({
    type: 'string',
    enum: [...new Set(spellings)],
    ...leafMeta({ shown }, help, def, def, { values }),
  });
}

function address(help: string) {
  return Type.Unsafe<string>({
    type: 'string',
    ...leafMeta('address', help, '(required)', undefined),
  });
}

// --- groups -------------------------------------------------------------------

interface GroupExtra {
  section?: string;
  note?: string;
  unsupported?: string[];
  required?: string[];
}

/** a block as written in the file: every field optional */
type Block<P extends Record<string, TSchema>> = { [K in keyof P]?: Static<P[K]> };

function group<P extends Record<string, TSchema>, const E extends GroupExtra = GroupExtra>(
  fields: P,
  extra: E = {} as E,
) {
  const hint: StaticHint = {};
  if (extra.section !== undefined) hint.section = extra.section;
  if (extra.note !== undefined) hint.note = extra.note;
  if (extra.unsupported) hint.unsupported = extra.unsupported;
  const object = {
    type: 'object',
    properties: fields,
    additionalProperties: false,
    ...(extra.required ? { required: extra.required } : {}),
  };
  const doc = extra.section ?? extra.note;
  // a section also turns on from `api:` (null) or `api: true`
  const shape = extra.section
    ? {
        anyOf: [
          object,
          { type: 'null' },
          { type: 'boolean' },
          { type: 'string', pattern: BOOL_TEXT },
        ],
      }
    : object;
  // a section may also be written `api:` (null) or `api: true`
  return Type.Unsafe<Block<P> | (E extends { section: string } ? null | boolean | string : never)>({
    ...shape,
    ...(doc !== undefined ? { description: doc } : {}),
    [STATIC_HINT]: hint,
  });
}

function map<T extends TSchema>(item: T, placeholder: string, label?: string) {
  const hint: StaticHint = { map: label ? { placeholder, label } : { placeholder } };
  return Type.Unsafe<Record<string, Static<T>>>({
    type: 'object',
    additionalProperties: item,
    [STATIC_HINT]: hint,
  });
}

/** the object schema of a group, whether or not it is a section */
export function objectOf(schema: TSchema): TSchema | undefined {
  const s = schema as unknown as { type?: unknown; anyOf?: TSchema[]; properties?: unknown };
  if (s.properties) return schema;
  return s.anyOf?.find((a) => (a as unknown as { properties?: unknown }).properties);
}

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
      'listen address: ":8000", "127.0.0.1:8000", "[::1]:8000"; a "/tcp" suffix is accepted, "/udp" is not supported yet; port 0 picks a free port',
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
          },
          {
            section: 'terminate TLS: every router on this entrypoint becomes an HTTPS router',
            unsupported: ['domains'],
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
  },
  {
    required: ['address'],
    unsupported: [
      'proxyProtocol',
      'http2',
      'http3',
      'udp',
      'reusePort',
      'observability',
      'allowACMEByPass',
    ],
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
      keyType: str('EC256, EC384, RSA2048 or RSA4096', 'RSA4096'),
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
      eab: group({
        kid: str('external account binding key id'),
        hmacEncoded: str('base64url HMAC key'),
      }),
    },
    {
      section: "ACME (Let's Encrypt) certificates for routers with tls.certResolver",
      unsupported: [
        'dnsChallenge',
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
      },
      {
        unsupported: [
          'swarm',
          'kubernetesIngress',
          'kubernetesCRD',
          'kubernetesGateway',
          'kubernetesIngressNGINX',
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
