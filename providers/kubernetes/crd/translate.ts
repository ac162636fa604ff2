/*
 * The CRD provider's pure translator: Traefik's custom resources (group
 * traefik.io, and the same kinds under portico.io) read from a ClusterView,
 * dynamic configuration out, as Traefik's CRD provider builds it
 * (pkg/provider/kubernetes/crd/) with its element names, so references
 * written for Traefik (`<ns>-<name>@kubernetescrd`) keep working. No I/O: the
 * provider's watch loop and `portico check --kubernetes` call it alike.
 *
 * Where Traefik logs an error and leaves an object (or a route) out, Portico
 * does the same and returns a KubeDiagnostic naming the object, the field and
 * the reason. The produced elements then go through the file provider's
 * validation, and what it refuses is reported against the object it came
 * from and left out, so the configuration returned validates.
 */
import type {
  DynamicConfig,
  ElementError,
  TlsCertificateConfig,
} from '../../../src/config/dynamic.js';
import { validateDynamic } from '../../../src/config/validate.js';
import { SKIP, decodeValue, type Issue } from '../../../src/config/schema/decode.js';
import { middlewareSchema } from '../../../src/config/schema/middlewares/index.js';
import {
  CRD_KINDS,
  type ClusterView,
  type KubeDiagnostic,
  type KubeObject,
  type ResourceKind,
} from '../objects.js';
import {
  attempt,
  isObj,
  isPortico,
  namespaceOf,
  report,
  type CrdProviderOptions,
  type Ctx,
  type ElementOrigin,
} from './context.js';
import { translateIngressRoutes } from './http-routes.js';
import { translateMiddlewares } from './middlewares.js';
import { translateTraefikServices } from './services.js';
import { translateIngressRouteTCPs, translateIngressRouteUDPs } from './tcp-udp.js';
import { translateServersTransports, translateTlsOptions, translateTlsStores } from './tls.js';

export type { CrdProviderOptions } from './context.js';

export interface CrdTranslation {
  config: DynamicConfig;
  diagnostics: KubeDiagnostic[];
}

export { CRD_KINDS };

const ROUTE_KINDS = new Set<string>(['IngressRoute', 'IngressRouteTCP', 'IngressRouteUDP']);
const CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
/** Classes taken when no ingressClass is set: none, Traefik's default, and Portico's. */
const DEFAULT_CLASSES = ['', 'traefik', 'portico'];

/**
 * Traefik's getIngressClassName and shouldProcessIngress: spec.ingressClassName,
 * else the legacy annotation; with no `ingressClass` option, objects of no
 * class or of the default class are taken, otherwise only the option's class.
 */
function inClass(ctx: Ctx, kind: string, o: KubeObject): boolean {
  const spec = isObj(o.spec) ? o.spec : {};
  let cls = '';
  if (spec.ingressClassName !== undefined && spec.ingressClassName !== null) {
    if (typeof spec.ingressClassName !== 'string') {
      report(
        ctx,
        { kind, namespace: namespaceOf(o), name: o.metadata.name },
        'spec.ingressClassName',
        'expected a string',
      );
      return false;
    }
    cls = spec.ingressClassName;
  } else {
    const a = o.metadata.annotations?.[CLASS_ANNOTATION];
    if (typeof a === 'string') cls = a;
  }
  const wanted = ctx.opts.ingressClass ?? '';
  return cls === wanted || (wanted === '' && DEFAULT_CLASSES.includes(cls));
}

/**
 * The objects of a kind to translate: well-formed metadata, in class, and one
 * per namespace/name when both groups hold it: portico.io wins, the group
 * written for Portico on purpose, as Traefik v2.10 took traefik.io over
 * traefik.containo.us for the same object (client-containous.go).
 */
