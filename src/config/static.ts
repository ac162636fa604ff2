/*
 * The static configuration loader. Portico reads Traefik v3's install options
 * from a YAML/JSON file, PORTICO_* environment variables and --flags, merges
 * them option by option (Traefik reads one source only; merging lets a
 * container image ship a file and an operator override one value), validates
 * everything up front and returns a fully defaulted StaticConfig.
 *
 * All sources are resolved against one option schema,
 * src/config/schema/static.ts (TypeBox), so names, defaults, "did you mean"
 * suggestions, the help text, `portico schema --static` and the docs table
 * cannot drift apart. The decoder walks a light tree read from it (treeOf).
 */

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, extname, isAbsolute, resolve as resolvePath } from 'node:path';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
} from 'yaml';
import { StaticConfigError } from '../kernel/errors.js';
import { formatDuration, parseDuration } from '../kernel/duration.js';
import { editDistance } from '../kernel/suggest.js';
import { ACCESS_LOG_FIELDS, ACCESS_LOG_TRAEFIK_ONLY_FIELDS } from './access-log-fields.js';
import { ENCODED_CHARACTERS, staticHelpLines, staticOptions } from './schema/static.js';
import {
  ENTRY_POINT_NAME,
  findChild,
  isTarget,
  resolveSegments,
  SCHEMA,
  unknownReason,
  type Failure,
  type SchemaNode,
  type Target,
} from './static-tree.js';
import { convert, convertBool, parseAddress, type ParsedAddress } from './static-values.js';

export { parseAddress, validateCidr, type ParsedAddress } from './static-values.js';
import type {
  AccessLogFieldMode,
  AccessLogFields,
  AccessLogFilters,
  EntryPointConfig,
  StaticConfig,
} from './static-types.js';

/** a default as the schema states it, so `--help`, the docs and the built configuration agree */
function schemaDefault(path: string): string {
  const def = staticOptions().find((o) => o.path === path)?.def;
  if (def === undefined) throw new Error(`static schema: no default for ${path}`);
  return def;
}
const EP = 'entryPoints.<name>.';
const defaultMs = (path: string): number => parseDuration(schemaDefault(path), path);
const defaultInt = (path: string): number => Number(schemaDefault(path));

const DEFAULTS = {
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
  /** unprivileged, so Portico runs as a non-root user without extra capabilities */
  webAddress: ':8000',
  internalAddress: ':8080',
} as const;

// ---------------------------------------------------------------------------
// Sources and the merged store

type Source = { kind: 'file'; file: string } | { kind: 'env' } | { kind: 'flag' };

/** higher wins: defaults < file < env < flags */
const RANK = { file: 1, env: 2, flag: 3 } as const;

interface Entry {
  value: unknown;
  /** the option as the user wrote it, for error messages */
  origin: string;
  source: Source;
  /** sections only: false when switched on implicitly by one of their options */
  explicit: boolean;
}

class Store {
  readonly entries = new Map<string, Entry>();
  /**
   * entry point names, lower-case → first spelling seen (so sources agree on
   * one name) and where it was first mentioned (for "address is required")
   */
  readonly entryPointNames = new Map<string, { name: string; source: Source }>();
  /** the same for certificate resolver names */
  readonly resolverNames = new Map<string, { name: string; source: Source }>();

  canonicalName(name: string, source: Source, map = 'entryPoints'): string {
    const names = map === 'certificatesResolvers' ? this.resolverNames : this.entryPointNames;
    const lower = name.toLowerCase();
    const known = names.get(lower);
    if (known !== undefined) return known.name;
    names.set(lower, { name, source });
    return name;
  }

  /** the configured spelling of an entry point name, if any source mentioned it */
  knownName(name: string): string | undefined {
    return this.entryPointNames.get(name.toLowerCase())?.name;
  }

