/*
 * One decoder for flat label keys (Docker labels, later Kubernetes annotations):
 * `traefik.http.routers.web.tls.domains[0].sans=a.example,b.example` becomes a
 * typed tree in Traefik's dynamic-configuration shape.
 *
 * As in Traefik (paerser matches node names with strings.EqualFold), keys are
 * case-insensitive: element names keep the spelling of their first key (in
 * sorted order), field names are rewritten to their canonical camelCase, map
 * keys (header names) are kept as written. Lists are one comma-separated value,
 * structs in a list take an `[n]` index.
 *
 * Unlike Traefik, which fails the whole decode on the first unknown key and
 * skips the container, every bad key is reported as data (key, value, reason)
 * and only the element it belongs to is left out, so one typo does not take a
 * container's other routers down with it.
 */
import { setKey } from './objects.js';
import {
  fieldsOf,
  hintOf,
  itemsOf,
  removedField,
  valuesOf,
  type Hint,
  type TSchema,
} from './schema/core.js';
import { decodeText, parseLabelBool, splitList, unknownFieldMessage } from './schema/decode.js';
import { LabelService, Router, ServersTransport } from './schema/http.js';
import { implementedMiddlewareTypes, middlewareSchema } from './schema/middlewares/index.js';
import { suggest } from '../kernel/suggest.js';

export { parseLabelBool, splitList };

/* ------------------------------------------------------------------ types */

export type LabelLevel = 'error' | 'warning';

export type LabelElementKind = 'router' | 'service' | 'middleware' | 'serversTransport';

export interface LabelIssue {
  /** the key as written */
  key: string;
  value: string;
  message: string;
  /** `error`: the element the key belongs to (if any) is left out; `warning`: kept */
  level: LabelLevel;
  element?: { kind: LabelElementKind; name: string };
}

/** A server as labels describe it: `port`/`scheme` are turned into a `url` by the provider. */
export interface LabelServer {
  url?: string;
  port?: number;
  scheme?: string;
  weight?: number;
  preservePath?: boolean;
}

export interface LabelRouter {
  rule?: string;
  ruleSyntax?: string;
  entryPoints?: string[];
  middlewares?: string[];
  service?: string;
  priority?: number;
  tls?: {
    certResolver?: string;
    options?: string;
    domains?: { main?: string; sans?: string[] }[];
  };
  observability?: Record<string, unknown>;
}

export interface LabelService {
  loadBalancer?: Record<string, unknown> & { servers?: LabelServer[] };
  weighted?: Record<string, unknown>;
  mirroring?: Record<string, unknown>;
  failover?: Record<string, unknown>;
}

export interface LabelHttp {
  routers: Record<string, LabelRouter>;
  services: Record<string, LabelService>;
  middlewares: Record<string, Record<string, unknown>>;
  serversTransports: Record<string, Record<string, unknown>>;
}

export interface DecodedLabels {
  /** elements whose every key decoded; names unqualified, references kept as written */
  http: LabelHttp;
  /** every element name declared, decoded or left out, per kind (first spelling) */
  declared: Record<LabelElementKind, string[]>;
  /**
   * keys under the prefix that belong to the caller (`providerKeys`), by their
   * lower-cased path after the prefix, e.g. `enable`, `docker.network`
   */
  extra: Record<string, { key: string; value: string }>;
  /** the prefix the labels use (first one found), for messages about keys not written */
  prefix: string | undefined;
  issues: LabelIssue[];
}

export interface DecodeLabelsOptions {
  /** accepted roots in precedence order, e.g. `['portico', 'traefik']` */
  prefixes: readonly string[];
  /** first path segments after the prefix that the caller decodes itself, e.g. `enable`, `docker` */
  providerKeys?: readonly string[];
  /** whether servers transports may be defined (Traefik's Docker labels cannot) */
  serversTransports?: boolean;
}

/* ------------------------------------------------------------------ specs */

/*
 * Every element is decoded with its schema (src/config/schema/), the one
 * description of its fields: the label tree gives the structure, the schema
 * says which names exist and how each value is read from text.
 */

/** Free-form options (a plugin's, or a type Portico does not know): keys kept or lower-cased. */
interface Free {
  free: true;
  keepCase: boolean;
}

type Spec = TSchema | Free;

