/*
 * The first half of label decoding: flat keys (`traefik.http.routers.web.rule`)
 * read into one case-insensitive key tree per element, as Traefik's paerser
 * builds its node tree before decoding. Keys under a later prefix that a
 * former prefix also writes are shadowed (`portico.` wins over `traefik.`);
 * keys outside `http.*`, `tcp.*` and `udp.*` and the caller's own keys are
 * set aside. What each node means is the schema's business (labels.ts).
 */
import { suggest } from '../kernel/suggest.js';

export type LabelLevel = 'error' | 'warning';

export type LabelElementKind =
  | 'router'
  | 'service'
  | 'middleware'
  | 'serversTransport'
  | 'tcpRouter'
  | 'tcpService'
  | 'tcpMiddleware'
  | 'udpRouter'
  | 'udpService';

export type LabelProtocol = 'http' | 'tcp' | 'udp';

export interface LabelIssue {
  /** the key as written */
  key: string;
  value: string;
  message: string;
  /** `error`: the element the key belongs to (if any) is left out; `warning`: kept */
  level: LabelLevel;
  element?: { kind: LabelElementKind; name: string };
}

/** The `http.<section>` names labels may use, and what they hold. */
export const SECTION_KINDS = {
  routers: { kind: 'router', key: 'routers' },
  services: { kind: 'service', key: 'services' },
  middlewares: { kind: 'middleware', key: 'middlewares' },
  serverstransports: { kind: 'serversTransport', key: 'serversTransports' },
} as const satisfies Record<string, { kind: LabelElementKind; key: string }>;

export type SectionKey = (typeof SECTION_KINDS)[keyof typeof SECTION_KINDS]['key'];

/** The `tcp.<section>` names labels may use (Traefik's tcp servers transports have no labels). */
export const TCP_SECTION_KINDS = {
  routers: { kind: 'tcpRouter', key: 'routers' },
  services: { kind: 'tcpService', key: 'services' },
  middlewares: { kind: 'tcpMiddleware', key: 'middlewares' },
} as const satisfies Record<string, { kind: LabelElementKind; key: string }>;

/** The `udp.<section>` names labels may use. */
export const UDP_SECTION_KINDS = {
  routers: { kind: 'udpRouter', key: 'routers' },
  services: { kind: 'udpService', key: 'services' },
} as const satisfies Record<string, { kind: LabelElementKind; key: string }>;

const PROTOCOL_SECTIONS: Record<
  LabelProtocol,
  Readonly<Record<string, { kind: LabelElementKind; key: string }>>
> = { http: SECTION_KINDS, tcp: TCP_SECTION_KINDS, udp: UDP_SECTION_KINDS };

/** How messages name an element kind. */
const NOUNS: Record<LabelElementKind, string> = {
  router: 'router',
  service: 'service',
  middleware: 'middleware',
  serversTransport: 'serversTransport',
  tcpRouter: 'tcp router',
  tcpService: 'tcp service',
  tcpMiddleware: 'tcp middleware',
  udpRouter: 'udp router',
  udpService: 'udp service',
};

export interface Leaf {
  key: string;
  value: string;
}

/** A node of the key tree: children merged ignoring case, first spelling kept. */
export interface Node {
  name: string;
  children: Map<string, Node>;
  /** set when a key ends here; more than one when the same path was written twice */
  leaves: Leaf[];
}

export function newNode(name: string): Node {
  return { name, children: new Map(), leaves: [] };
}