  /** records a raw value for a resolved target; conversion errors name `origin` */
  apply(target: Target, raw: unknown, origin: string, source: Source): void {
    const path = [...target.path];
    if (
      (path[0] === 'entryPoints' || path[0] === 'certificatesResolvers') &&
      path[1] !== undefined
    ) {
      path[1] = this.canonicalName(path[1], source, path[0]);
    }
    const { node } = target;
    if (node.kind === 'group') {
      // only sections end up here: `--api`, `PORTICO_ACCESSLOG=false`, `ping: {}`
      const enabled = raw === null ? true : convertBool(raw, origin);
      this.set(path, { value: enabled, origin, source, explicit: true });
      return;
    }
    if (path[0] === 'configFile') {
      if (source.kind === 'file') {
        throw new StaticConfigError(
          origin,
          'configFile can only be given as a flag or PORTICO_CONFIGFILE',
        );
      }
      return;
    }
    this.set(path, { value: convert(node.type, raw, origin), origin, source, explicit: true });
    this.enableSections(path, origin, source);
  }

  private set(path: string[], entry: Entry): void {
    this.entries.set(path.join('.'), entry);
  }

  /** setting `accessLog.format` switches accessLog on, as in Traefik */
  private enableSections(path: string[], origin: string, source: Source): void {
    let node: SchemaNode = SCHEMA;
    for (let i = 0; i < path.length - 1; i++) {
      const segment = path[i] ?? '';
      const next: SchemaNode | undefined =
        node.kind === 'map'
          ? node.item
          : node.kind === 'group'
            ? node.children[segment]
            : undefined;
      if (next === undefined) return;
      node = next;
      if (node.kind === 'group' && node.section) {
        const key = path.slice(0, i + 1).join('.');
        const existing = this.entries.get(key);
        // an explicit `accessLog=false` is not undone by accessLog.format from the same source
        if (
          existing?.explicit &&
          existing.value === false &&
          RANK[existing.source.kind] === RANK[source.kind]
        ) {
          continue;
        }
        if (existing?.value === true && RANK[existing.source.kind] >= RANK[source.kind]) continue;
        this.entries.set(key, { value: true, origin, source, explicit: false });
      }
    }
  }

  get(path: string): Entry | undefined {
    return this.entries.get(path);
  }
}

// ---------------------------------------------------------------------------
// Rendering option names in each source's notation

function renderFlag(path: string[]): string {
  return `--${path.join('.')}`;
}

function renderEnv(path: string[]): string {
  return `PORTICO_${path.join('_').toUpperCase()}`;
}

function renderFor(source: Source, path: string[]): string {
  if (source.kind === 'flag') return renderFlag(path);
  if (source.kind === 'env') return renderEnv(path);
  return `${source.file}: ${path.join('.')}`;
}

// ---------------------------------------------------------------------------
// Flags

const BOOL_LITERAL = /^(true|false|t|f|1|0)$/i;

function isConfigFileFlag(arg: string): boolean {
  return /^--configfile(=|$)/i.test(arg);
}

function findConfigFile(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { path: string; origin: string } | undefined {
  let found: { path: string; origin: string } | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!isConfigFileFlag(arg)) continue;
    const eq = arg.indexOf('=');
    const origin = eq >= 0 ? arg.slice(0, eq) : arg;
    let value = eq >= 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (eq < 0) {
      if (value === undefined || value.startsWith('--'))
        throw new StaticConfigError(origin, 'missing value');
      i++;
    }
    value = value ?? '';
    if (value.trim() === '') throw new StaticConfigError(origin, 'empty value');
    found = { path: value, origin };
  }
  if (found) return found;
  const fromEnv = env.PORTICO_CONFIGFILE;
  if (fromEnv !== undefined && fromEnv.trim() !== '')
    return { path: fromEnv, origin: 'PORTICO_CONFIGFILE' };
  return undefined;
}