const isFree = (spec: Spec): spec is Free => (spec as Free).free === true;

/** The kind of a spec, for the tree walk: containers take sub-keys, scalars a value. */
function kindOf(spec: Spec): Hint['kind'] | 'free' {
  if (isFree(spec)) return 'free';
  const kind = hintOf(spec).kind;
  return kind === 'any' ? 'free' : kind;
}

const SECTIONS: Record<string, { kind: LabelElementKind; key: keyof LabelHttp; spec?: Spec }> = {
  routers: { kind: 'router', key: 'routers', spec: Router },
  services: { kind: 'service', key: 'services', spec: LabelService },
  middlewares: { kind: 'middleware', key: 'middlewares' },
  serverstransports: {
    kind: 'serversTransport',
    key: 'serversTransports',
    spec: ServersTransport,
  },
};

/* ------------------------------------------------------------------- tree */

interface Leaf {
  key: string;
  value: string;
}

/** A node of the key tree: children merged ignoring case, first spelling kept. */
interface Node {
  name: string;
  children: Map<string, Node>;
  /** set when a key ends here; more than one when the same path was written twice */
  leaves: Leaf[];
}

function newNode(name: string): Node {
  return { name, children: new Map(), leaves: [] };
}

function allLeaves(node: Node): Leaf[] {
  const out = [...node.leaves];
  for (const child of node.children.values()) out.push(...allLeaves(child));
  return out;
}

/** `domains[0]` → `domains`, `[0]`; undefined for a malformed segment. */
function splitSegment(segment: string): string[] | undefined {
  const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(segment);
  if (!m || m[1] === '') return undefined;
  const out = [m[1]!];
  for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(`[${idx[1]}]`);
  return out;
}

/* ---------------------------------------------------------------- decoding */

interface Ctx {
  issues: LabelIssue[];
  element?: { kind: LabelElementKind; name: string };
}

function report(ctx: Ctx, leaves: Leaf[], message: string, level: LabelLevel = 'error'): void {
  for (const leaf of leaves) {
    ctx.issues.push({
      key: leaf.key,
      value: leaf.value,
      message,
      level,
      ...(ctx.element ? { element: ctx.element } : {}),
    });
  }
}

const SKIP = Symbol('skip');

function scalar(spec: Spec, leaf: Leaf, ctx: Ctx): unknown {
  const r = isFree(spec) ? { error: 'expected a value here' } : decodeText(spec, leaf.value);
  if ('error' in r) {
    report(ctx, [leaf], r.error);
    return SKIP;
  }
  return r.value;
}

function allowsEmpty(spec: Spec): boolean {
  return !isFree(spec) && hintOf(spec).kind === 'object' && hintOf(spec).allowEmpty === true;
}

