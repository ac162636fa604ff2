/*
 * What every part of the CRD translator shares: the options, the
 * configuration being built, the diagnostics, Traefik's naming rules
 * (pkg/provider/kubernetes/crd/kubernetes.go: makeID, makeServiceKey,
 * provider.Normalize, resolveReference) and safe readers for fields that may
 * hold any type. A part that cannot be translated throws `Refused`; the loop
 * over objects (or routes) catches it, records a diagnostic and goes on, so
 * one bad object never stops the others.
 */
import { createHash } from 'node:crypto';
import type { DynamicConfig, TlsCertificateConfig } from '../../../src/config/dynamic.js';
import {
  CRD_PROVIDER,
  PORTICO_GROUP,
  type ClusterView,
  type KubeDiagnostic,
  type KubeObject,
  type ResourceKind,
} from '../objects.js';

export interface CrdProviderOptions {
  /** only objects of this class (spec.ingressClassName or the legacy annotation) */
  ingressClass?: string;
  allowCrossNamespace: boolean;
  allowEmptyServices: boolean;
  allowExternalNameServices: boolean;
  nativeLBByDefault: boolean;
}

/** An object's identity in diagnostics. */
export interface Source {
  kind: string;
  namespace: string;
  name: string;
}

/** Why a part of an object is left out: the field (path inside the object) and the reason. */
export class Refused extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where a produced element comes from, to report its validation errors in Kubernetes terms. */
export interface ElementOrigin extends Source {
  field: string;
}

export interface Ctx {
  view: ClusterView;
  opts: CrdProviderOptions;
  config: Required<Pick<DynamicConfig, 'http' | 'tcp' | 'udp'>> & {
    http: Required<NonNullable<DynamicConfig['http']>>;
    tcp: Required<NonNullable<DynamicConfig['tcp']>>;
    udp: Required<NonNullable<DynamicConfig['udp']>>;
  };
  /** tls.options and tls.stores, filled by tls.ts */
  tlsOptions: Record<string, unknown>;
  tlsStores: Record<string, unknown>;
  /** certificates by `namespace/secret` (Traefik's tlsConfigs): one entry per Secret */
  certificates: Map<string, TlsCertificateConfig>;
  diagnostics: KubeDiagnostic[];
  /** `section/name` → the object (and field) the element was built from */
  origins: Map<string, ElementOrigin>;
  /** the objects of each kind after filtering (ingress class, duplicate groups) */
  objects: Map<ResourceKind, KubeObject[]>;
  /** the object being translated, for warnings that do not stop it */
  current?: Source;
}

export function report(
  ctx: Ctx,
  src: Source,
  field: string,
  message: string,
  level: KubeDiagnostic['level'] = 'error',
): void {
  ctx.diagnostics.push({
    kind: src.kind,
    namespace: src.namespace,
    name: src.name,
    field,
    message,
    level,
  });
}

/** Runs one unit of translation; a refusal or any unexpected error becomes a diagnostic. */
export function attempt(ctx: Ctx, src: Source, field: string, f: () => void): boolean {
  const outer = ctx.current;
  ctx.current = src;
  try {
    f();
    return true;
  } catch (err) {
    if (err instanceof Refused) report(ctx, src, err.field || field, err.message);
    else report(ctx, src, field, `cannot be translated: ${(err as Error)?.message ?? String(err)}`);
    return false;
  } finally {
    ctx.current = outer;
  }
}

/** A warning about the object being translated: it still translates. */
export function warn(ctx: Ctx, field: string, message: string): void {
  if (ctx.current) report(ctx, ctx.current, field, message, 'warning');
}

export function sourceOf(kind: ResourceKind, o: KubeObject): Source {
  return { kind, namespace: namespaceOf(o), name: o.metadata.name };
}

/** Objects from manifests may leave the namespace out; kubectl puts them in `default`. */
export function namespaceOf(o: KubeObject): string {
  const ns = o.metadata.namespace;
  return typeof ns === 'string' && ns !== '' ? ns : 'default';
}

export function isPortico(o: KubeObject): boolean {
  return typeof o.apiVersion === 'string' && o.apiVersion.startsWith(`${PORTICO_GROUP}/`);
}

/* ------------------------------------------------------------- naming */

