/*
 * The Ingress provider's pure half (issue 14 item 3): networking.k8s.io/v1
 * Ingresses, with their Services, EndpointSlices, Secrets and IngressClasses,
 * become a dynamic configuration with Traefik's names, rules and defaults
 * (pkg/provider/kubernetes/ingress/kubernetes.go loadConfigurationFromIngresses):
 *
 * - one router per rule path, named namespace-ingress-host+path (normalised;
 *   paths of one Ingress that share a name get a hash of their rule);
 * - one service per Service port, named namespace-service-port, shared by
 *   every Ingress that uses it;
 * - an Ingress with no rules and a defaultBackend is the global default
 *   backend: router `default-router` (PathPrefix("/"), lowest priority) and
 *   service `default-backend`, once per cluster;
 * - spec.tls Secrets become tls.certificates (tls.ts); router.* annotations
 *   shape every router of the Ingress, service.* annotations on the Service
 *   its load balancer (annotations.ts).
 *
 * Where Traefik logs and skips, Portico reports a KubeDiagnostic with the
 * path of the offending field and skips the same part: a bad path skips that
 * path, a bad rule that rule, bad router annotations the whole Ingress.
 * Every field is hostile input (objects.ts); nothing here throws.
 */
import type {
  DynamicConfig,
  RouterConfig,
  ServiceConfig,
  TlsCertificateConfig,
} from '../../../src/config/dynamic.js';
import { annotationsOf, asRecord, asString } from '../backends.js';
import type { ClusterView, KubeDiagnostic, KubeObject } from '../objects.js';
import { ANNOTATION_PREFIX, routerAnnotations, type RouterAnnotations } from './annotations.js';
import { buildBackendService, readBackendRef, type BackendContext } from './backend.js';
import { createClassFilter } from './classes.js';
import { buildRouter } from './router.js';
import {
  DEFAULT_BACKEND,
  DEFAULT_BACKEND_PRIORITY,
  DEFAULT_ROUTER,
  hostProblem,
  routerKey,
  routerKeyWithHash,
} from './rules.js';
import { collectCertificates } from './tls.js';

export interface IngressProviderOptions {
  ingressClass?: string;
  allowEmptyServices: boolean;
  allowExternalNameServices: boolean;
  nativeLBByDefault: boolean;
  disableClusterScopeResources: boolean;
  strictPrefixMatching: boolean;
}

export interface IngressTranslation {
  config: DynamicConfig;
  diagnostics: KubeDiagnostic[];
  /** the Ingresses this provider takes (its class), for the status writer */
  accepted: { namespace: string; name: string }[];
}

/** What one translation builds up across Ingresses. */
interface State extends BackendContext {
  routers: Record<string, RouterConfig>;
  services: Record<string, ServiceConfig>;
  certs: Map<string, TlsCertificateConfig>;
  diagnostics: KubeDiagnostic[];
  /** which Ingress wrote each router, to report a name two Ingresses write */
  routerOwner: Map<string, string>;
}

const MAX_MESSAGE = 500;

/** Reports problems of one Ingress. */
type Report = (field: string, message: string, level?: 'error' | 'warning') => void;

/** One Ingress being translated. */
interface IngressCtx {
  state: State;
  ingress: KubeObject;
  namespace: string;
  name: string;
  /** `namespace/name`, who wrote a router */
  owner: string;
  report: Report;
}