/** Converts `node` (whose own name is already matched) against `spec`. */
function convert(spec: Spec, node: Node, path: string, ctx: Ctx): unknown {
  if (node.leaves.length > 1) {
    const distinct = new Set(node.leaves.map((l) => l.value));
    if (distinct.size > 1) {
      report(
        ctx,
        node.leaves,
        `"${path}" given ${node.leaves.length} times with different values; keys are case-insensitive`,
      );
      return SKIP;
    }
  }
  const leaf = node.leaves[0];
  const hasChildren = node.children.size > 0;

  const kind = kindOf(spec);
  if (kind === 'object' || kind === 'map' || kind === 'array' || kind === 'free') {
    if (leaf && !hasChildren) {
      if (allowsEmpty(spec)) {
        const b = parseLabelBool(leaf.value);
        if (b === undefined) {
          report(
            ctx,
            [leaf],
            `expected true to enable "${path}" with defaults, got "${leaf.value}"`,
          );
          return SKIP;
        }
        return b ? {} : SKIP;
      }
      report(ctx, [leaf], `"${path}" takes sub-keys, not a value`);
      return SKIP;
    }
    if (leaf) {
      // `tls=true` next to `tls.certresolver=…`: the block exists either way
      if (!(allowsEmpty(spec) && parseLabelBool(leaf.value) !== undefined)) {
        report(ctx, [leaf], `"${path}" takes sub-keys, not a value`);
        return SKIP;
      }
    }
  } else {
    if (hasChildren) {
      const under = [...node.children.values()].flatMap(allLeaves);
      report(ctx, under, `"${path}" is a value and takes no sub-keys`);
      return SKIP;
    }
    return leaf ? scalar(spec, leaf, ctx) : SKIP;
  }

  switch (kind) {
    case 'object': {
      const fields = fieldsOf(spec as TSchema);
      const known = Object.keys(fields);
      const byLower = new Map(known.map((k) => [k.toLowerCase(), k]));
      const out: Record<string, unknown> = {};
      let failed = false;
      for (const child of node.children.values()) {
        const canonical = byLower.get(child.name.toLowerCase());
        if (canonical === undefined) {
          const what = child.name.startsWith('[')
            ? `"${path}" is not a list, ${child.name} does not apply`
            : (removedField(spec as TSchema, child.name)?.[1] ??
              unknownFieldMessage(child.name, known));
          report(ctx, allLeaves(child), what);
          failed = true;
          continue;
        }
        const v = convert(fields[canonical]!, child, `${path}.${canonical}`, ctx);
        if (v === SKIP) {
          if (allLeaves(child).length > 0 && !isDisabledBlock(fields[canonical]!, child))
            failed = true;
          continue;
        }
        setKey(out, canonical, v);
      }
      return failed ? SKIP : out;
    }
    case 'map': {
      const out: Record<string, unknown> = {};
      let failed = false;
      for (const child of node.children.values()) {
        // map keys are header names or statuses: kept as written
        const v = convert(valuesOf(spec as TSchema), child, `${path}.${child.name}`, ctx);
        if (v === SKIP) failed = true;
        else setKey(out, child.name, v);
      }
      return failed ? SKIP : out;
    }
    case 'array': {
      const items: [number, unknown][] = [];
      let failed = false;
      for (const child of node.children.values()) {
        const m = /^\[(\d+)\]$/.exec(child.name);
        if (!m) {
          report(
            ctx,
            allLeaves(child),
            `"${path}" is a list: write ${path}[0].${child.name}, not ${path}.${child.name}`,
          );
          failed = true;
          continue;
        }
        const v = convert(itemsOf(spec as TSchema), child, `${path}${child.name}`, ctx);
        if (v === SKIP) failed = true;
        else items.push([Number(m[1]), v]);
      }
      // indexes give the order; gaps (domains[0], domains[2]) are closed up
      return failed ? SKIP : items.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    }
    case 'free':
      return free(node, isFree(spec) && spec.keepCase, path, ctx);
    default:
      return SKIP;
  }
}

/** `tls=false` alone: nothing to add, but not an error either. */
function isDisabledBlock(spec: Spec, node: Node): boolean {
  return (
    allowsEmpty(spec) &&
    node.children.size === 0 &&
    node.leaves.length > 0 &&
    node.leaves.every((l) => parseLabelBool(l.value) === false)
  );
}

function free(node: Node, keepCase: boolean, path: string, ctx: Ctx): unknown {
  const out: Record<string, unknown> = {};
  let failed = false;
  for (const child of node.children.values()) {
    const name = keepCase ? child.name : child.name.toLowerCase();
    const childPath = `${path}.${name}`;
    if (child.children.size === 0) {
      const v = convert(TEXT, child, childPath, ctx);
      if (v === SKIP) failed = true;
      else setKey(out, name, v);
      continue;
    }
    if (child.leaves.length > 0) {
      report(ctx, child.leaves, `"${childPath}" takes sub-keys, not a value`);
      failed = true;
      continue;
    }
    const v = free(child, keepCase, childPath, ctx);
    if (v === SKIP) failed = true;
    else setKey(out, name, v);
  }
  return failed ? SKIP : out;
}

/** Any text, for the values of free-form options. */
const TEXT: TSchema = { 'x-portico': { kind: 'string' } } as unknown as TSchema;