function applyFlags(store: Store, argv: string[]): void {
  const source: Source = { kind: 'flag' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') {
      throw new StaticConfigError(arg, 'unexpected argument; options are written --name=value');
    }
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    const origin = `--${key}`;
    const segments = key.split('.');
    const result = resolveSegments(segments, false);
    if (!isTarget(result))
      throw new StaticConfigError(origin, unknownReason(segments, result, renderFlag));
    const next = argv[i + 1];
    const takesBool = result.node.kind === 'group' || result.node.type.t === 'bool';
    if (value === undefined) {
      if (takesBool) {
        // `--api.insecure` alone means true; `--api.insecure false` is read as a value
        if (next !== undefined && BOOL_LITERAL.test(next)) {
          value = next;
          i++;
        } else value = 'true';
      } else {
        if (next === undefined || next.startsWith('--'))
          throw new StaticConfigError(origin, 'missing value');
        value = next;
        i++;
      }
    }
    store.apply(result, value, origin, source);
  }
}

// ---------------------------------------------------------------------------
// Environment

const ENV_PREFIX = 'PORTICO_';
/** process-level switches that are not static options (PORTICO_H1_CLIENT: src/proxy/h1-pool.ts) */
const ENV_NOT_OPTIONS = new Set(['PORTICO_H1_CLIENT']);

function applyEnv(store: Store, env: NodeJS.ProcessEnv): void {
  const source: Source = { kind: 'env' };
  // sorted, so that which of two conflicting variables wins does not depend on the environment's order
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || ENV_NOT_OPTIONS.has(name)) continue;
    const value = env[name];
    const segments = name.slice(ENV_PREFIX.length).toLowerCase().split('_');
    const result = resolveSegments(segments, true);
    if (!isTarget(result))
      throw new StaticConfigError(name, unknownReason(segments, result, renderEnv, true));
    // compose files often declare `PORTICO_X=` to mean "unset"
    if (value === undefined || value === '') continue;
    store.apply(result, value, name, source);
  }
}

// ---------------------------------------------------------------------------
// Config file

function applyFile(store: Store, filePath: string, shownAs: string): void {
  if (extname(filePath).toLowerCase() === '.toml') {
    throw new StaticConfigError(
      shownAs,
      'toml configuration files are not supported; use yaml or json',
    );
  }
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : (error as Error).message;
    throw new StaticConfigError(shownAs, `cannot read configuration file: ${why}`);
  }
  const lineCounter = new LineCounter();
  // merge keys (`<<: *defaults`) because Traefik's go-yaml reads them
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: false });
  const [first] = doc.errors;
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    const message = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new StaticConfigError(
      `${shownAs} (line ${pos.line}, column ${pos.col})`,
      `yaml syntax error: ${message.charAt(0).toLowerCase()}${message.slice(1)}`,
    );
  }
  const walker = new YamlWalker(store, doc, lineCounter, shownAs);
  walker.walk(doc.contents, SCHEMA, [], [], 1);
}

class YamlWalker {
  private readonly source: Source;