function objectsOf(ctx: Ctx, kind: ResourceKind): KubeObject[] {
  const chosen = new Map<string, KubeObject>();
  for (const o of ctx.view.list(kind)) {
    const name: unknown = o?.metadata?.name;
    if (typeof name !== 'string' || name === '') {
      const ns: unknown = o?.metadata?.namespace;
      ctx.diagnostics.push({
        kind,
        ...(typeof ns === 'string' ? { namespace: ns } : {}),
        name: typeof name === 'string' ? name : '',
        field: 'metadata.name',
        message: 'expected a non-empty name',
        level: 'error',
      });
      continue;
    }
    if (ROUTE_KINDS.has(kind) && !inClass(ctx, kind, o)) continue;
    const key = `${namespaceOf(o)}/${name}`;
    const other = chosen.get(key);
    if (other !== undefined) {
      const [kept, dropped] = isPortico(o) && !isPortico(other) ? [o, other] : [other, o];
      report(
        ctx,
        { kind, namespace: namespaceOf(dropped), name },
        'apiVersion',
        `${kind} ${key} exists under ${String(kept.apiVersion)} and ${String(dropped.apiVersion)}; the ${String(kept.apiVersion)} one is used`,
        'warning',
      );
      chosen.set(key, kept);
    } else chosen.set(key, o);
  }
  return [...chosen.values()];
}

export function translateCrds(view: ClusterView, opts: CrdProviderOptions): CrdTranslation {
  const ctx: Ctx = {
    view,
    opts,
    config: {
      http: { routers: {}, services: {}, middlewares: {}, serversTransports: {} },
      tcp: { routers: {}, services: {}, middlewares: {}, serversTransports: {} },
      udp: { routers: {}, services: {} },
    },
    tlsOptions: {},
    tlsStores: {},
    certificates: new Map(),
    diagnostics: [],
    origins: new Map(),
    objects: new Map(),
  };
  for (const kind of CRD_KINDS) ctx.objects.set(kind, objectsOf(ctx, kind));

  // Traefik's order (loadConfigurationFromCRD): a later element of the same name replaces
  translateTlsStores(ctx);
  translateIngressRoutes(ctx);
  translateIngressRouteTCPs(ctx);
  translateIngressRouteUDPs(ctx);
  translateTlsOptions(ctx);
  translateMiddlewares(ctx);
  translateTraefikServices(ctx);
  translateServersTransports(ctx);

  checkMiddlewareOptions(ctx);
  const config = assemble(ctx);
  dropInvalid(ctx, config);
  return { config: prune(config), diagnostics: ctx.diagnostics };
}

function assemble(ctx: Ctx): DynamicConfig {
  const certificates: TlsCertificateConfig[] = [];
  // sorted by namespace/secret, as Traefik's getTLSConfig
  [...ctx.certificates.keys()].sort().forEach((key) => {
    ctx.origins.set(`tls.certificates/${certificates.length}`, {
      kind: 'Secret',
      namespace: key.slice(0, key.indexOf('/')),
      name: key.slice(key.indexOf('/') + 1),
      field: 'data',
    });
    certificates.push(ctx.certificates.get(key)!);
  });
  return {
    http: ctx.config.http,
    tcp: ctx.config.tcp,
    udp: ctx.config.udp,
    tls: {
      certificates,
      options: ctx.tlsOptions as NonNullable<DynamicConfig['tls']>['options'],
      stores: ctx.tlsStores as NonNullable<DynamicConfig['tls']>['stores'],
    },
  };
}

const SECTION: Record<ElementError['kind'], string | undefined> = {
  router: 'http.routers',
  service: 'http.services',
  middleware: 'http.middlewares',
  serversTransport: 'http.serversTransports',
  tcpRouter: 'tcp.routers',
  tcpService: 'tcp.services',
  tcpMiddleware: 'tcp.middlewares',
  tcpServersTransport: 'tcp.serversTransports',
  udpRouter: 'udp.routers',
  udpService: 'udp.services',
  tls: undefined,
  provider: undefined,
};