export function allLeaves(node: Node): Leaf[] {
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

export interface KeyTree {
  /** http: section key → element (lower-cased name) → its key tree */
  sections: Map<SectionKey, Map<string, Node>>;
  /** the same per protocol (`byProtocol.http` is `sections`) */
  byProtocol: Record<LabelProtocol, Map<string, Map<string, Node>>>;
  /** the caller's keys (`providerKeys`), by lower-cased path after the prefix */
  extra: Record<string, Leaf>;
  /** keys that could not be split into a path; their elements are left out */
  malformedKeys: Set<string>;
  /** the prefix the labels use (first one found) */
  prefix: string | undefined;
  issues: LabelIssue[];
}

export interface ReadKeysOptions {
  /** accepted roots in precedence order, e.g. `['portico', 'traefik']` */
  prefixes: readonly string[];
  providerKeys?: readonly string[];
  serversTransports?: boolean;
}

/** Reads every label under one of the prefixes into the key tree, reporting keys that fit nowhere. */
export function readLabelKeys(
  labels: Readonly<Record<string, string>>,
  opts: ReadKeysOptions,
): KeyTree {
  const http = new Map<SectionKey, Map<string, Node>>();
  const tree: KeyTree = {
    sections: http,
    byProtocol: { http, tcp: new Map(), udp: new Map() },
    extra: {},
    malformedKeys: new Set(),
    prefix: undefined,
    issues: [],
  };
  const providerKeys = new Set((opts.providerKeys ?? []).map((k) => k.toLowerCase()));
  const prefixes = opts.prefixes.map((p) => p.toLowerCase());
  for (const entries of groupByPath(labels, prefixes).values()) {
    for (const { rank, leaf } of winners(entries, tree.issues)) {
      tree.prefix ??= opts.prefixes[rank];
      const rest = leaf.key.slice(prefixes[rank]!.length + 1);
      placeKey(tree, leaf, rest, providerKeys, opts.serversTransports !== false);
    }
  }
  return tree;
}

interface Ranked {
  /** index of the key's prefix in the precedence order */
  rank: number;
  leaf: Leaf;
}

/** The keys under a prefix, grouped by their lower-cased path after it (in sorted key order). */
function groupByPath(
  labels: Readonly<Record<string, string>>,
  prefixes: readonly string[],
): Map<string, Ranked[]> {
  const byPath = new Map<string, Ranked[]>();
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
  return byPath;
}

/** The keys of the first prefix that writes this path; the others, when they differ, are reported. */
function winners(entries: Ranked[], issues: LabelIssue[]): Ranked[] {
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
  return entries.filter((e) => e.rank === best);
}

/** Puts one key (`rest`: its path after the prefix) where it belongs, or reports why it cannot go anywhere. */
function placeKey(
  tree: KeyTree,
  leaf: Leaf,
  rest: string,
  providerKeys: ReadonlySet<string>,
  serversTransports: boolean,
): void {
  const raw = rest.split('.');
  const root = raw[0]!.toLowerCase();
  const bad = (message: string, level: LabelLevel = 'error') =>
    tree.issues.push({ key: leaf.key, value: leaf.value, message, level });

  if (providerKeys.has(root)) {
    tree.extra[rest.toLowerCase()] = leaf;
    return;
  }
  if (root === 'tls') {
    bad('tls stores and options cannot be defined with labels yet; label ignored', 'warning');
    return;
  }
  if (root !== 'http' && root !== 'tcp' && root !== 'udp') {
    const hint = suggest(raw[0]!, ['http', 'tcp', 'udp', 'tls', ...providerKeys]);
    bad(`unknown label "${raw[0]}"` + (hint ? `, did you mean "${hint}"?` : ''));
    return;
  }
  const table = PROTOCOL_SECTIONS[root];
  const sectionName = raw[1]?.toLowerCase();
  const section =
    sectionName !== undefined && Object.hasOwn(table, sectionName) ? table[sectionName] : undefined;
  if (!section) {
    if (root === 'tcp' && sectionName === 'serverstransports') {
      // Traefik: TCPConfiguration.ServersTransports is `label:"-"`
      bad(
        'tcp servers transports cannot be defined with labels; define it in a file and reference it as name@file',
      );
      return;
    }
    const names = root === 'udp' ? ['routers', 'services'] : ['routers', 'services', 'middlewares'];
    const hint = raw[1] ? suggest(raw[1], names) : undefined;
    const listed = names.map((n) => `${root}.${n}`);
    bad(
      raw[1] === undefined
        ? `expected ${listed.slice(0, -1).join(', ')} or ${listed[listed.length - 1]}`
        : `unknown section "${root}.${raw[1]}"` +
            (hint
              ? `, did you mean "${root}.${hint}"?`
              : root === 'udp'
                ? ` (udp labels: ${listed.join(', ')})`
                : ''),
    );
    return;
  }
  const name = raw[2];
  if (!name) {
    bad(`missing a ${NOUNS[section.kind]} name after "${root}.${raw[1]}"`);
    return;
  }
  if (section.kind === 'serversTransport' && !serversTransports) {
    bad(
      'servers transports cannot be defined with labels; define it in a file and reference it as name@file',
      'error',
    );
    return;
  }
  const sections = tree.byProtocol[root];
  let elements = sections.get(section.key);
  if (!elements) sections.set(section.key, (elements = new Map()));
  let node = elements.get(name.toLowerCase());
  if (!node) elements.set(name.toLowerCase(), (node = newNode(name)));
  const path = splitPath(raw.slice(3));
  if (path === undefined) {
    bad('malformed key: empty segment or bad [n] index');
    // the element is still declared, and left out for this bad key
    node.leaves.push({ key: leaf.key, value: leaf.value });
    tree.malformedKeys.add(leaf.key);
    return;
  }
  let cursor = node;
  for (const part of path) {
    let next = cursor.children.get(part.toLowerCase());
    if (!next) cursor.children.set(part.toLowerCase(), (next = newNode(part)));
    cursor = next;
  }
  cursor.leaves.push({ key: leaf.key, value: leaf.value });
}

/** The segments after the element name as a node path (`[n]` indexes split off); undefined when malformed. */
function splitPath(segments: readonly string[]): string[] | undefined {
  const path: string[] = [];
  for (const seg of segments) {
    const parts = splitSegment(seg);
    if (!parts) return undefined;
    path.push(...parts);
  }
  return segments.some((s) => s === '') ? undefined : path;
}
