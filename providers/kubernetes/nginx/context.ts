/*
 * Per-Ingress translation state: its nginx annotations, how each was
 * honoured (the outcomes the migration report reads), its diagnostics, and
 * the plan its annotations make; plus the state shared by the whole
 * translation.
 */
import type {
  MiddlewareConfig,
  RouterConfig,
  ServersTransportConfig,
  ServiceConfig,
  StickyConfig,
  TlsCertificateConfig,
} from '../../../src/config/dynamic.js';
import { annotationsOf, asRecord, asString, shown } from '../backends.js';
import type { ClusterView, KubeDiagnostic, KubeObject } from '../objects.js';
import {
  catalogueEntry,
  NGINX_PREFIX,
  parseGoBool,
  parseWhole,
  type Support,
} from './annotations.js';
import type { AnnotationOutcome, NginxProviderOptions } from './types.js';

export const MAX_MESSAGE = 500;

type Level = 'error' | 'warning';

export interface IngressCtx {
  namespace: string;
  name: string;
  /** annotation name without prefix → value */
  ann: Map<string, string>;
  outcomes: Map<string, AnnotationOutcome>;
  /** an error-level problem with an annotation: the Ingress is not served */
  blocked: boolean;
  report: (field: string, message: string, level?: Level) => void;
  /** diagnostics not about an annotation, for the migration report */
  problems: string[];
}

const annotationField = (name: string): string =>
  `metadata.annotations[${JSON.stringify(NGINX_PREFIX + name)}]`;

/** Records how an annotation was honoured, with a diagnostic unless fully supported. */
export function outcome(
  c: IngressCtx,
  name: string,
  support: Support,
  note: string,
  level?: Level,
): void {
  const value = c.ann.get(name) ?? '';
  c.outcomes.set(name, { name: NGINX_PREFIX + name, value, support, note });
  if (support === 'supported') return;
  const lvl = level ?? (support === 'approximated' ? 'warning' : 'error');
  if (lvl === 'error') c.blocked = true;
  const tail = lvl === 'error' && !note.includes('not served') ? '; the Ingress is not served' : '';
  const what =
    support === 'refused'
      ? 'refused'
      : support === 'approximated'
        ? 'approximated'
        : 'not supported';
  c.report(annotationField(name), `${what}: ${note}${tail}`, lvl);
}

/** A bad value: the annotation cannot be honoured, and the Ingress is not served (as ingress-nginx refuses such an Ingress). */
export function badValue(c: IngressCtx, name: string, why: string): void {
  outcome(c, name, 'unsupported', `invalid value ${shown(c.ann.get(name))}: ${why}`, 'error');
}

/** Annotations that do nothing without another one: each given is reported ignored (a warning). */
export function ignoredWithout(c: IngressCtx, names: string[], note: string): void {
  for (const n of names) if (c.ann.has(n)) outcome(c, n, 'unsupported', note, 'warning');
}

function readAnnotations(ingress: KubeObject): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(annotationsOf(ingress))) {
    if (key.startsWith(NGINX_PREFIX) && typeof value === 'string')
      out.set(key.slice(NGINX_PREFIX.length), value);
  }
  return out;
}

export function boolAnn(c: IngressCtx, name: string): boolean | undefined {
  const v = c.ann.get(name);
  if (v === undefined) return undefined;
  const b = parseGoBool(v);
  if (b === undefined) badValue(c, name, 'expected true or false');
  return b;
}

export function intAnn(c: IngressCtx, name: string, min: number, max: number): number | undefined {
  const v = c.ann.get(name);
  if (v === undefined) return undefined;
  const n = parseWhole(v, min, max);
  if (n === undefined) badValue(c, name, `expected a whole number from ${min} to ${max}`);
  return n;
}

/* -------------------------------------------------------- annotation config */

/** What one (main) Ingress's annotations make of its paths. */
export interface IngressPlan {
  useRegex: boolean;
  rewrite?: string; // Go template replacement
  sslRedirect?: boolean;
  forceSslRedirect: boolean;
  scheme: string;
  nativeLB: boolean;
  transport?: ServersTransportConfig;
  sticky?: StickyConfig;
  /** server-alias hosts, added to every rule that has a host */
  aliases: string[];
  /** middlewares of every path, in order: [suffix, config] */
  middlewares: [string, MiddlewareConfig][];
}

export interface State {
  view: ClusterView;
  opts: NginxProviderOptions;
  routers: Record<string, RouterConfig>;
  services: Record<string, ServiceConfig>;
  middlewares: Record<string, MiddlewareConfig>;
  transports: Record<string, ServersTransportConfig>;
  certs: Map<string, TlsCertificateConfig>;
  diagnostics: KubeDiagnostic[];
}

export function makeCtx(state: State, ingress: KubeObject): IngressCtx {
  const meta = asRecord(ingress.metadata);
  const namespace = asString(meta?.namespace) ?? 'default';
  const name = asString(meta?.name) ?? '';
  const problems: string[] = [];
  const c: IngressCtx = {
    namespace,
    name,
    ann: readAnnotations(ingress),
    outcomes: new Map(),
    blocked: false,
    problems,
    report: (field, message, level = 'error') => {
      const text =
        message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
      state.diagnostics.push({ kind: 'Ingress', namespace, name, field, message: text, level });
      if (!field.startsWith('metadata.annotations[')) problems.push(`${level} ${field}: ${text}`);
    },
  };
  return c;
}

/** The catalogue's answer for every annotation not already decided by the translation. */
export function settleOutcomes(c: IngressCtx): void {
  for (const n of c.ann.keys()) {
    if (c.outcomes.has(n)) continue;
    const e = catalogueEntry(n);
    if (e.support === 'supported') outcome(c, n, 'supported', e.note);
    else outcome(c, n, e.support, e.note, e.level);
  }
}