  constructor(
    private readonly store: Store,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {
    this.source = { kind: 'file', file };
  }

  private origin(written: string[], line: number): string {
    return `${this.file}: ${written.join('.')} (line ${line})`;
  }

  private lineOf(node: unknown): number {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lines.linePos(range[0]).line : 1;
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  /** the plain value of a leaf: a scalar, or a list of scalars */
  private value(node: unknown, origin: string): unknown {
    if (node === null || node === undefined) return null;
    if (isScalar(node)) return node.value;
    if (isSeq(node)) {
      return node.items.map((item) => {
        const resolved = this.deref(item);
        if (!isScalar(resolved))
          throw new StaticConfigError(origin, 'list items must be plain values');
        return resolved.value;
      });
    }
    if (isMap(node)) throw new StaticConfigError(origin, 'expected a value, got a mapping');
    throw new StaticConfigError(origin, 'unsupported yaml value');
  }

  walk(raw: unknown, schema: SchemaNode, path: string[], written: string[], line: number): void {
    const node = this.deref(raw);
    const origin = this.origin(written, line);
    if (schema.kind === 'leaf') {
      this.store.apply({ node: schema, path }, this.value(node, origin), origin, this.source);
      return;
    }
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) {
      // `ping:` or `api: ~` switch a section on; an empty plain group sets nothing
      if (schema.kind === 'group' && schema.section)
        this.store.apply({ node: schema, path }, null, origin, this.source);
      return;
    }
    if (!isMap(node)) {
      if (schema.kind === 'group' && schema.section && isScalar(node)) {
        this.store.apply({ node: schema, path }, node.value, origin, this.source);
        return;
      }
      if (path.length === 0)
        throw new StaticConfigError(this.file, 'expected a mapping of options at the top level');
      throw new StaticConfigError(origin, 'expected a mapping of options');
    }
    if (schema.kind === 'group' && schema.section) {
      this.store.apply({ node: schema, path }, true, origin, this.source);
    }
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key;
      const keyLine = this.lineOf(keyNode);
      if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
        this.merge(pair.value, schema, path, written, keyLine);
        continue;
      }
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        throw new StaticConfigError(this.origin(written, keyLine), 'keys must be plain names');
      }
      const key = String(keyNode.value);
      const keyWritten = [...written, key];
      const keyOrigin = this.origin(keyWritten, keyLine);
      const duplicate = seen.get(key.toLowerCase());
      if (duplicate !== undefined) {
        throw new StaticConfigError(
          keyOrigin,
          `duplicates the key on line ${duplicate} (keys are case-insensitive)`,
        );
      }
      seen.set(key.toLowerCase(), keyLine);
      if (schema.kind === 'map') {
        if (!ENTRY_POINT_NAME.test(key)) {
          throw new StaticConfigError(
            keyOrigin,
            `invalid ${schema.label ?? 'entry point name'} ${JSON.stringify(key)} (letters, digits, - and _)`,
          );
        }
        // `web: {}` still declares the entry point, so a missing address is reported
        if (schema.item.kind === 'group') this.store.canonicalName(key, this.source, path[0]);
        this.walk(pair.value, schema.item, [...path, key], keyWritten, keyLine);
        continue;
      }
      const found = findChild(schema, key);
      if (!found) {
        const segments = [...written, key];
        const failure: Failure = { index: written.length, node: schema, path };
        throw new StaticConfigError(
          keyOrigin,
          unknownReason(segments, failure, (p) => p.join('.')),
        );
      }
      this.walk(pair.value, found[1], [...path, found[0]], keyWritten, keyLine);
    }
  }

  private merge(
    raw: unknown,
    schema: SchemaNode,
    path: string[],
    written: string[],
    line: number,
  ): void {
    const value = this.deref(raw);
    const sources = isSeq(value) ? value.items : [value];
    for (const item of sources) this.walk(item, schema, path, written, line);
  }
}

// ---------------------------------------------------------------------------
// Building the StaticConfig

interface Context {
  store: Store;
  cwd: string;
}

function entry(ctx: Context, path: string): Entry | undefined {
  return ctx.store.get(path);
}

function valueOf<T>(ctx: Context, path: string, fallback: T): T {
  const found = ctx.store.get(path);
  return found === undefined ? fallback : (found.value as T);
}

function absolute(ctx: Context, path: string): string {
  return isAbsolute(path) ? path : resolvePath(ctx.cwd, path);
}

function defaultEntryPoint(name: string, address: ParsedAddress): EntryPointConfig {
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
  };
}

