/*
 * The static configuration loader. Portico reads Traefik v3's install options
 * from a YAML/JSON file, PORTICO_* and TRAEFIK_* environment variables and
 * --flags, merges them option by option (Traefik reads one source only;
 * merging lets a container image ship a file and an operator override one
 * value; docs/static-configuration.md says when that differs), validates
 * everything up front and returns a fully defaulted StaticConfig.
 *
 * All sources are resolved against one option schema,
 * src/config/schema/static.ts (TypeBox), so names, defaults, "did you mean"
 * suggestions, the help text, `portico schema --static` and the docs table
 * cannot drift apart. This file reads the sources (flags, PORTICO_*, the
 * file) into the merged store (static-store.ts), resolving names on the tree
 * read from the schema (static-tree.ts) and converting values
 * (static-values.ts); static-build.ts turns the store into the StaticConfig.
 */

import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, resolve as resolvePath } from 'node:path';
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
import { staticHelpLines } from './schema/static.js';
import {
  dotted,
  ENTRY_POINT_NAME,
  findChild,
  flagSegments,
  ignorableFailure,
  ignorableOption,
  ignoredWarning,
  isTarget,
  resolveSegments,
  SCHEMA,
  unknownReason,
  type Failure,
  type ListNode,
  type SchemaNode,
  type Target,
} from './static-tree.js';
import {
  absolute,
  renderEnv,
  renderFlag,
  Store,
  type Context,
  type Source,
} from './static-store.js';
import { build, DEFAULTS } from './static-build.js';
import type { StaticConfig } from './static-types.js';

export { parseAddress, validateCidr, type ParsedAddress } from './static-values.js';

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
  // TRAEFIK_CONFIGFILE as well: Traefik documents configFile as the file to use, though
  // its file loader reads only the flag
  for (const name of ['PORTICO_CONFIGFILE', 'TRAEFIK_CONFIGFILE']) {
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv.trim() !== '') return { path: fromEnv, origin: name };
  }
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
    const segments = flagSegments(key);
    const result = resolveSegments(segments, false);
    const next = argv[i + 1];
    if (!isTarget(result)) {
      const ignored = ignorableFailure(segments, result);
      if (ignored === undefined)
        throw new StaticConfigError(origin, unknownReason(segments, result, renderFlag));
      store.warn(ignoredWarning(origin, ignored));
      store.touch(ignored, origin, source);
      // its value, if given apart, is not an option either
      if (value === undefined && next !== undefined && !next.startsWith('--')) i++;
      continue;
    }
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

/** process-level switches that are not static options (PORTICO_H1_CLIENT: src/proxy/h1-pool.ts) */
const ENV_NOT_OPTIONS = new Set(['PORTICO_H1_CLIENT']);

/**
 * Traefik's root options (pkg/config/static.Configuration, and ConfigFile of
 * cmd.TraefikCmdConfiguration). paerser's env.FindPrefixedEnvVars reads only
 * variables starting with TRAEFIK_ + one of them in upper case (a plain string
 * prefix, so TRAEFIK_LOGX is read and refused, TRAEFIK_DOMAIN never looked at).
 */
const TRAEFIK_ROOTS = [
  'global',
  'serversTransport',
  'tcpServersTransport',
  'entryPoints',
  'providers',
  'api',
  'metrics',
  'ping',
  'log',
  'accessLog',
  'tracing',
  'hostResolver',
  'certificatesResolvers',
  'experimental',
  'core',
  'spiffe',
  'ocsp',
  'configFile',
].map((name) => `TRAEFIK_${name.toUpperCase()}`);

/** one variable resolved to its option */
interface EnvSetting {
  name: string;
  value: string | undefined;
  target: Target;
  /** the option (names from env are all lower case), to spot two variables setting it */
  key: string;
}

/**
 * Reads the variables of one prefix, sorted so that which of two conflicting
 * variables wins does not depend on the environment's order. Names are read
 * as paerser's env.Decode does: lower-cased, "_" between segments; an entry
 * point name may contain "_" (resolveSegments tries the shortest that fits),
 * which Traefik cannot express but costs nothing to accept.
 */
