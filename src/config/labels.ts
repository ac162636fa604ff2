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
 *
 * `tcp.*` and `udp.*` keys decode the same way into their own sections, with
 * the label forms of their schemas (schema/tcp.ts, schema/udp.ts: one server
 * per container, no weighted services, no servers transports, as in Traefik).
 * The decoded shape (DecodedLabels and its parts) is in label-types.ts.
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
import {
  LabelTcpService,
  TCP_MIDDLEWARE_TYPES,
  TcpMiddleware,
  TcpRouter,
  tcpDeprecations,
} from './schema/tcp.js';
import { LabelUdpService, UdpRouter } from './schema/udp.js';
import { suggest } from '../kernel/suggest.js';
import {
  allLeaves,
  readLabelKeys,
  SECTION_KINDS,
  TCP_SECTION_KINDS,
  UDP_SECTION_KINDS,
  type LabelElementKind,
  type LabelProtocol,
  type LabelIssue,
  type LabelLevel,
  type Leaf,
  type Node,
} from './label-keys.js';
import type {
  DecodedLabels,
  DecodeLabelsOptions,
  LabelHttp,
  LabelTcp,
  LabelUdp,
} from './label-types.js';

export { parseLabelBool, splitList };

/* ------------------------------------------------------------------ types */

export type { LabelElementKind, LabelIssue, LabelLevel } from './label-keys.js';
export type {
  DecodedLabels,
  DecodeLabelsOptions,
  LabelHttp,
  LabelRouter,
  LabelServer,
  LabelService,
  LabelTcp,
  LabelTcpServer,
  LabelUdp,
} from './label-types.js';

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

interface Section {
  protocol: LabelProtocol;
  kind: LabelElementKind;
  key: string;
  /** the schema of the section's elements; middlewares take their type's */
  spec?: Spec;
}

/** The sections in decoding order, each with its schema. */
const SECTIONS: Section[] = [
  { protocol: 'http', ...SECTION_KINDS.routers, spec: Router },
  { protocol: 'http', ...SECTION_KINDS.services, spec: LabelService },
  { protocol: 'http', ...SECTION_KINDS.middlewares },
  { protocol: 'http', ...SECTION_KINDS.serverstransports, spec: ServersTransport },
  { protocol: 'tcp', ...TCP_SECTION_KINDS.routers, spec: TcpRouter },
  { protocol: 'tcp', ...TCP_SECTION_KINDS.services, spec: LabelTcpService },
  { protocol: 'tcp', ...TCP_SECTION_KINDS.middlewares },
  { protocol: 'udp', ...UDP_SECTION_KINDS.routers, spec: UdpRouter },
  { protocol: 'udp', ...UDP_SECTION_KINDS.services, spec: LabelUdpService },
];

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
  const tree = readLabelKeys(labels, opts);
  const { issues } = tree;
  const http: LabelHttp = { routers: {}, services: {}, middlewares: {}, serversTransports: {} };
  const tcp: LabelTcp = { routers: {}, services: {}, middlewares: {} };
  const udp: LabelUdp = { routers: {}, services: {} };
  const out: Record<LabelProtocol, Record<string, Record<string, unknown>>> = {
    http: http as unknown as Record<string, Record<string, unknown>>,
    tcp: tcp as unknown as Record<string, Record<string, unknown>>,
    udp: udp as unknown as Record<string, Record<string, unknown>>,
  };
  const declared: DecodedLabels['declared'] = {
    router: [],
    service: [],
    middleware: [],
    serversTransport: [],
    tcpRouter: [],
    tcpService: [],
    tcpMiddleware: [],
    udpRouter: [],
    udpService: [],
  };
  for (const section of SECTIONS) {
    const elements = tree.byProtocol[section.protocol].get(section.key);
    if (!elements) continue;
    for (const node of elements.values()) {
      declared[section.kind].push(node.name);
      if (node.leaves.some((l) => tree.malformedKeys.has(l.key))) {
        markElement(issues, node, section.kind);
        continue;
      }
      const ctx: Ctx = { issues: [], element: { kind: section.kind, name: node.name } };
      const value = decodeElement(section, node, ctx);
      issues.push(...ctx.issues);
      const failed = ctx.issues.some((i) => i.level === 'error');
      if (!failed && value !== SKIP) {
        if (section.kind === 'tcpService' || section.kind === 'tcpMiddleware')
          warnDeprecated(section.kind, value, node, issues);
        setKey(out[section.protocol][section.key]!, node.name, value);
      }
    }
  }
  return { http, tcp, udp, declared, extra: tree.extra, prefix: tree.prefix, issues };
}

