/*
 * The ingress-nginx compatibility provider's pure half (issue 15 item 4):
 * Ingresses of class `nginx` with their `nginx.ingress.kubernetes.io/*`
 * annotations become Portico routers, services, middlewares and servers
 * transports, named as Traefik's kubernetesIngressNGINX provider names them
 * (pkg/provider/kubernetes/ingress-nginx, v3.5+):
 *
 * - per rule path, router `namespace-ingress-rule-<i>-path-<j>` (plain HTTP)
 *   and the same name plus `-tls` (TLS), both on the rule's host and path;
 * - service `namespace-ingress-service-port` per path backend (per Ingress,
 *   since annotations such as backend-protocol and affinity shape it);
 * - middlewares `<router>-<what>` (redirect-scheme, app-root, redirect,
 *   allowed-source-range, cors, basic-auth, digest-auth, forward-auth,
 *   buffering, rewrite-target), shared by a path's plain and TLS routers;
 * - a serversTransport `namespace-ingress` for timeouts and TLS to servers;
 * - a canary Ingress (canary: "true") pairs with the main Ingress path of
 *   the same namespace, host and path: `<service>-canary`, `<service>-wrr`
 *   (weights), routers `<router>-canary` / `<router>-non-canary` matching
 *   the header or cookie, one above the main router's priority;
 * - an Exact path outranks the prefix and regex paths of its host, as
 *   nginx's `location =` does (exactPriority).
 *
 * What each annotation becomes is in annotations.ts; every annotation is
 * reported per Ingress with how it was honoured (the migration report reads
 * the same outcomes). Nothing from an annotation is ever rendered into
 * configuration text: values go into typed options, and hosts, paths and
 * header values into rules through Go quoting. Hostile input never throws.
 *
 * This file is the entry (its exports are what importers use); the parts:
 * class-filter.ts (which Ingresses), context.ts (per-Ingress state and
 * outcomes), plan.ts with auth.ts, cors-headers.ts, rewrite.ts and
 * upstream.ts (what the annotations make), canary.ts, paths.ts (rules and
 * priorities), serve.ts (routers, services, middlewares of an Ingress).
 */
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { asArray, asRecord, asString, shown } from '../backends.js';
import type { ClusterView, KubeObject } from '../objects.js';
import { parseGoBool } from './annotations.js';
import { type Canary, canaryConfig, pathKey } from './canary.js';
import { createNginxClassFilter } from './class-filter.js';
import { type IngressCtx, makeCtx, MAX_MESSAGE, settleOutcomes, type State } from './context.js';
import { rulePaths } from './paths.js';
import { globalDefaultBackend, translateMain } from './serve.js';
import type { NginxProviderOptions, NginxTranslation, NginxTranslationDetail } from './types.js';

export {
  NGINX_DEFAULT_CLASS,
  NGINX_DEFAULT_CONTROLLER,
  NGINX_RESOURCE_KINDS,
  type AnnotationOutcome,
  type NginxProviderOptions,
  type NginxTranslation,
  type NginxTranslationDetail,
} from './types.js';
export { quoteMeta } from './values.js';