function readEnv(
  env: NodeJS.ProcessEnv,
  prefix: 'PORTICO_' | 'TRAEFIK_',
  store: Store,
): EnvSetting[] {
  const settings: EnvSetting[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(prefix) || ENV_NOT_OPTIONS.has(name)) continue;
    if (prefix === 'TRAEFIK_' && !TRAEFIK_ROOTS.some((root) => name.startsWith(root))) {
      store.warn(
        `${name} is ignored: not one of traefik's static options (traefik ignores it too)`,
      );
      continue;
    }
    const segments = name.slice(prefix.length).toLowerCase().split('_');
    const result = resolveSegments(segments, true);
    if (!isTarget(result)) {
      const ignored = ignorableFailure(segments, result);
      if (ignored !== undefined) {
        // an empty variable means unset, here too
        if (env[name] === undefined || env[name] === '') continue;
        store.warn(ignoredWarning(name, ignored));
        store.touch(ignored, name, { kind: 'env', prefix });
        continue;
      }
      const render = (path: string[]): string => renderEnv(path, prefix);
      throw new StaticConfigError(name, unknownReason(segments, result, render, true));
    }
    settings.push({ name, value: env[name], target: result, key: result.path.join('.') });
  }
  return settings;
}

/**
 * Applies TRAEFIK_* then PORTICO_* variables, so PORTICO_* wins when both set
 * one option (with a warning naming both). Returns the TRAEFIK_* variables
 * that set something, for the warning about Traefik's one-source rule.
 */
function applyEnv(store: Store, env: NodeJS.ProcessEnv): string[] {
  const traefik = readEnv(env, 'TRAEFIK_', store);
  const portico = readEnv(env, 'PORTICO_', store);
  const applied: string[] = [];
  for (const [settings, prefix] of [
    [traefik, 'TRAEFIK_'],
    [portico, 'PORTICO_'],
  ] as const) {
    const source: Source = { kind: 'env', prefix };
    for (const { name, value, target } of settings) {
      // compose files often declare `PORTICO_X=` to mean "unset"
      if (value === undefined || value === '') continue;
      store.apply(target, value, name, source);
      if (prefix === 'TRAEFIK_' && target.path[0] !== 'configFile') applied.push(name);
    }
  }
  for (const p of portico) {
    if (p.value === undefined || p.value === '') continue;
    const t = traefik.find((s) => s.key === p.key && s.value !== undefined && s.value !== '');
    if (t) {
      store.warn(`${p.name} and ${t.name} both set ${p.target.path.join('.')}; ${p.name} is used`);
    }
  }
  return applied;
}

/**
 * Traefik reads one source only (cmd/traefik: file, else flags, else env;
 * paerser cli.run stops at the first loader that finds something), so next to
 * a file or flags its TRAEFIK_* variables are ignored. Portico merges every
 * source, so it says when that makes a difference.
 */
