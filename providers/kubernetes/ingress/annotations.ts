/*
 * The `traefik.ingress.kubernetes.io/` annotations of Ingresses (router.*)
 * and Services (service.*), read as Traefik reads them
 * (pkg/provider/kubernetes/ingress/annotations.go): the prefix is cut,
 * `domains.0.main` is the label form `domains[0].main`, and the rest is
 * decoded case-insensitively into Traefik's RouterIng / ServiceIng. The
 * decoding itself is Portico's one label decoder (src/config/labels.ts),
 * so the values are read and checked exactly as Docker labels are.
 *
 * Traefik refuses a whole Ingress (router.*) or a whole backend (service.*)
 * when one annotation does not decode, and so does Portico: an annotation
 * left out could be a middleware (authentication) or a TLS setting, and a
 * router served without it would be worse than no router. Keys under the
 * prefix that are neither router.* nor service.* are ignored, as in Traefik.
 */
import { decodeLabels, parseLabelBool, type LabelIssue } from '../../../src/config/labels.js';
import { suggest } from '../../../src/kernel/suggest.js';
import type { RouterConfig, RouterTlsConfig, StickyConfig } from '../../../src/config/dynamic.js';
import { asRecord, asString, shown } from '../backends.js';
import { PATH_MATCHERS, type PathMatcher } from './rules.js';

export const ANNOTATION_PREFIX = 'traefik.ingress.kubernetes.io/';

export interface AnnotationIssue {
  /** the annotation key as written */
  key: string;
  message: string;
  level: 'error' | 'warning';
}

export interface RouterAnnotations {
  entryPoints?: string[];
  middlewares?: string[];
  priority?: number;
  tls?: RouterTlsConfig;
  observability?: RouterConfig['observability'];
  /** as written; checked where an ImplementationSpecific path uses it (Traefik: only then) */
  pathMatcher?: string;
  ruleSyntax?: string;
}

export interface ServiceAnnotations {
  serversScheme?: string;
  serversTransport?: string;
  passHostHeader?: boolean;
  sticky?: StickyConfig;
  nativeLB?: boolean;
  nodePortLB?: boolean;
}

interface Decoded<T> {
  value: T;
  issues: AnnotationIssue[];
  /** an error-level issue: the Ingress (router) or the backend (service) is refused */
  failed: boolean;
}

/** The annotations under the prefix, as (suffix, original key, value); anything hostile skipped. */
function prefixed(annotations: unknown): { suffix: string; key: string; value: string }[] {
  const out: { suffix: string; key: string; value: string }[] = [];
  for (const [key, value] of Object.entries(asRecord(annotations) ?? {})) {
    if (!key.startsWith(ANNOTATION_PREFIX) || typeof value !== 'string') continue;
    // Traefik: `domains.0.main` → `domains[0].main` (its annotationsRegex, for any index here)
    const suffix = key.slice(ANNOTATION_PREFIX.length).replace(/\.(\d+)(?=\.)/g, '[$1]');
    out.push({ suffix, key, value });
  }
  return out;
}

const ROUTER_DECODED = ['entrypoints', 'middlewares', 'priority', 'tls', 'observability'];
const ROUTER_OWN = ['pathmatcher', 'rulesyntax'];

/** Runs the label decoder over `labels` (rewritten key → value), mapping issues back to annotation keys. */
function decodeWith(
  labels: Record<string, string>,
  original: Map<string, string>,
): { decoded: ReturnType<typeof decodeLabels>; issues: AnnotationIssue[] } {
  const decoded = decodeLabels(labels, { prefixes: ['annotation'] });
  const issues = decoded.issues.map((i: LabelIssue) => ({
    key: original.get(i.key) ?? i.key,
    message: i.message,
    level: i.level,
  }));
  return { decoded, issues };
}