/** Traefik's provider.Normalize: runs of anything but letters and digits become one `-`. */
export function normalize(name: string): string {
  return name
    .split(/[^\p{L}\p{N}]+/u)
    .filter((p) => p !== '')
    .join('-');
}

/** Traefik's makeID. */
export function makeId(namespace: string, name: string): string {
  return namespace === '' ? name : `${namespace}-${name}`;
}

/**
 * Traefik's makeServiceKey: the object's name and the first 10 bytes of the
 * SHA-256 of the rule, in hex (`%.10x` limits the input bytes, so 20 digits).
 */
export function serviceKey(rule: string, objectName: string): string {
  const hash = createHash('sha256').update(rule, 'utf8').digest('hex').slice(0, 20);
  return `${objectName}-${hash}`;
}

export const SEPARATOR = '@';

/**
 * A reference to a Middleware, MiddlewareTCP or TLSOption (Traefik's
 * resolveReference): `name@provider` is kept as written (another provider's
 * element), except `…@kubernetescrd`, which could name any namespace and is
 * refused unless cross-namespace references are allowed; otherwise
 * `<namespace>-<name>`, the namespace defaulting to the referring object's.
 */
export function resolveReference(
  ctx: Ctx,
  parentNs: string,
  ref: unknown,
  field: string,
  what: string,
): string {
  const r = obj(ref, field);
  const name = reqStr(r.name, `${field}.name`);
  const ns = str(r.namespace, `${field}.namespace`) ?? '';
  if (name.includes(SEPARATOR)) {
    if (!ctx.opts.allowCrossNamespace && name.endsWith(`${SEPARATOR}${CRD_PROVIDER}`)) {
      throw new Refused(
        `${field}.name`,
        `${what} reference "${name}": @${CRD_PROVIDER} references are refused while allowCrossNamespace is off (they could name any namespace)`,
      );
    }
    return name;
  }
  const target = ns || parentNs;
  checkNamespace(ctx, parentNs, target, `${field}.namespace`, `${what} ${target}/${name}`);
  return normalize(`${target}-${name}`);
}

/** Refuses a reference to another namespace unless allowCrossNamespace (Traefik's isNamespaceAllowed). */
export function checkNamespace(
  ctx: Ctx,
  parentNs: string,
  ns: string,
  field: string,
  what: string,
): void {
  if (!ctx.opts.allowCrossNamespace && ns !== parentNs) {
    throw new Refused(
      field,
      `cross-namespace reference to ${what} refused: allowCrossNamespace is off and the object is in namespace ${parentNs}`,
    );
  }
}

/* --------------------------------------------------- hostile field readers */

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A mapping; absent (undefined/null) reads as empty. */
export function obj(v: unknown, field: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new Refused(field, `expected a mapping, got ${typeName(v)}`);
  return v;
}

export function optObj(v: unknown, field: string): Record<string, unknown> | undefined {
  return v === undefined || v === null ? undefined : obj(v, field);
}

export function arr(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Refused(field, `expected a list, got ${typeName(v)}`);
  return v;
}

export function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Refused(field, `expected a string, got ${typeName(v)}`);
  return v;
}

export function reqStr(v: unknown, field: string): string {
  const s = str(v, field);
  if (s === undefined || s === '') throw new Refused(field, 'is required');
  return s;
}

export function strList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return arr(v, field).map((s, i) => reqStr(s, `${field}[${i}]`));
}

export function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean')
    throw new Refused(field, `expected true or false, got ${typeName(v)}`);
  return v;
}

export function int(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new Refused(field, `expected an integer, got ${typeName(v)}`);
  return v;
}

/** A port: a number (1-65535) or a port name, as Kubernetes' IntOrString. */
export function port(v: unknown, field: string): number | string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    // Kubernetes' IntOrString reads "80" as the string "80"; a Service port named "80"
    // cannot exist (names must hold a letter), so a digit string means the number
    return /^\d+$/.test(v) ? Number(v) : v;
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535) return v;
  throw new Refused(field, `expected a port number or name, got ${typeName(v)}`);
}

/** `o` without the keys given (the Kubernetes-only fields of an otherwise file-shaped spec). */
export function omit(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v;
  return out;
}

/** Sets `out[key]` only when the value is present, so absent options stay absent. */
export function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}