function decodeMiddleware(node: Node, ctx: Ctx): unknown {
  const name = node.name;
  if (node.leaves.length > 0) {
    report(
      ctx,
      node.leaves,
      `middleware "${name}" needs a type, e.g. ${name}.stripprefix.prefixes`,
    );
  }
  const types = [...node.children.values()];
  if (types.length === 0) return SKIP;
  if (types.length > 1) {
    const names = types.map((t) => t.name).join(', ');
    report(
      ctx,
      types.flatMap(allLeaves),
      `middleware "${name}" must have exactly one type, found: ${names}`,
    );
    return SKIP;
  }
  if (node.leaves.length > 0) return SKIP;
  const typeNode = types[0]!;
  const known = implementedMiddlewareTypes();
  const schema = middlewareSchema(typeNode.name);
  const type = schema?.type ?? typeNode.name.toLowerCase();
  if (schema === undefined || !schema.implemented) {
    const hint = suggest(typeNode.name, known);
    report(
      ctx,
      allLeaves(typeNode),
      `unknown middleware type "${typeNode.name}"` +
        (hint ? `, did you mean "${hint}"?` : ` (known: ${known.join(', ')})`),
      'warning',
    );
  }
  // a plugin's options are its own (case kept); a type unknown to the schema is taken as it comes
  const spec: Spec =
    schema === undefined
      ? { free: true, keepCase: false }
      : type === 'plugin'
        ? { free: true, keepCase: true }
        : schema.options;
  let options: unknown;
  if (typeNode.children.size === 0) {
    // `contenttype=true`: a type whose options all take their defaults
    const b = typeNode.leaves.length > 0 ? parseLabelBool(typeNode.leaves[0]!.value) : undefined;
    if (b !== true) {
      report(
        ctx,
        typeNode.leaves,
        `middleware "${name}" of type ${type} needs options, or "true" to use the defaults`,
      );
      return SKIP;
    }
    options = {};
  } else {
    options = convert(spec, typeNode, type, ctx);
  }
  if (options === SKIP) return SKIP;
  const out: Record<string, unknown> = {};
  setKey(out, type, options);
  return out;
}

/**
 * Decodes the labels under any of `opts.prefixes` into Traefik's dynamic
 * configuration shape. Never throws: every key that cannot be decoded is an
 * issue, and an element with an error-level issue is left out of `http` (it is
 * still listed in `declared`).
 */