export function translateNginxDetailed(
  view: ClusterView,
  opts: NginxProviderOptions = {},
): NginxTranslationDetail {
  const state: State = {
    view,
    opts,
    routers: {},
    services: {},
    middlewares: {},
    transports: {},
    certs: new Map(),
    diagnostics: [],
  };
  const accepted: NginxTranslation['accepted'] = [];
  const outcomes: NginxTranslationDetail['outcomes'] = [];
  const ours = createNginxClassFilter(view, opts);
  const mains: { ingress: KubeObject; c: IngressCtx }[] = [];
  const canaryCtxs: IngressCtx[] = [];
  const canaries = new Map<string, Canary>();
  const regexHosts = new Set<string>();

  // first pass: which Ingresses are canaries, and which hosts use regex paths
  // (ingress-nginx: use-regex or rewrite-target on one Ingress makes every path of the host a regex)
  for (const ingress of view.list('Ingress')) {
    let c: IngressCtx | undefined;
    try {
      if (!ours(ingress)) continue;
      c = makeCtx(state, ingress);
      accepted.push({ namespace: c.namespace, name: c.name });
      const spec = asRecord(ingress.spec) ?? {};
      if (parseGoBool(c.ann.get('canary') ?? '') === true) {
        canaryCtxs.push(c);
        const cfg = canaryConfig(c);
        settleOutcomes(c);
        if (cfg === undefined) continue;
        for (const rp of rulePaths(c, spec)) {
          const key = pathKey(c.namespace, rp.host, rp.path);
          if (canaries.has(key)) {
            c.report(
              rp.at,
              `another canary Ingress already serves host ${shown(rp.host)} path ${shown(rp.path)} (ingress-nginx allows one per path); skipped`,
            );
            continue;
          }
          canaries.set(key, { ...cfg, backend: rp.backend, at: rp.at, used: false });
        }
        continue;
      }
      mains.push({ ingress, c });
      const regex =
        parseGoBool(c.ann.get('use-regex') ?? '') === true ||
        (c.ann.get('rewrite-target') ?? '') !== '';
      if (regex)
        for (const r of asArray(spec.rules)) regexHosts.add(asString(asRecord(r)?.host) ?? '');
    } catch (err) {
      guard(state, ingress, err);
    }
  }
  for (const { ingress, c } of mains) {
    try {
      translateMain(state, c, ingress, regexHosts, canaries);
    } catch (err) {
      guard(state, ingress, err);
    }
    outcomes.push({
      namespace: c.namespace,
      name: c.name,
      served: !c.blocked,
      annotations: [...c.outcomes.values()],
      problems: c.problems,
    });
  }
  for (const cn of new Set(canaries.values())) {
    if (!cn.used)
      cn.ctx.report(
        cn.at,
        'no main Ingress serves the same host and path in this namespace; the canary path is not served',
        'warning',
      );
  }
  for (const c of canaryCtxs)
    outcomes.push({
      namespace: c.namespace,
      name: c.name,
      served: !c.blocked,
      annotations: [...c.outcomes.values()],
      problems: c.problems,
    });
  outcomes.sort((a, b) => (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));

  if (opts.defaultBackendService !== undefined && opts.defaultBackendService !== '')
    globalDefaultBackend(state, opts.defaultBackendService);

  const http: NonNullable<DynamicConfig['http']> = {
    routers: state.routers,
    services: state.services,
  };
  if (Object.keys(state.middlewares).length > 0) http.middlewares = state.middlewares;
  if (Object.keys(state.transports).length > 0) http.serversTransports = state.transports;
  const config: DynamicConfig = { http };
  if (state.certs.size > 0) {
    const keys = [...state.certs.keys()].sort();
    config.tls = { certificates: keys.map((k) => state.certs.get(k)!) };
  }
  return { config, diagnostics: state.diagnostics, accepted, outcomes };
}

/** A last resort: a bug here must cost one Ingress, never the provider. */
function guard(state: State, ingress: KubeObject, err: unknown): void {
  const meta = asRecord(ingress?.metadata);
  state.diagnostics.push({
    kind: 'Ingress',
    namespace: asString(meta?.namespace) ?? 'default',
    name: asString(meta?.name) ?? '',
    field: 'metadata',
    message:
      `internal error translating this Ingress: ${err instanceof Error ? err.message : String(err)}`.slice(
        0,
        MAX_MESSAGE,
      ),
    level: 'error',
  });
}

export function translateNginxIngresses(
  view: ClusterView,
  opts: NginxProviderOptions = {},
): NginxTranslation {
  const { config, diagnostics, accepted } = translateNginxDetailed(view, opts);
  return { config, diagnostics, accepted };
}