/** Which element an error is about: its section path and key, and the object it came from. */
function locate(
  ctx: Ctx,
  e: ElementError,
): { section: string; key: string | number; origin: ElementOrigin | undefined } | undefined {
  const section = SECTION[e.kind];
  if (section !== undefined) {
    return { section, key: e.name, origin: ctx.origins.get(`${section}/${e.name}`) };
  }
  if (e.kind !== 'tls') return undefined;
  const cert = /^certificates\[(\d+)\]/.exec(e.field ?? '');
  if (cert) {
    const i = Number(cert[1]);
    return {
      section: 'tls.certificates',
      key: i,
      origin: ctx.origins.get(`tls.certificates/${i}`),
    };
  }
  for (const section of ['tls.options', 'tls.stores']) {
    const origin = ctx.origins.get(`${section}/${e.name}`);
    if (origin) return { section, key: e.name, origin };
  }
  return undefined;
}

/**
 * Runs the file provider's validation over the result and turns what it
 * refuses into diagnostics on the originating objects, leaving those elements
 * out (the aggregator would refuse them anyway, without the object's name).
 */
function dropInvalid(ctx: Ctx, config: DynamicConfig): void {
  const { errors } = validateDynamic(config);
  const dropped: { section: string; key: string | number }[] = [];
  for (const e of errors) {
    const at = locate(ctx, e);
    const origin = at?.origin ?? { kind: 'Configuration', namespace: '', name: e.name, field: '' };
    const where = e.field ? `${e.field}: ` : '';
    ctx.diagnostics.push({
      kind: origin.kind,
      ...(origin.namespace !== '' ? { namespace: origin.namespace } : {}),
      name: origin.name,
      field: origin.field,
      message: `${where}${e.message} (in ${at?.section ?? e.kind} ${e.name})`,
      level: 'error',
    });
    if (at) dropped.push(at);
  }
  const certs = new Set<number>();
  for (const { section, key } of dropped) {
    if (typeof key === 'number') {
      certs.add(key);
      continue;
    }
    const [top, sub] = section.split('.') as [keyof DynamicConfig, string];
    const s = (config[top] as Record<string, Record<string, unknown>> | undefined)?.[sub];
    if (s) delete s[key];
  }
  if (certs.size > 0 && config.tls?.certificates) {
    config.tls.certificates = config.tls.certificates.filter((_, i) => !certs.has(i));
  }
}

/**
 * The options of each HTTP middleware, decoded with its type's schema as the
 * middleware factory will: validation checks only the shape of a middleware,
 * and a broken option would otherwise surface as an error of every router
 * using it, without the Middleware object's name. A type Portico does not
 * run is a warning (the routers using it will say so), not a refusal.
 */
function checkMiddlewareOptions(ctx: Ctx): void {
  const middlewares = ctx.config.http.middlewares;
  for (const [name, m] of Object.entries(middlewares)) {
    const origin = ctx.origins.get(`http.middlewares/${name}`);
    const entries = Object.entries(m);
    if (!origin || entries.length !== 1) continue; // validation reports the count
    const [type, options] = entries[0]!;
    const schema = middlewareSchema(type);
    if (schema === undefined || !schema.implemented) {
      report(
        ctx,
        origin,
        `spec.${type}`,
        `middleware type ${type} is not run by Portico`,
        'warning',
      );
      continue;
    }
    if (schema.type === 'plugin') continue;
    let valid = false;
    attempt(ctx, origin, `spec.${type}`, () => {
      const issues: Issue[] = [];
      const decoded = decodeValue(schema.options, options ?? {}, `spec.${type}`, issues, 'options');
      for (const issue of issues) report(ctx, origin, issue.field, issue.message);
      valid = issues.length === 0 && decoded !== SKIP;
    });
    if (!valid) delete middlewares[name];
  }
}

/** Leaves empty sections out, so a cluster with only IngressRoutes gives only `http`. */
function prune(config: DynamicConfig): DynamicConfig {
  const out: Record<string, unknown> = {};
  for (const [top, section] of Object.entries(config)) {
    const kept: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(section as Record<string, unknown>)) {
      const empty = Array.isArray(v) ? v.length === 0 : Object.keys(v as object).length === 0;
      if (!empty) kept[k] = v;
    }
    if (Object.keys(kept).length > 0) out[top] = kept;
  }
  return out as DynamicConfig;
}