export function decodeLabels(
  labels: Readonly<Record<string, string>>,
  opts: DecodeLabelsOptions,
): DecodedLabels {
  const issues: LabelIssue[] = [];
  const extra: DecodedLabels['extra'] = {};
  const providerKeys = new Set((opts.providerKeys ?? []).map((k) => k.toLowerCase()));
  const prefixes = opts.prefixes.map((p) => p.toLowerCase());
  const sections = new Map<string, Map<string, Node>>();
  let usedPrefix: string | undefined;
  const malformedKeys = new Set<string>();

  // per path after the prefix: the winning prefix rank, so `portico.` shadows `traefik.`
  const byPath = new Map<string, { rank: number; leaf: Leaf }[]>();
  for (const key of Object.keys(labels).sort()) {
    const lower = key.toLowerCase();
    const rank = prefixes.findIndex((p) => lower.startsWith(p + '.'));
    if (rank < 0) continue;
    const rest = key.slice(prefixes[rank]!.length + 1);
    const entry = { rank, leaf: { key, value: labels[key]! } };
    const list = byPath.get(rest.toLowerCase());
    if (list) list.push(entry);
    else byPath.set(rest.toLowerCase(), [entry]);
  }

  for (const entries of byPath.values()) {
    const best = Math.min(...entries.map((e) => e.rank));
    for (const e of entries) {
      if (e.rank === best) continue;
      const winner = entries.find((x) => x.rank === best)!;
      if (winner.leaf.value !== e.leaf.value) {
        issues.push({
          key: e.leaf.key,
          value: e.leaf.value,
          message: `ignored: "${winner.leaf.key}" takes precedence`,
          level: 'warning',
        });
      }
    }
    for (const { rank, leaf } of entries.filter((e) => e.rank === best)) {
      usedPrefix ??= opts.prefixes[rank];
      const rest = leaf.key.slice(prefixes[rank]!.length + 1);
      const raw = rest.split('.');
      const root = raw[0]!.toLowerCase();
      const bad = (message: string, level: LabelLevel = 'error') =>
        issues.push({ key: leaf.key, value: leaf.value, message, level });

      if (providerKeys.has(root)) {
        extra[rest.toLowerCase()] = leaf;
        continue;
      }
      if (root === 'tcp' || root === 'udp') {
        bad(`${root} routing is not supported yet; label ignored`, 'warning');
        continue;
      }
      if (root === 'tls') {
        bad('tls stores and options cannot be defined with labels yet; label ignored', 'warning');
        continue;
      }
      if (root !== 'http') {
        const hint = suggest(raw[0]!, ['http', 'tcp', 'udp', 'tls', ...providerKeys]);
        bad(`unknown label "${raw[0]}"` + (hint ? `, did you mean "${hint}"?` : ''));
        continue;
      }
      const sectionName = raw[1]?.toLowerCase();
      const section = sectionName === undefined ? undefined : SECTIONS[sectionName];
      if (!section) {
        const hint = raw[1] ? suggest(raw[1], ['routers', 'services', 'middlewares']) : undefined;
        bad(
          raw[1] === undefined
            ? 'expected http.routers, http.services or http.middlewares'
            : `unknown section "http.${raw[1]}"` + (hint ? `, did you mean "http.${hint}"?` : ''),
        );
        continue;
      }
      const name = raw[2];
      if (!name) {
        bad(`missing a ${section.kind} name after "http.${raw[1]}"`);
        continue;
      }
      if (section.kind === 'serversTransport' && opts.serversTransports === false) {
        bad(
          'servers transports cannot be defined with labels; define it in a file and reference it as name@file',
          'error',
        );
        continue;
      }
      let elements = sections.get(section.key);
      if (!elements) sections.set(section.key, (elements = new Map()));
      let node = elements.get(name.toLowerCase());
      if (!node) elements.set(name.toLowerCase(), (node = newNode(name)));
      let malformed = false;
      const path: string[] = [];
      for (const seg of raw.slice(3)) {
        const parts = splitSegment(seg);
        if (!parts) {
          malformed = true;
          break;
        }
        path.push(...parts);
      }
      if (malformed || raw.slice(3).some((s) => s === '')) {
        bad('malformed key: empty segment or bad [n] index');
        // the element is still declared, and left out for this bad key
        node.leaves.push({ key: leaf.key, value: leaf.value });
        malformedKeys.add(leaf.key);
        continue;
      }
      let cursor = node;
      for (const part of path) {
        let next = cursor.children.get(part.toLowerCase());
        if (!next) cursor.children.set(part.toLowerCase(), (next = newNode(part)));
        cursor = next;
      }
      cursor.leaves.push({ key: leaf.key, value: leaf.value });
    }
  }

  const http: LabelHttp = { routers: {}, services: {}, middlewares: {}, serversTransports: {} };
  const declared: DecodedLabels['declared'] = {
    router: [],
    service: [],
    middleware: [],
    serversTransport: [],
  };
  for (const section of Object.values(SECTIONS)) {
    const elements = sections.get(section.key);
    if (!elements) continue;
    for (const node of elements.values()) {
      declared[section.kind].push(node.name);
      const ctx: Ctx = { issues: [], element: { kind: section.kind, name: node.name } };
      const hadMalformed = node.leaves.some((l) => malformedKeys.has(l.key));
      let value: unknown = SKIP;
      if (hadMalformed) {
        markElement(issues, node, section.kind);
        continue;
      }
      if (section.kind === 'middleware') value = decodeMiddleware(node, ctx);
      else if (node.leaves.length > 0) {
        report(
          ctx,
          node.leaves,
          `a ${section.kind} takes sub-keys, e.g. .${exampleField(section.kind)}`,
        );
      } else value = convert(section.spec!, node, node.name, ctx);
      issues.push(...ctx.issues);
      const failed = ctx.issues.some((i) => i.level === 'error');
      if (!failed && value !== SKIP) setKey(http[section.key], node.name, value);
    }
  }
  return { http, declared, extra, prefix: usedPrefix, issues };
}

/** Malformed keys were reported before the element was known: attach the element now. */
function markElement(issues: LabelIssue[], node: Node, kind: LabelElementKind): void {
  const keys = new Set(node.leaves.map((l) => l.key));
  for (const issue of issues) {
    if (keys.has(issue.key) && !issue.element) issue.element = { kind, name: node.name };
  }
}

function exampleField(kind: LabelElementKind): string {
  return kind === 'router'
    ? 'rule'
    : kind === 'service'
      ? 'loadbalancer.server.port'
      : 'servername';
}
