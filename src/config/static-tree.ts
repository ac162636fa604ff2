/*
 * The static options as the decoder walks them (src/config/static.ts): a light
 * tree read from the TypeBox schema (src/config/schema/static.ts), the
 * resolution of flag and PORTICO_* names against it (case-insensitive, entry
 * point names that contain "_") and the explanation of a name that does not
 * resolve (a Traefik option Portico lacks, or a typo with its nearest option).
 */
import { editDistance } from '../kernel/suggest.js';
import { StaticConfiguration, staticHintOf, type ListItem, type TSchema } from './schema/static.js';

// ---------------------------------------------------------------------------
// The option tree the decoder walks, read from the schema by treeOf (below):
// only what resolving names and converting values needs; help text and
// defaults stay in the schema.

export type LeafType =
  | { t: 'string' }
  /** a file path, made absolute against cwd so later readers need not know it */
  | { t: 'path' }
  | { t: 'bool' }
  | { t: 'int'; min: number; max: number }
  | { t: 'duration' }
  | { t: 'list'; item: ListItem }
  | { t: 'address' }
  | { t: 'enum'; values: Record<string, string>; shown: string };

export interface Leaf {
  kind: 'leaf';
  type: LeafType;
}

export interface Group {
  kind: 'group';
  children: Record<string, SchemaNode>;
  /** a section can be switched on by itself (`--api`, `accessLog: {}`) like Traefik's pointer options */
  section?: boolean;
  /** Traefik options under this group that Portico knows about but does not implement yet */
  unsupported?: string[];
}

/** a map of named items (entryPoints, resolvers, access-log field modes): any name, each an `item` */
export interface MapNode {
  kind: 'map';
  item: Group | Leaf;
  placeholder: string;
  /** what a name is, for errors; default "entry point name" */
  label?: string;
}

/**
 * a list of groups (Traefik's slices of structs, `tls.domains`): each item is
 * addressed by an index segment, `[0]` in canonical paths and flags, `0` in
 * variables; the index only groups one item's fields
 */
export interface ListNode {
  kind: 'list';
  item: Group;
}

export type SchemaNode = Leaf | Group | MapNode | ListNode;

export const leaf = (type: LeafType): Leaf => ({ kind: 'leaf', type });
export const group = (children: Record<string, SchemaNode>, extra: Partial<Group> = {}): Group => ({
  kind: 'group',
  children,
  ...extra,
});

export const BOOL: LeafType = { t: 'bool' };
export const DURATION: LeafType = { t: 'duration' };
export const STRING: LeafType = { t: 'string' };
export const PATH: LeafType = { t: 'path' };
export const int = (min: number, max = Number.MAX_SAFE_INTEGER): LeafType => ({
  t: 'int',
  min,
  max,
});
export const list = (item: ListItem = 'string'): LeafType => ({
  t: 'list',
  item,
});

/**
 * The decoder's option tree, read from the schema (src/config/schema/static.ts):
 * the walk below resolves names, converts values and explains typos on it.
 */
export function treeOf(schema: TSchema): SchemaNode {
  const hint = staticHintOf(schema);
  const s = schema as unknown as {
    properties?: Record<string, TSchema>;
    anyOf?: { properties?: Record<string, TSchema> }[];
    additionalProperties?: TSchema;
  };
  if (hint.map) {
    const item = treeOf(s.additionalProperties!) as Group | Leaf;
    const node: MapNode = { kind: 'map', item, placeholder: hint.map.placeholder };
    if (hint.map.label !== undefined) node.label = hint.map.label;
    return node;
  }
  if (hint.groupList) {
    const items = (schema as unknown as { items: TSchema }).items;
    return { kind: 'list', item: treeOf(items) as Group };
  }
  const p = hint.placeholder;
  if (p !== undefined) {
    let type: LeafType;
    if (typeof p === 'object') type = { t: 'enum', values: hint.values ?? {}, shown: p.shown };
    else if (p === 'name') type = STRING;
    else if (p === 'path') type = PATH;
    else if (p === 'bool') type = BOOL;
    else if (p === 'duration') type = DURATION;
    else if (p === 'address') type = { t: 'address' };
    else if (p === 'int') type = int(hint.min ?? 0, hint.max);
    else type = list(hint.item ?? 'string');
    return leaf(type);
  }
  const fields = s.properties ?? s.anyOf?.find((a) => a.properties)?.properties ?? {};
  const children = Object.fromEntries(
    Object.entries(fields).map(([name, field]) => [name, treeOf(field)]),
  );
  const extra: Partial<Group> = {};
  if (hint.section !== undefined) extra.section = true;
  if (hint.unsupported) extra.unsupported = hint.unsupported;
  return group(children, extra);
}

