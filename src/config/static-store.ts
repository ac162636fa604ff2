/*
 * The merged store of static option values: every source (file, PORTICO_* and
 * TRAEFIK_* variables, flags) records what it sets here, the highest source wins per
 * option (defaults < file < env < flags), and setting an option inside a
 * section switches the section on, as in Traefik. A list of groups
 * (`entryPoints.<n>.http.tls.domains`) is one option: the highest source that
 * sets any of its items gives the whole list, so a flag never adds an item to
 * a file's list that the file's author did not write.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { StaticConfigError } from '../kernel/errors.js';
import { dotted, listOf, SCHEMA, type SchemaNode, type Target } from './static-tree.js';
import { convert, convertBool } from './static-values.js';

// ---------------------------------------------------------------------------
// Sources and the merged store

export type Source =
  | { kind: 'file'; file: string }
  /** PORTICO_* or TRAEFIK_* (one rank: PORTICO_* is applied last, so it wins) */
  | { kind: 'env'; prefix?: 'PORTICO_' | 'TRAEFIK_' }
  | { kind: 'flag' };

/** higher wins: defaults < file < env < flags */
export const RANK = { file: 1, env: 2, flag: 3 } as const;

export interface Entry {
  value: unknown;
  /** the option as the user wrote it, for error messages */
  origin: string;
  source: Source;
  /** sections only: false when switched on implicitly by one of their options */
  explicit: boolean;
}

export class Store {
  /** accepted, but worth a line in the log at start (see staticWarnings), each once */
  readonly warnings: string[] = [];

  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }
  readonly entries = new Map<string, Entry>();
  /**
   * entry point names, lower-case → first spelling seen (so sources agree on
   * one name) and where it was first mentioned (for "address is required")
   */
  readonly entryPointNames = new Map<string, { name: string; source: Source }>();
  /** the same for certificate resolver names */
  readonly resolverNames = new Map<string, { name: string; source: Source }>();
  /** lists of groups (key: their path) → the source that set them */
  private readonly lists = new Map<string, Source>();

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
    const path = this.canonicalPath(target.path, source);
    const { node } = target;
    if (node.kind === 'group') {
      // only sections end up here: `--api`, `PORTICO_ACCESSLOG=false`, `ping: {}`
      const enabled = raw === null ? true : convertBool(raw, origin);
      this.set(path, { value: enabled, origin, source, explicit: true });
      // `--certificatesResolvers.le.acme.tlsChallenge` switches acme on too, as an option inside it would
      if (enabled) this.enableSections(path, origin, source);
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
    const value = convert(node.type, raw, origin);
    if (!this.claimList(path, source)) return;
    this.set(path, { value, origin, source, explicit: true });
    this.enableSections(path, origin, source);
  }

  /**
   * For a field of a list item: whether `source` may set it. A higher source
   * than the list's drops the items set so far and takes the list over; the
   * same source adds to it (items by index, fields by name); a lower one is
   * ignored (sources are applied lowest first, so that is only a safeguard).
   */
  private claimList(path: string[], source: Source): boolean {
    const list = listOf(path);
    if (list === undefined) return true;
    const key = list.join('.');
    const owner = this.lists.get(key);
    if (owner !== undefined && RANK[owner.kind] > RANK[source.kind]) return false;
    if (owner === undefined || RANK[owner.kind] < RANK[source.kind]) {
      for (const k of [...this.entries.keys()]) if (k.startsWith(`${key}.`)) this.entries.delete(k);
      this.lists.set(key, source);
    }
    return true;
  }

  /** the fields set on the items of a list (canonical path), by item index in ascending order */
  listItems(list: string): { index: number; fields: Map<string, Entry> }[] {
    const items = new Map<number, Map<string, Entry>>();
    for (const [key, e] of this.entries) {
      if (!key.startsWith(`${list}.[`)) continue;
      const m = /^\[(\d+)\]\.(.+)$/.exec(key.slice(list.length + 1));
      if (!m) continue;
      const index = Number(m[1]);
      const fields = items.get(index) ?? new Map<string, Entry>();
      fields.set(m[2]!, e);
      items.set(index, fields);
    }
    return [...items.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([index, fields]) => ({ index, fields }));
  }

  /** an entry point or resolver name as the first source spelt it */
  private canonicalPath(written: string[], source: Source): string[] {
    const path = [...written];
    if (
      (path[0] === 'entryPoints' || path[0] === 'certificatesResolvers') &&
      path[1] !== undefined
    ) {
      path[1] = this.canonicalName(path[1], source, path[0]);
    }
    return path;
  }

  /**
   * An option that is accepted but ignored (a harmless Traefik option Portico
   * lacks) still declares its entry point or resolver and switches its
   * sections on, as any option inside them does.
   */
  touch(path: string[], origin: string, source: Source): void {
    this.enableSections(this.canonicalPath(path, source), origin, source);
  }

  private set(path: string[], entry: Entry): void {
    this.entries.set(path.join('.'), entry);
  }

  /** setting `accessLog.format` switches accessLog on, as in Traefik */
  private enableSections(path: string[], origin: string, source: Source): void {
    let node = SCHEMA as SchemaNode;
    for (let i = 0; i < path.length - 1; i++) {
      const segment = path[i] ?? '';
      const next: SchemaNode | undefined =
        node.kind === 'map' || node.kind === 'list'
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
// Reading the store while building (static-build.ts, static-build-tls.ts)

/** what building the StaticConfig reads: the merged store, and where relative paths start */
export interface Context {
  store: Store;
  cwd: string;
}

export function entry(ctx: Context, path: string): Entry | undefined {
  return ctx.store.get(path);
}

export function valueOf<T>(ctx: Context, path: string, fallback: T): T {
  const found = ctx.store.get(path);
  return found === undefined ? fallback : (found.value as T);
}

export function absolute(ctx: Context, path: string): string {
  return isAbsolute(path) ? path : resolvePath(ctx.cwd, path);
}

// ---------------------------------------------------------------------------
// Rendering option names in each source's notation

export function renderFlag(path: string[]): string {
  return `--${dotted(path)}`;
}

/** list indexes are bare numbers in variables: `…_DOMAINS_0_MAIN` */
export function renderEnv(path: string[], prefix = 'PORTICO_'): string {
  const segments = path.map((s) => s.replace(/^\[(\d+)\]$/, '$1'));
  return `${prefix}${segments.join('_').toUpperCase()}`;
}

export function renderFor(source: Source, path: string[]): string {
  if (source.kind === 'flag') return renderFlag(path);
  if (source.kind === 'env') return renderEnv(path, source.prefix);
  return `${source.file}: ${dotted(path)}`;
}