export function translateIngresses(
  view: ClusterView,
  opts: IngressProviderOptions,
): IngressTranslation {
  const state: State = {
    view,
    opts,
    routers: {},
    services: {},
    certs: new Map(),
    diagnostics: [],
    routerOwner: new Map(),
  };
  const accepted: IngressTranslation['accepted'] = [];
  const ours = createClassFilter(view, opts);
  for (const ingress of view.list('Ingress')) {
    if (!ours(ingress)) continue;
    const meta = asRecord(ingress.metadata);
    const namespace = asString(meta?.namespace) ?? 'default';
    const name = asString(meta?.name) ?? '';
    accepted.push({ namespace, name });
    const report: Report = (field, message, level = 'error') =>
      state.diagnostics.push({
        kind: 'Ingress',
        namespace,
        name,
        field,
        // values are quoted into messages, and an annotation can be 256 KiB long
        message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
        level,
      });
    translateIngress({
      state,
      ingress,
      namespace,
      name,
      owner: `${namespace}/${name}`,
      report,
    });
  }
  const config: DynamicConfig = { http: { routers: state.routers, services: state.services } };
  if (state.certs.size > 0) {
    const keys = [...state.certs.keys()].sort();
    config.tls = { certificates: keys.map((k) => state.certs.get(k)!) };
  }
  return { config, diagnostics: state.diagnostics, accepted };
}

const annotationField = (key: string): string => `metadata.annotations[${JSON.stringify(key)}]`;

/** The router annotations, reported; undefined when they refuse the Ingress. */
function readRouterAnnotations(ingress: KubeObject, report: Report): RouterAnnotations | undefined {
  const ann = routerAnnotations(annotationsOf(ingress));
  for (const i of ann.issues) {
    const suffix = i.level === 'error' ? '; the Ingress is not served (as in Traefik)' : '';
    report(annotationField(i.key), i.message + suffix, i.level);
  }
  if (ann.failed) return undefined;
  const syntax = ann.value.ruleSyntax;
  if (syntax !== undefined && syntax !== '' && syntax !== 'v3' && syntax !== 'default') {
    // the rules written here (Host, Path, PathPrefix, PathRegexp) read the same in v2 and v3
    report(
      annotationField(`${ANNOTATION_PREFIX}router.rulesyntax`),
      `rule syntax ${JSON.stringify(syntax)} is not supported: Portico runs v3 rules only; the Ingress's rules are written in v3, which match the same requests`,
      'warning',
    );
  }
  return ann.value;
}

function translateIngress(c: IngressCtx): void {
  const { state, ingress, namespace, report } = c;
  const spec = asRecord(ingress.spec);
  if (spec === undefined) {
    report('spec', 'spec is missing or not an object');
    return;
  }
  const ann = readRouterAnnotations(ingress, report);
  if (ann === undefined) return;
  for (const p of collectCertificates(state.view, namespace, spec, state.certs)) {
    report(p.index < 0 ? 'spec.tls' : `spec.tls[${p.index}].secretName`, p.message);
  }
  const rules = spec.rules;
  const hasRules = Array.isArray(rules) && rules.length > 0;
  if (spec.defaultBackend !== undefined && spec.defaultBackend !== null) {
    if (hasRules) {
      report(
        'spec.defaultBackend',
        'ignored: in Traefik only an Ingress without rules has a default backend (the global one)',
        'warning',
      );
    } else {
      defaultBackend(c, spec.defaultBackend, ann);
    }
  }
  if (rules !== undefined && rules !== null && !Array.isArray(rules)) {
    report('spec.rules', 'spec.rules must be a list');
    return;
  }
  const routers = new Map<string, RouterConfig[]>();
  ((rules ?? []) as unknown[]).forEach((rule, i) =>
    translateRule(c, ann, rule, `spec.rules[${i}]`, routers),
  );
  commitRouters(c, routers);
}

/** Traefik: the global default backend (an Ingress without rules), once per cluster. */
function defaultBackend(c: IngressCtx, raw: unknown, ann: RouterAnnotations): void {
  const { state, namespace, report } = c;
  if (state.services[DEFAULT_BACKEND] !== undefined) {
    report(
      'spec.defaultBackend',
      'the default backend already exists (another Ingress defines it)',
    );
    return;
  }
  const ref = readBackendRef(raw, 'spec.defaultBackend', namespace);
  if ('message' in ref) {
    report(ref.field, ref.message);
    return;
  }
  const built = buildBackendService(state, namespace, ref, 'spec.defaultBackend', report);
  if (built === undefined) return;
  const router: RouterConfig = {
    rule: 'PathPrefix("/")',
    priority: DEFAULT_BACKEND_PRIORITY,
    service: DEFAULT_BACKEND,
  };
  if (ann.entryPoints) router.entryPoints = ann.entryPoints;
  if (ann.middlewares) router.middlewares = ann.middlewares;
  if (ann.tls) router.tls = ann.tls;
  if (ann.observability) router.observability = ann.observability;
  state.services[DEFAULT_BACKEND] = built;
  setRouter(c, DEFAULT_ROUTER, router);
}