export const SCHEMA = treeOf(StaticConfiguration) as Group;

/** the result of resolving a name against the schema */
export interface Target {
  node: Leaf | Group;
  /** canonical segments, entry point names still as written */
  path: string[];
}

// ---------------------------------------------------------------------------
// Name resolution (flags and env) and suggestions

export const ENTRY_POINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export function findChild(node: Group, segment: string): [string, SchemaNode] | undefined {
  const lower = segment.toLowerCase();
  for (const [name, child] of Object.entries(node.children)) {
    if (name.toLowerCase() === lower) return [name, child];
  }
  return undefined;
}

export interface Failure {
  /** index of the first segment that did not resolve */
  index: number;
  node: Group | MapNode | ListNode;
  path: string[];
  reason?: string;
}

/** `[3]` (flags, canonical paths) or `3` (variables, paerser's `domains.3.main`) → `[3]` */
export function indexSegment(segment: string): string | undefined {
  const m = /^\[(\d+)\]$/.exec(segment) ?? /^(\d+)$/.exec(segment);
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) ? `[${n}]` : undefined;
}

/**
 * The segments of a flag name: `a.b[0].c` → a, b, [0], c (paerser's
 * DecodeToNode splits `name[n]` the same way).
 */
export function flagSegments(name: string): string[] {
  return name.split('.').flatMap((segment) => {
    const m = /^(.+)(\[[^\]]*\])$/.exec(segment);
    return m ? [m[1]!, m[2]!] : [segment];
  });
}