/** Traefik v3's deprecated tcp fields, as warnings on the labels that set them. */
function warnDeprecated(
  kind: 'tcpService' | 'tcpMiddleware',
  value: unknown,
  node: Node,
  issues: LabelIssue[],
): void {
  for (const d of tcpDeprecations(kind === 'tcpService' ? 'service' : 'middleware', value)) {
    let cursor: Node | undefined = node;
    for (const part of d.field.split('.')) cursor = cursor?.children.get(part.toLowerCase());
    if (cursor === undefined) continue;
    for (const leaf of allLeaves(cursor)) {
      issues.push({
        key: leaf.key,
        value: leaf.value,
        message: d.message,
        level: 'warning',
        element: { kind, name: node.name },
      });
    }
  }
}

/** A tcp middleware: exactly one of Traefik's three types, with that type's options. */
function decodeTcpMiddleware(node: Node, ctx: Ctx): unknown {
  const name = node.name;
  if (node.leaves.length > 0) {
    report(
      ctx,
      node.leaves,
      `tcp middleware "${name}" needs a type, e.g. ${name}.ipallowlist.sourcerange`,
    );
  }
  const types = [...node.children.values()];
  if (types.length === 0) return SKIP;
  if (types.length > 1) {
    const names = types.map((t) => t.name).join(', ');
    report(
      ctx,
      types.flatMap(allLeaves),
      `tcp middleware "${name}" must have exactly one type, found: ${names}`,
    );
    return SKIP;
  }
  if (node.leaves.length > 0) return SKIP;
  const typeNode = types[0]!;
  const type = TCP_MIDDLEWARE_TYPES.find((t) => t.toLowerCase() === typeNode.name.toLowerCase());
  if (type === undefined) {
    const hint = suggest(typeNode.name, TCP_MIDDLEWARE_TYPES);
    report(
      ctx,
      allLeaves(typeNode),
      `unknown tcp middleware type "${typeNode.name}"` +
        (hint
          ? `, did you mean "${hint}"?`
          : ` (tcp middlewares: ${TCP_MIDDLEWARE_TYPES.join(', ')})`),
    );
    return SKIP;
  }
  const options = convert(fieldsOf(TcpMiddleware)[type]!, typeNode, type, ctx);
  if (options === SKIP) return SKIP;
  const out: Record<string, unknown> = {};
  setKey(out, type, options);
  return out;
}

/** One element's tree against its section's schema (middlewares: against their type's). */
function decodeElement(section: Section, node: Node, ctx: Ctx): unknown {
  if (section.kind === 'middleware') return decodeMiddleware(node, ctx);
  if (section.kind === 'tcpMiddleware') return decodeTcpMiddleware(node, ctx);
  if (node.leaves.length > 0) {
    report(
      ctx,
      node.leaves,
      `a ${section.kind} takes sub-keys, e.g. .${exampleField(section.kind)}`,
    );
    return SKIP;
  }
  return convert(section.spec!, node, node.name, ctx);
}

/** Malformed keys were reported before the element was known: attach the element now. */
function markElement(issues: LabelIssue[], node: Node, kind: LabelElementKind): void {
  const keys = new Set(node.leaves.map((l) => l.key));
  for (const issue of issues) {
    if (keys.has(issue.key) && !issue.element) issue.element = { kind, name: node.name };
  }
}

function exampleField(kind: LabelElementKind): string {
  switch (kind) {
    case 'router':
    case 'tcpRouter':
      return 'rule';
    case 'udpRouter':
      return 'entrypoints';
    case 'service':
    case 'tcpService':
    case 'udpService':
      return 'loadbalancer.server.port';
    default:
      return 'servername';
  }
}