/** The host of a rule ('' for none), or undefined when the rule must be skipped. */
function ruleHost(c: IngressCtx, rule: Record<string, unknown>, at: string): string | undefined {
  if (rule.host === undefined || rule.host === null || rule.host === '') return '';
  const problem = typeof rule.host === 'string' ? hostProblem(rule.host) : 'host must be text';
  if (problem !== undefined) {
    c.report(`${at}.host`, `${problem}; the rule is skipped`);
    return undefined;
  }
  // kept as written, as Traefik does (the Host matcher ignores case; the API server allows lower case only)
  return rule.host as string;
}

function translateRule(
  c: IngressCtx,
  ann: RouterAnnotations,
  raw: unknown,
  at: string,
  routers: Map<string, RouterConfig[]>,
): void {
  const { state, namespace, report } = c;
  const rule = asRecord(raw);
  if (rule === undefined) {
    report(at, 'a rule must be an object');
    return;
  }
  const host = ruleHost(c, rule, at);
  if (host === undefined) return;
  const http = rule.http;
  if (http === undefined || http === null) return; // Traefik: a rule without http routes nothing
  const paths = asRecord(http)?.paths;
  if (!Array.isArray(paths)) {
    report(`${at}.http.paths`, 'http.paths must be a list');
    return;
  }
  paths.forEach((rawPath: unknown, j: number) => {
    const where = `${at}.http.paths[${j}]`;
    const path = asRecord(rawPath);
    if (path === undefined) {
      report(where, 'a path must be an object');
      return;
    }
    const ref = readBackendRef(path.backend, `${where}.backend`, namespace);
    if ('message' in ref) {
      report(ref.field, ref.message);
      return;
    }
    // Traefik builds the service first: a path whose router fails still leaves its service
    if (state.services[ref.key] === undefined) {
      const built = buildBackendService(state, namespace, ref, `${where}.backend`, report);
      if (built === undefined) return;
      state.services[ref.key] = built;
    }
    const built = buildRouter(ann, host, path, ref.key, state.opts.strictPrefixMatching);
    if ('message' in built) {
      report(`${where}.${built.field}`, `${built.message}; the path is skipped`);
      return;
    }
    if (built.warning) report(`${where}.${built.warning.field}`, built.warning.message, 'warning');
    const key = routerKey(namespace, c.name, host, asString(path.path) ?? '');
    routers.set(key, [...(routers.get(key) ?? []), built.router]);
  });
}

/** Traefik: paths of one Ingress sharing a router key each get the key plus a hash of their rule. */
function commitRouters(c: IngressCtx, routers: Map<string, RouterConfig[]>): void {
  for (const [key, list] of routers) {
    if (list.length === 1) setRouter(c, key, list[0]!);
    else for (const r of list) setRouter(c, routerKeyWithHash(key, r.rule), r);
  }
}

function setRouter(c: IngressCtx, name: string, router: RouterConfig): void {
  const previous = c.state.routerOwner.get(name);
  if (previous !== undefined && previous !== c.owner) {
    // Traefik silently keeps the last one; say so
    c.report(
      'metadata.name',
      `router ${name} is also written by Ingress ${previous}; this Ingress's router replaces it (their names normalise alike)`,
      'warning',
    );
  }
  c.state.routerOwner.set(name, c.owner);
  c.state.routers[name] = router;
}