function buildEntryPoint(ctx: Context, name: string): EntryPointConfig {
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
    ep.http.tls = {
      ...(options ? { options: String(options.value) } : {}),
      ...(resolver ? { certResolver: String(resolver.value) } : {}),
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
  return ep;
}

/** accessLog.filters.*: undefined when none is set */
function buildAccessLogFilters(ctx: Context): AccessLogFilters | undefined {
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
function parseStatusCodes(items: string[], origin: string): [number, number][] {
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
function modeEntries(ctx: Context, prefix: string): Map<string, { name: string; entry: Entry }> {
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

const FIELD_NAMES = [...ACCESS_LOG_FIELDS, ...ACCESS_LOG_TRAEFIK_ONLY_FIELDS];

/** accessLog.fields.*: undefined when none is set (Traefik's defaults apply) */
function buildAccessLogFields(ctx: Context): AccessLogFields | undefined {
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

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);

/** two listeners on one port collide if hosts match or either binds every interface */
function checkAddresses(
  entryPoints: Record<string, EntryPointConfig>,
  origins: Map<string, string>,
): void {
  const list = Object.values(entryPoints);
  for (let i = 0; i < list.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = list[j];
      const b = list[i];
      if (!a || !b || a.port === 0 || a.port !== b.port) continue;
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

function build(ctx: Context): StaticConfig {
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
  }

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

  const certificatesResolvers: StaticConfig['certificatesResolvers'] = {};
  for (const { name } of store.resolverNames.values()) {
    const p = `certificatesResolvers.${name}.acme`;
    if (!valueOf(ctx, p, false)) continue;
    const httpEp = entry(ctx, `${p}.httpChallenge.entryPoint`);
    const http = Boolean(valueOf(ctx, `${p}.httpChallenge`, false)) || httpEp !== undefined;
    const tlsCh = valueOf(ctx, `${p}.tlsChallenge`, false);
    if (!http && !tlsCh) {
      throw new StaticConfigError(
        `${p}.httpChallenge.entryPoint`,
        'an ACME resolver needs httpChallenge or tlsChallenge',
      );
    }
    if (http && !httpEp)
      throw new StaticConfigError(
        `${p}.httpChallenge.entryPoint`,
        'is required with httpChallenge',
      );
    const epName = httpEp ? (store.knownName(String(httpEp.value)) ?? String(httpEp.value)) : '';
    const keyTypeEntry = entry(ctx, `${p}.keyType`);
    const keyType = String(keyTypeEntry?.value ?? 'RSA4096').toUpperCase();
    if (!['EC256', 'EC384', 'RSA2048', 'RSA4096'].includes(keyType)) {
      throw new StaticConfigError(keyTypeEntry!.origin, 'must be EC256, EC384, RSA2048 or RSA4096');
    }
    const storage = valueOf(ctx, `${p}.storage`, 'acme.json');
    const kid = entry(ctx, `${p}.eab.kid`);
    const hmac = entry(ctx, `${p}.eab.hmacEncoded`);
    certificatesResolvers[name] = {
      email: valueOf(ctx, `${p}.email`, ''),
      caServer: valueOf(ctx, `${p}.caServer`, 'https://acme-v02.api.letsencrypt.org/directory'),
      storage: /^rediss?:\/\//.test(storage) ? storage : absolute(ctx, storage),
      keyType: keyType as 'EC256' | 'EC384' | 'RSA2048' | 'RSA4096',
      caCertificates: valueOf<string[]>(ctx, `${p}.caCertificates`, []).map((c) =>
        c.includes('-----BEGIN') ? c : absolute(ctx, c),
      ),
      ...(http ? { httpChallenge: { entryPoint: epName } } : {}),
      ...(tlsCh ? { tlsChallenge: {} } : {}),
      ...(kid && hmac ? { eab: { kid: String(kid.value), hmacEncoded: String(hmac.value) } } : {}),
    };
  }

  const log: StaticConfig['log'] = {
    level: valueOf(ctx, 'log.level', 'info') as StaticConfig['log']['level'],
    format: valueOf(ctx, 'log.format', 'json') as StaticConfig['log']['format'],
  };
  const logFile = valueOf<string | undefined>(ctx, 'log.filePath', undefined);
  if (logFile !== undefined) log.filePath = absolute(ctx, logFile);

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

  const rootCAs = valueOf<string[]>(ctx, 'serversTransport.rootCAs', []).map((ca) =>
    // Traefik accepts a file or inline PEM; only files are relative to cwd
    ca.includes('-----BEGIN') ? ca : absolute(ctx, ca),
  );

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
    serversTransport: {
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
    },
    workers: valueOf(ctx, 'workers', availableParallelism()),
    quickstart: valueOf(ctx, 'quickstart', false),
  };
  if (Object.keys(certificatesResolvers).length > 0)
    config.certificatesResolvers = certificatesResolvers;
  if (file) config.providers.file = file;
  if (docker) config.providers.docker = docker;
  if (accessLog) config.accessLog = accessLog;
  if (api) config.api = api;
  if (ping) config.ping = ping;
  if (metrics) config.metrics = metrics;
  return config;
}

/** metrics.*: undefined unless some metrics option is set (`--metrics.prometheus` switches it on). */
function buildMetrics(
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

// ---------------------------------------------------------------------------
// Entry point

const DEFAULT_FILES = ['portico.yml', 'portico.yaml'];

/**
 * Loads the static configuration: defaults < config file < PORTICO_* env <
 * flags. `argv` holds options only (the caller strips the subcommand). Throws
 * StaticConfigError naming the offending option as the user wrote it.
 */
export function loadStaticConfig(input: {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}): StaticConfig {
  const cwd = input.cwd ?? process.cwd();
  const ctx: Context = { store: new Store(), cwd };

  const given = findConfigFile(input.argv, input.env);
  let configFile: string | undefined;
  if (given) {
    configFile = absolute(ctx, given.path);
    // problems finding the file name the option that gave it; problems inside it name the file
    if (extname(configFile).toLowerCase() === '.toml') {
      throw new StaticConfigError(
        given.origin,
        'toml configuration files are not supported; use yaml or json',
      );
    }
    if (!existsSync(configFile)) {
      throw new StaticConfigError(
        given.origin,
        `cannot read configuration file ${JSON.stringify(given.path)}: no such file`,
      );
    }
    applyFile(ctx.store, configFile, given.path);
  } else {
    const found = DEFAULT_FILES.find((name) => existsSync(resolvePath(cwd, name)));
    if (found) {
      configFile = resolvePath(cwd, found);
      applyFile(ctx.store, configFile, basename(found));
    }
  }
  applyEnv(ctx.store, input.env);
  applyFlags(ctx.store, input.argv);

  const config = build(ctx);
  if (configFile !== undefined) config.configFile = configFile;
  return config;
}

// ---------------------------------------------------------------------------
// Help

function buildHelp(): string {
  const options = staticHelpLines();
  return [
    'Static configuration (Traefik v3 install options)',
    '',
    'Sources, lowest to highest precedence:',
    '  defaults < config file < PORTICO_* environment variables < command-line flags',
    'Unlike Traefik, which reads one source only, Portico merges them option by option:',
    'a flag overrides the same option from the environment or the file and leaves the rest.',
    '',
    'Config file: --configFile=PATH or PORTICO_CONFIGFILE, else ./portico.yml or ./portico.yaml.',
    "  YAML or JSON with Traefik's keys (entryPoints, providers, log, accessLog, api, ...);",
    '  keys match case-insensitively. TOML is not supported.',
    'Flags: --name=value or --name value; booleans alone mean true (--api.insecure).',
    '  Lists are comma-separated. Names match case-insensitively.',
    'Environment: PORTICO_ + the option path with "_" between segments, e.g.',
    '  PORTICO_ENTRYPOINTS_WEB_ADDRESS=:8000, PORTICO_LOG_LEVEL=DEBUG, PORTICO_ACCESSLOG=true.',
    '  Entry point names are read in lower case. Empty variables are ignored; an unknown',
    '  PORTICO_* variable is an error, so typos are caught.',
    'Durations: 100ms, 1.5s, 2m, 1h30m, or a plain number of seconds (as in Traefik).',
    'Relative paths are resolved against the working directory.',
    '',
    `Without any entry point Portico listens on "web" at ${DEFAULTS.webAddress} (unprivileged; Traefik uses :80).`,
    `api.insecure, ping and metrics.prometheus add entry point "traefik" on ${DEFAULTS.internalAddress} unless configured.`,
    'Setting any option of accessLog, api, ping, metrics.prometheus, providers.file or providers.docker turns that section on.',
    'Traefik options Portico does not implement yet are reported as such, never ignored.',
    '',
    'Options:',
    ...options,
  ].join('\n');
}

/** help text for every static option, generated from the schema */
export const staticOptionsHelp: string = buildHelp();