/** a path in file/flag notation: index segments stick to their list, `domains[0].main` */
export function dotted(path: string[]): string {
  return path.join('.').replace(/\.\[/g, '[');
}

/** why a list of groups cannot be set as written: no index, or no valid one */
function listFailure(
  segments: string[],
  index: number,
  node: ListNode,
  path: string[],
): Failure | undefined {
  const name = path[path.length - 1] ?? '';
  const fields = Object.keys(node.item.children);
  if (index === segments.length) {
    return {
      index,
      node,
      path,
      reason: `is a list of {${fields.join(', ')}}; set ${fields.map((f) => `${name}[0].${f}`).join(', ')}, ...`,
    };
  }
  const segment = segments[index] ?? '';
  if (indexSegment(segment) !== undefined) return undefined;
  const field = fields[0] ?? 'field';
  return {
    index,
    node,
    path,
    reason: `${JSON.stringify(segment)} is not a list index; write ${name}[0].${field}, ${name}[1].${field}, ...`,
  };
}

/**
 * Resolves name segments against the schema. With `joinNames` (env), an entry
 * point name may span several segments, since underscores both separate
 * segments and may appear in names: the shortest name that lets the rest
 * resolve wins.
 */
export function resolveSegments(
  segments: string[],
  joinNames: boolean,
  node: SchemaNode = SCHEMA,
  index = 0,
  path: string[] = [],
): Target | Failure {
  if (node.kind === 'list') {
    const failure = listFailure(segments, index, node, path);
    if (failure !== undefined) return failure;
    const item = indexSegment(segments[index] ?? '')!;
    return resolveSegments(segments, joinNames, node.item, index + 1, [...path, item]);
  }
  if (index === segments.length) {
    if (node.kind === 'leaf') return { node, path };
    if (node.kind === 'group' && node.section) return { node, path };
    return {
      index,
      node,
      path,
      reason:
        node.kind === 'map'
          ? node.item.kind === 'leaf'
            ? `missing ${node.label ?? 'name'}, e.g. ${[...path, node.placeholder].join('.')}`
            : `missing entry point name and option, e.g. ${node.placeholder}.address`
          : `is a group of options; set one of: ${Object.keys(node.children).join(', ')}`,
    };
  }
  const segment = segments[index] ?? '';
  if (node.kind === 'leaf') {
    return {
      index,
      node: SCHEMA,
      path,
      reason: `${path.join('.')} takes a value and has no sub-options`,
    };
  }
  if (node.kind === 'map') {
    const maxLength = joinNames ? segments.length - index : 1;
    let deepest: Failure | undefined;
    for (let length = 1; length <= maxLength; length++) {
      const name = segments.slice(index, index + length).join('_');
      if (!ENTRY_POINT_NAME.test(name)) {
        return {
          index,
          node,
          path,
          reason: `invalid ${node.label ?? 'entry point name'} ${JSON.stringify(name)} (letters, digits, - and _)`,
        };
      }
      const result = resolveSegments(segments, joinNames, node.item, index + length, [
        ...path,
        name,
      ]);
      if (isTarget(result)) return result;
      // report the try that got furthest to an unknown segment: `MY_EP_ADRESS`
      // fails at ADRESS, not at EP, nor as an entry point named "my_ep_adress"
      const score = (f: Failure): number => (f.index < segments.length ? f.index : -1);
      if (!deepest || score(result) > score(deepest)) deepest = result;
    }
    return deepest ?? { index, node, path };
  }
  const found = findChild(node, segment);
  if (!found) return { index, node, path };
  return resolveSegments(segments, joinNames, found[1], index + 1, [...path, found[0]]);
}

/**
 * Traefik options Portico does not implement whose absence changes nothing a
 * client or an upstream gets and weakens nothing: log colouring and rotation,
 * a dashboard banner, connection-tuning timeouts, ACME client timeouts and
 * challenge delays, API client rate limits, nginx's buffer sizes. They are
 * accepted with a warning (issue 17 §1: never an exit for a harmless option);
 * every other unsupported option stays an error.
 * Names under a map are written with the map's placeholder.
 */
const IGNORABLE: ReadonlySet<string> = new Set([
  'log.noColor',
  'log.maxSize',
  'log.maxBackups',
  'log.maxAge',
  'log.compress',
  'api.disableDashboardAd',
  'accessLog.addInternals',
  'entryPoints.<name>.transport.keepAliveMaxTime',
  'certificatesResolvers.<resolver>.acme.clientTimeout',
  'certificatesResolvers.<resolver>.acme.clientResponseHeaderTimeout',
  'certificatesResolvers.<resolver>.acme.httpChallenge.delay',
  'certificatesResolvers.<resolver>.acme.tlsChallenge.delay',
  'providers.file.debugLogGeneratedTemplate',
  'providers.docker.httpClientTimeout',
  // the API client's own rate limit (Portico's watches make few requests) and nginx's
  // buffering and upstream keep-alive tuning (issue 15; docs/static-configuration.md)
  'providers.kubernetesGateway.qps',
  'providers.kubernetesGateway.burst',
  'providers.kubernetesIngressNGINX.proxyRequestBuffering',
  'providers.kubernetesIngressNGINX.clientBodyBufferSize',
  'providers.kubernetesIngressNGINX.proxyBuffering',
  'providers.kubernetesIngressNGINX.proxyBufferSize',
  'providers.kubernetesIngressNGINX.proxyBuffersNumber',
  'providers.kubernetesIngressNGINX.upstreamKeepaliveTimeout',
  'serversTransport.forwardingTimeouts.pingTimeout',
  'serversTransport.forwardingTimeouts.readIdleTimeout',
]);

/** `path` with the names under maps replaced by the maps' placeholders */
function schemaPath(path: string[]): string {
  const out: string[] = [];
  let node: SchemaNode | undefined = SCHEMA;
  for (const segment of path) {
    if (node?.kind === 'map' || node?.kind === 'list') {
      out.push(node.kind === 'map' ? node.placeholder : '[n]');
      node = node.item;
    } else {
      out.push(segment);
      node = node?.kind === 'group' ? node.children[segment] : undefined;
    }
  }
  return out.join('.');
}

/**
 * When `segment` under `node` (at canonical `path`) is a harmless Traefik
 * option Portico does not implement, its canonical path.
 */
export function ignorableOption(
  node: Group | MapNode | ListNode,
  path: string[],
  segment: string,
): string[] | undefined {
  if (node.kind !== 'group') return undefined;
  const name = node.unsupported?.find((n) => n.toLowerCase() === segment.toLowerCase());
  if (name === undefined) return undefined;
  return IGNORABLE.has(schemaPath([...path, name])) ? [...path, name] : undefined;
}

/** the same for a name that did not resolve (flags, variables) */
export function ignorableFailure(segments: string[], failure: Failure): string[] | undefined {
  if (failure.reason !== undefined) return undefined;
  return ignorableOption(failure.node, failure.path, segments[failure.index] ?? '');
}

/** the warning for an ignored harmless option, `origin` as the user wrote it */
export function ignoredWarning(origin: string, option: string[]): string {
  return `${origin}: ${option.join('.')} is a traefik option that portico does not support yet; ignored`;
}

/**
 * The path of the list of groups that `path` (canonical) is an item field of,
 * or undefined: a list is set as a whole by one source.
 */
export function listOf(path: string[]): string[] | undefined {
  let node: SchemaNode | undefined = SCHEMA;
  for (let i = 0; i < path.length && node !== undefined; i++) {
    if (node.kind === 'list') return path.slice(0, i);
    node =
      node.kind === 'map'
        ? node.item
        : node.kind === 'group'
          ? node.children[path[i] ?? '']
          : undefined;
  }
  return undefined;
}

export function isTarget(result: Target | Failure): result is Target {
  return !('index' in result);
}

/** every option path under a node, entry point names shown as the placeholder */
export function optionPaths(node: SchemaNode, prefix: string[] = []): string[][] {
  if (node.kind === 'leaf') return [prefix];
  if (node.kind === 'map') return optionPaths(node.item, [...prefix, node.placeholder]);
  if (node.kind === 'list') return optionPaths(node.item, [...prefix, '[0]']);
  const paths: string[][] = node.section ? [prefix] : [];
  for (const [name, child] of Object.entries(node.children))
    paths.push(...optionPaths(child, [...prefix, name]));
  return paths;
}

/**
 * Explains an unresolved name: a Traefik option Portico lacks, or a typo with
 * the nearest real option. Suggestions keep the user's spelling of the part
 * that did resolve and are rendered by `render` in the source's notation.
 */
export function unknownReason(
  segments: string[],
  failure: Failure,
  render: (path: string[]) => string,
  joinNames = false,
): string {
  if (failure.reason) return failure.reason;
  const { node, index } = failure;
  const segment = segments[index] ?? '';
  const written = segments.slice(0, index);
  if (node.kind === 'group') {
    const unsupported = node.unsupported?.find(
      (name) => name.toLowerCase() === segment.toLowerCase(),
    );
    if (unsupported) {
      return `${[...failure.path, unsupported].join('.')} is a traefik option that portico does not support yet`;
    }
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const name of Object.keys(node.children)) {
      const distance = editDistance(segment.toLowerCase(), name.toLowerCase());
      if (distance < bestDistance) {
        best = name;
        bestDistance = distance;
      }
    }
    // short names get a tighter bound, or every three-letter typo "means" log
    const limit = segment.length <= 3 ? 1 : Math.max(2, Math.floor(segment.length / 3));
    const close = best !== undefined && bestDistance <= limit;
    const typoFixed = close ? [...written, best ?? '', ...segments.slice(index + 1)] : undefined;
    // a spelling fix that makes the whole name valid is the most likely intent
    if (typoFixed && isTarget(resolveSegments(typoFixed, joinNames))) {
      return `unknown option; did you mean ${render(typoFixed)}?`;
    }
    // `entryPoints.web.readTimeout` → the one option below here with that last name
    const last = (segments[segments.length - 1] ?? '').toLowerCase();
    const sameLast = optionPaths(node).filter(
      (p) => (p[p.length - 1] ?? '').toLowerCase() === last,
    );
    if (sameLast.length === 1 && sameLast[0]) {
      return `unknown option; did you mean ${render([...written, ...sameLast[0]])}?`;
    }
    if (typoFixed) return `unknown option; did you mean ${render(typoFixed)}?`;
    return `unknown option; valid here: ${Object.keys(node.children).join(', ')}`;
  }
  return 'unknown option';
}