/** The router.* annotations of an Ingress. */
export function routerAnnotations(annotations: unknown): Decoded<RouterAnnotations> {
  const value: RouterAnnotations = {};
  const issues: AnnotationIssue[] = [];
  const labels: Record<string, string> = {};
  const original = new Map<string, string>();
  for (const { suffix, key, value: v } of prefixed(annotations)) {
    const [root, field, ...rest] = suffix.split('.');
    if (root?.toLowerCase() !== 'router') continue;
    const f = (field ?? '').replace(/\[\d+\]$/, '').toLowerCase();
    if (f === 'pathmatcher' && rest.length === 0) value.pathMatcher = v.trim();
    else if (f === 'rulesyntax' && rest.length === 0) value.ruleSyntax = v.trim();
    else if (ROUTER_DECODED.includes(f)) {
      const label = `annotation.http.routers.router.${[field, ...rest].join('.')}`;
      labels[label] = v;
      original.set(label, key);
    } else {
      issues.push({
        key,
        level: 'error',
        message: unknownMessage('router', field, [...ROUTER_DECODED, ...ROUTER_OWN]),
      });
    }
  }
  if (Object.keys(labels).length > 0) {
    const { decoded, issues: found } = decodeWith(labels, original);
    issues.push(...found);
    Object.assign(value, decoded.http.routers.router ?? {});
  }
  return { value, issues, failed: issues.some((i) => i.level === 'error') };
}

function unknownMessage(root: string, field: string | undefined, known: string[]): string {
  if (field === undefined || field === '')
    return `"${root}" annotations take a field, e.g. ${root}.${known[0]}`;
  const hint = suggest(field, known);
  return (
    `unknown annotation field "${root}.${field}"` +
    (hint ? `, did you mean "${root}.${hint}"?` : ` (known: ${known.join(', ')})`)
  );
}

const SERVICE_DECODED: Record<string, string> = {
  sticky: 'sticky',
  passhostheader: 'passHostHeader',
  serverstransport: 'serversTransport',
};
const SERVICE_OWN = ['serversscheme', 'nativelb', 'nodeportlb'];

function ownServiceField(
  f: string,
  key: string,
  raw: string,
  value: ServiceAnnotations,
  issues: AnnotationIssue[],
): void {
  if (f === 'serversscheme') {
    value.serversScheme = raw.trim();
    return;
  }
  const b = parseLabelBool(raw);
  if (b === undefined) {
    issues.push({ key, level: 'error', message: `expected true or false, got ${shown(raw)}` });
    return;
  }
  if (f === 'nativelb') value.nativeLB = b;
  else value.nodePortLB = b;
}

/** The service.* annotations of a Service. */
export function serviceAnnotations(annotations: unknown): Decoded<ServiceAnnotations> {
  const value: ServiceAnnotations = {};
  const issues: AnnotationIssue[] = [];
  const labels: Record<string, string> = {};
  const original = new Map<string, string>();
  for (const { suffix, key, value: v } of prefixed(annotations)) {
    const [root, field, ...rest] = suffix.split('.');
    if (root?.toLowerCase() !== 'service') continue;
    const f = (field ?? '').toLowerCase();
    if (SERVICE_OWN.includes(f) && rest.length === 0) ownServiceField(f, key, v, value, issues);
    else if (Object.hasOwn(SERVICE_DECODED, f)) {
      const label = `annotation.http.services.service.loadbalancer.${[field, ...rest].join('.')}`;
      labels[label] = v;
      original.set(label, key);
    } else if (f === 'middlewares') {
      // Traefik v3.5+ puts these on the service; Portico services have no middlewares, and
      // serving the backend without them (they may authenticate) is not an option
      issues.push({
        key,
        level: 'error',
        message:
          'service middlewares are not supported by Portico; put them on the Ingress (router.middlewares)',
      });
    } else {
      issues.push({
        key,
        level: 'error',
        message: unknownMessage('service', field, [
          ...Object.keys(SERVICE_DECODED),
          ...SERVICE_OWN,
        ]),
      });
    }
  }
  if (Object.keys(labels).length > 0) {
    const { decoded, issues: found } = decodeWith(labels, original);
    issues.push(...found);
    const lb = asRecord(asRecord(decoded.http.services.service)?.loadBalancer) ?? {};
    if (lb.sticky !== undefined) value.sticky = lb.sticky as StickyConfig;
    if (typeof lb.passHostHeader === 'boolean') value.passHostHeader = lb.passHostHeader;
    const st = asString(lb.serversTransport);
    if (st !== undefined) value.serversTransport = st;
  }
  return { value, issues, failed: issues.some((i) => i.level === 'error') };
}

/** The path matcher an ImplementationSpecific path uses (Traefik: PathPrefix unless router.pathmatcher). */
export function pathMatcherOf(router: RouterAnnotations): PathMatcher | { error: string } {
  const m = router.pathMatcher;
  if (m === undefined || m === '') return 'PathPrefix';
  if ((PATH_MATCHERS as readonly string[]).includes(m)) return m as PathMatcher;
  return {
    error: `invalid router path matcher ${shown(m)}: must be one of Path, PathPrefix, PathRegexp`,
  };
}