function oneSourceWarning(applied: string[], file: boolean, flags: boolean): string | undefined {
  if (applied.length === 0 || (!file && !flags)) return undefined;
  const others = [
    file ? 'the configuration file' : undefined,
    flags ? 'the command-line flags' : undefined,
  ].filter((x) => x !== undefined);
  const one = applied.length === 1;
  return (
    `${applied.join(', ')} ${one ? 'is' : 'are'} merged with ${others.join(' and ')}; ` +
    `traefik reads one source only and would ignore ${one ? 'it' : 'them'}`
  );
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
    return `${this.file}: ${dotted(written)} (line ${line})`;
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
    if (schema.kind === 'list') {
      this.walkList(node, schema, path, written, line);
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
      const ignored = found ? undefined : ignorableOption(schema, path, key);
      if (ignored !== undefined) {
        this.store.warn(ignoredWarning(keyOrigin, ignored));
        continue;
      }
      if (!found) {
        const segments = [...written, key];
        const failure: Failure = { index: written.length, node: schema, path };
        throw new StaticConfigError(keyOrigin, unknownReason(segments, failure, dotted));
      }
      this.walk(pair.value, found[1], [...path, found[0]], keyWritten, keyLine);
    }
  }

  /**
   * A list of groups: each item a mapping, walked as `name[i]`. An item that
   * sets nothing is refused here, since no later check could see it; one
   * without its required field is refused when the configuration is built.
   */
  private walkList(
    node: unknown,
    schema: ListNode,
    path: string[],
    written: string[],
    line: number,
  ): void {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
    const fields = Object.keys(schema.item.children);
    if (!isSeq(node)) {
      throw new StaticConfigError(
        this.origin(written, line),
        `expected a list of {${fields.join(', ')}}`,
      );
    }
    node.items.forEach((raw, i) => {
      const item = this.deref(raw);
      const itemLine = this.lineOf(raw) || line;
      const index = `[${i}]`;
      if (!isMap(item)) {
        throw new StaticConfigError(
          this.origin([...written, index], itemLine),
          `expected a mapping with ${fields.join(' and ')}`,
        );
      }
      if (item.items.length === 0) {
        throw new StaticConfigError(
          this.origin([...written, index, fields[0] ?? ''], itemLine),
          'required',
        );
      }
      this.walk(item, schema.item, [...path, index], [...written, index], itemLine);
    });
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
// Entry point

const DEFAULT_FILES = ['portico.yml', 'portico.yaml'];

/**
 * Loads the static configuration: defaults < config file < TRAEFIK_* env <
 * PORTICO_* env < flags. `argv` holds options only (the caller strips the subcommand). Throws
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
  const traefikVars = applyEnv(ctx.store, input.env);
  applyFlags(ctx.store, input.argv);
  const oneSource = oneSourceWarning(traefikVars, configFile !== undefined, input.argv.length > 0);
  if (oneSource) ctx.store.warn(oneSource);

  const config = build(ctx);
  if (configFile !== undefined) config.configFile = configFile;
  WARNINGS.set(config, ctx.store.warnings);
  return config;
}

const WARNINGS = new WeakMap<StaticConfig, string[]>();

/**
 * What the loader accepted but the user should hear about (a TRAEFIK_* variable
 * Traefik would ignore, PORTICO_* and TRAEFIK_* setting one option); the
 * runtime logs each once at start.
 */
export function staticWarnings(config: StaticConfig): string[] {
  return WARNINGS.get(config) ?? [];
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
    'Config file: --configFile=PATH or PORTICO_CONFIGFILE (TRAEFIK_CONFIGFILE), else ./portico.yml or ./portico.yaml.',
    "  YAML or JSON with Traefik's keys (entryPoints, providers, log, accessLog, api, ...);",
    '  keys match case-insensitively. TOML is not supported.',
    'Flags: --name=value or --name value; booleans alone mean true (--api.insecure).',
    '  Lists are comma-separated. Names match case-insensitively.',
    'Environment: PORTICO_ + the option path with "_" between segments, e.g.',
    '  PORTICO_ENTRYPOINTS_WEB_ADDRESS=:8000, PORTICO_LOG_LEVEL=DEBUG, PORTICO_ACCESSLOG=true.',
    '  Entry point names are read in lower case. Empty variables are ignored; an unknown',
    '  PORTICO_* variable is an error, so typos are caught.',
    "  Traefik's TRAEFIK_* variables are read too, with the same meaning (TRAEFIK_LOG_LEVEL=DEBUG);",
    '  PORTICO_* wins when both set one option.',
    'Lists of blocks (entryPoints.<n>.http.tls.domains): a YAML list in the file, or one item',
    '  per index: --entryPoints.websecure.http.tls.domains[0].main=example.com,',
    '  PORTICO_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS=www.example.com. The highest source',
    '  that sets any item gives the whole list.',
    'Durations: 100ms, 1.5s, 2m, 1h30m, or a plain number of seconds (as in Traefik).',
    'Relative paths are resolved against the working directory.',
    '',
    `Without any entry point Portico listens on "web" at ${DEFAULTS.webAddress} (unprivileged; Traefik uses :80).`,
    `api.insecure, ping and metrics.prometheus add entry point "traefik" on ${DEFAULTS.internalAddress} unless configured.`,
    'Setting any option of accessLog, api, ping, metrics.prometheus, providers.file, providers.docker,',
    '  providers.kubernetesIngress, providers.kubernetesCRD, providers.kubernetesGateway or',
    '  providers.kubernetesIngressNGINX turns that section on.',
    'Traefik options Portico does not implement yet are refused, naming them; the harmless ones',
    '(log.noColor, log.maxSize, ...) are accepted with a warning at start-up, never silently.',
    '',
    'Options:',
    ...options,
  ].join('\n');
}

/** help text for every static option, generated from the schema */
export const staticOptionsHelp: string = buildHelp();
