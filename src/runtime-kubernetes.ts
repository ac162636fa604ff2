/*
 * The Kubernetes providers as the runtime starts them: static options →
 * provider options, one API client per provider (Traefik builds one each
 * too), and the Ingress status writer — started only when
 * `providers.kubernetesIngress.ingressEndpoint` is set, elected through a
 * coordination.k8s.io Lease so that one replica writes.
 */
import type { Logger } from 'pino';
import type { Provider } from './config/provider.js';
import type {
  KubernetesCommonConfig,
  KubernetesCrdProviderConfig,
  KubernetesGatewayProviderConfig,
  KubernetesIngressNginxProviderConfig,
  KubernetesIngressProviderConfig,
  StaticConfig,
} from './config/static-types.js';
import {
  createKubernetesCrdProvider,
  createKubernetesGatewayProvider,
  createKubernetesIngressNginxProvider,
  createKubernetesIngressProvider,
  type IngressObserver,
  type KubernetesCommonOptions,
} from '../providers/kubernetes/index.js';
import { createKubeClient } from '../providers/kubernetes/client.js';
import { createLeaderElector, leaseSettingsFromEnv } from '../providers/kubernetes/lease.js';
import { createIngressStatusWriter, type IngressEndpoint } from '../providers/kubernetes/status.js';
import type { NginxProviderOptions } from '../providers/kubernetes/nginx/translate.js';
import type { GatewayProviderOptions } from '../providers/kubernetes/gateway/model.js';
import { createGatewayStatusWriter } from '../providers/kubernetes/gateway/status.js';
import { isIP } from 'node:net';
import { checkKubernetes, loadKubeView } from '../providers/kubernetes/check.js';
import { formatMigrateReport, migrateReport } from '../providers/kubernetes/nginx/migrate.js';
import {
  ENDPOINT_SLICE,
  INGRESS,
  INGRESS_CLASS,
  SECRET,
  SERVICE,
} from '../providers/kubernetes/resources.js';
import { objectRef } from '../providers/kubernetes/objects.js';
import type { ProviderSnapshot } from './config/provider.js';

export function kubernetesProviders(sc: StaticConfig, logger: Logger): Provider[] {
  const out: Provider[] = [];
  const ing = sc.providers.kubernetesIngress;
  if (ing) out.push(ingressProvider(ing, logger.child({ provider: 'kubernetes' })));
  const crd = sc.providers.kubernetesCRD;
  if (crd) out.push(crdProvider(crd, logger.child({ provider: 'kubernetescrd' })));
  const gw = sc.providers.kubernetesGateway;
  if (gw) out.push(gatewayProvider(gw, sc, logger.child({ provider: 'kubernetesgateway' })));
  const nginx = sc.providers.kubernetesIngressNGINX;
  if (nginx) out.push(nginxProvider(nginx, logger.child({ provider: 'kubernetesingressnginx' })));
  return out;
}

/** The Lease the replicas elect their ingress-nginx status writer with. */
export const NGINX_STATUS_LEASE = 'portico-ingress-nginx-status';

/** The Lease the replicas elect their Gateway API status writer with. */
export const GATEWAY_STATUS_LEASE = 'portico-gateway-status';

/** Entrypoints as Gateway listeners find them: by the port of their address (Traefik's rule). */
export function gatewayEntryPoints(
  sc: StaticConfig,
): Record<string, { port: number; httpTls: boolean }> {
  const out: Record<string, { port: number; httpTls: boolean }> = {};
  for (const [name, ep] of Object.entries(sc.entryPoints)) {
    const [hostPort, proto = 'tcp'] = ep.address.split('/');
    if (proto.toLowerCase() !== 'tcp') continue;
    const port = Number(hostPort!.slice(hostPort!.lastIndexOf(':') + 1));
    if (!Number.isInteger(port)) continue;
    out[name] = { port, httpTls: ep.http.tls !== undefined };
  }
  return out;
}

function gatewayProvider(
  c: KubernetesGatewayProviderConfig,
  sc: StaticConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Provider {
  const client = createKubeClient(c);
  logger.info({ server: client.server, mode: client.mode }, 'kubernetes: API server');
  // the spec requires status (Accepted, Programmed, ...): written by the Lease holder only
  const elector = createLeaderElector({
    kc: client.kc,
    ...leaseSettingsFromEnv(env),
    name: GATEWAY_STATUS_LEASE,
    logger,
  });
  const writer = createGatewayStatusWriter({ kc: client.kc, elector, logger });
  const inner = createKubernetesGatewayProvider({
    logger,
    kc: client.kc,
    namespaces: c.namespaces,
    labelSelector: c.labelSelector,
    throttleMs: c.throttleDurationMs,
    ...gatewayOptions(c, sc),
    onTranslated: (status, view) => writer.update(status, view),
  });
  return withStatusWriter(inner, elector, writer);
}

/**
 * A provider whose status writer runs while it does: the elector starts with
 * it, and a clean stop stops writing, then releases the Lease so another
 * replica takes over at once (a crash waits for the Lease to expire).
 */
function withStatusWriter(
  inner: Provider,
  elector: { start(): void; stop(): Promise<void> },
  writer: { stop(): Promise<void> },
): Provider {
  return {
    ...inner,
    async start(emit, signal) {
      elector.start();
      try {
        await inner.start(emit, signal);
      } finally {
        await writer.stop();
        await elector.stop();
      }
    },
  };
}

/** ingress-nginx's publishStatusAddress / publishService as the status writer's ingressEndpoint */
function nginxStatusEndpoint(
  c: KubernetesIngressNginxProviderConfig,
  logger: Logger,
): IngressEndpoint | undefined {
  const first = c.publishStatusAddress[0];
  if (first !== undefined) {
    if (c.publishStatusAddress.length > 1)
      logger.warn(
        { publishStatusAddress: c.publishStatusAddress },
        'kubernetesIngressNGINX: only the first publishStatusAddress is written to the Ingresses',
      );
    return isIP(first) !== 0 ? { ip: first } : { hostname: first };
  }
  if (c.publishService) return { publishedService: c.publishService };
  return undefined;
}

function nginxOptions(c: KubernetesIngressNginxProviderConfig): NginxProviderOptions {
  return {
    ingressClass: c.ingressClass,
    controllerClass: c.controllerClass,
    watchIngressWithoutClass: c.watchIngressWithoutClass,
    ingressClassByName: c.ingressClassByName,
    disableSvcExternalName: c.disableSvcExternalName,
    ...(c.httpEntryPoint ? { httpEntryPoints: [c.httpEntryPoint] } : {}),
    ...(c.httpsEntryPoint ? { httpsEntryPoints: [c.httpsEntryPoint] } : {}),
    ...(c.globalAuthURL ? { globalAuthURL: c.globalAuthURL } : {}),
    ...(c.defaultBackendService ? { defaultBackendService: c.defaultBackendService } : {}),
  };
}

/** Traefik's provider-wide nginx defaults Portico does not apply: said at start, not ignored silently. */
function warnNginxDefaults(c: KubernetesIngressNginxProviderConfig, logger: Logger): void {
  const notApplied: string[] = [];
  if (c.proxyBodySize !== 1048576) notApplied.push(`proxyBodySize=${c.proxyBodySize}`);
  for (const k of ['proxyConnectTimeout', 'proxyReadTimeout', 'proxySendTimeout'] as const)
    if (c[k] !== 60) notApplied.push(`${k}=${c[k]}`);
  if (c.allowCrossNamespaceResources) notApplied.push('allowCrossNamespaceResources=true');
  if (notApplied.length > 0)
    logger.warn(
      { options: notApplied },
      'kubernetesIngressNGINX: provider-wide defaults are not applied by Portico (as in Traefik, where they only act through its buffering); set them per Ingress with the nginx.ingress.kubernetes.io annotations',
    );
}

function gatewayOptions(
  c: KubernetesGatewayProviderConfig,
  sc: StaticConfig,
): GatewayProviderOptions {
  return {
    entryPoints: gatewayEntryPoints(sc),
    experimentalChannel: c.experimentalChannel,
    nativeLBByDefault: c.nativeLBByDefault,
    ...(c.statusAddress ? { statusAddress: c.statusAddress } : {}),
  };
}

function nginxProvider(c: KubernetesIngressNginxProviderConfig, logger: Logger): Provider {
  warnNginxDefaults(c, logger);
  const client = createKubeClient(c);
  logger.info({ server: client.server, mode: client.mode }, 'kubernetes: API server');
  const base: KubernetesCommonOptions = {
    logger,
    kc: client.kc,
    namespaces: c.watchNamespace ? [c.watchNamespace] : [],
    throttleMs: c.throttleDurationMs,
  };
  const options = nginxOptions(c);
  const endpoint = nginxStatusEndpoint(c, logger);
  if (!endpoint) return createKubernetesIngressNginxProvider({ ...base, ...options });
  // its own Lease: the Ingress provider's elector in the same pod has the same identity
  const elector = createLeaderElector({
    kc: client.kc,
    ...leaseSettingsFromEnv(),
    name: NGINX_STATUS_LEASE,
    logger,
  });
  const writer = createIngressStatusWriter({
    kc: client.kc,
    ingressEndpoint: endpoint,
    elector,
    logger,
  });

  const inner = createKubernetesIngressNginxProvider({
    ...base,
    ...options,
    onTranslated: (accepted, view) => writer.update(accepted, view),
  });
  return withStatusWriter(inner, elector, writer);
}

function common(c: KubernetesCommonConfig, logger: Logger): KubernetesCommonOptions {
  const client = createKubeClient(c);
  logger.info({ server: client.server, mode: client.mode }, 'kubernetes: API server');
  return {
    logger,
    kc: client.kc,
    namespaces: c.namespaces,
    labelSelector: c.labelSelector,
    throttleMs: c.throttleDurationMs,
  };
}

function ingressProvider(
  c: KubernetesIngressProviderConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Provider {
  const base = common(c, logger);
  const endpoint = c.ingressEndpoint;
  if (!endpoint) return createIngress(c, base);
  // status.loadBalancer is written by one replica: the holder of a Lease
  const elector = createLeaderElector({ kc: base.kc!, ...leaseSettingsFromEnv(env), logger });
  const writer = createIngressStatusWriter({
    kc: base.kc!,
    ingressEndpoint: endpoint,
    elector,
    logger,
    // a NodePort publishedService needs Nodes: refused with a clear message under namespaced RBAC
    disableClusterScopeResources: c.disableClusterScopeResources,
  });
  const inner = createIngress(c, {
    ...base,
    onTranslated: (accepted, view) => writer.update(accepted, view),
  });
  return withStatusWriter(inner, elector, writer);
}

function createIngress(
  c: KubernetesIngressProviderConfig,
  base: KubernetesCommonOptions & { onTranslated?: IngressObserver },
): Provider {
  return createKubernetesIngressProvider({
    ...base,
    ...(c.ingressClass !== undefined ? { ingressClass: c.ingressClass } : {}),
    allowEmptyServices: c.allowEmptyServices,
    allowExternalNameServices: c.allowExternalNameServices,
    nativeLBByDefault: c.nativeLBByDefault,
    disableClusterScopeResources: c.disableClusterScopeResources,
    strictPrefixMatching: c.strictPrefixMatching,
  });
}

function crdProvider(c: KubernetesCrdProviderConfig, logger: Logger): Provider {
  return createKubernetesCrdProvider({
    ...common(c, logger),
    ...(c.ingressClass !== undefined ? { ingressClass: c.ingressClass } : {}),
    allowCrossNamespace: c.allowCrossNamespace,
    allowEmptyServices: c.allowEmptyServices,
    allowExternalNameServices: c.allowExternalNameServices,
    nativeLBByDefault: c.nativeLBByDefault,
  });
}

/** `--kubernetes` and `--manifests=PATH` (repeatable, or comma-separated) out of check's argv. */
export function kubernetesCheckArgs(argv: readonly string[]): {
  want: boolean;
  manifests: string[];
  rest: string[];
} {
  const manifests: string[] = [];
  const rest: string[] = [];
  let want = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--kubernetes') want = true;
    else if (a.startsWith('--manifests='))
      manifests.push(...a.slice(12).split(',').filter(Boolean));
    else if (a === '--manifests' && i + 1 < argv.length) manifests.push(argv[++i]!);
    else rest.push(a);
  }
  return { want: want || manifests.length > 0, manifests, rest };
}

/**
 * `portico check --kubernetes`: the configured Kubernetes providers' view of
 * the cluster (or of manifests), every untranslatable object printed with
 * its field and reason; `errors` counts those (and read failures) for the
 * exit code.
 */
export async function checkKubernetesProviders(
  sc: StaticConfig,
  manifests: readonly string[],
  print: (line: string) => void,
): Promise<{ snapshots: ProviderSnapshot[]; errors: number }> {
  const ing = sc.providers.kubernetesIngress;
  const crd = sc.providers.kubernetesCRD;
  const gw = sc.providers.kubernetesGateway;
  const nginx = sc.providers.kubernetesIngressNGINX;
  const base = ing ?? crd ?? gw ?? nginx;
  if (!base) return { snapshots: [], errors: 0 };
  let kc;
  if (manifests.length === 0) {
    try {
      const client = createKubeClient(base);
      kc = client.kc;
      print(`kubernetes: API server ${client.server} (${client.mode})`);
    } catch (err) {
      print(`kubernetes error: ${(err as Error).message}`);
      return { snapshots: [], errors: 1 };
    }
  }
  const result = await checkKubernetes({
    ...(ing
      ? {
          ingress: {
            ...(ing.ingressClass !== undefined ? { ingressClass: ing.ingressClass } : {}),
            allowEmptyServices: ing.allowEmptyServices,
            allowExternalNameServices: ing.allowExternalNameServices,
            nativeLBByDefault: ing.nativeLBByDefault,
            disableClusterScopeResources: ing.disableClusterScopeResources,
            strictPrefixMatching: ing.strictPrefixMatching,
          },
        }
      : {}),
    ...(crd
      ? {
          crd: {
            ...(crd.ingressClass !== undefined ? { ingressClass: crd.ingressClass } : {}),
            allowCrossNamespace: crd.allowCrossNamespace,
            allowEmptyServices: crd.allowEmptyServices,
            allowExternalNameServices: crd.allowExternalNameServices,
            nativeLBByDefault: crd.nativeLBByDefault,
          },
        }
      : {}),
    ...(gw ? { gateway: gatewayOptions(gw, sc) } : {}),
    ...(nginx ? { nginx: nginxOptions(nginx) } : {}),
    manifests,
    ...(kc ? { kc } : {}),
    namespaces: (ing ?? crd ?? gw)?.namespaces ?? [],
    labelSelector: (ing ?? crd)?.labelSelector,
  });
  for (const line of result.notes) print(line);
  let errors = result.failed ? 1 : 0;
  for (const d of result.diagnostics) {
    if (d.level === 'error') errors++;
    print(`kubernetes ${d.level}: ${objectRef(d)}: ${d.field}: ${d.message}`);
  }
  print(`kubernetes: ${result.diagnostics.length} diagnostics`);
  return { snapshots: result.snapshots, errors };
}

/**
 * `portico migrate ingress-nginx [--manifests=PATH ...]`: per nginx-class
 * Ingress, which of its annotations Portico honours, approximates, ignores
 * or refuses — from manifests, or from the cluster of the static
 * configuration (in-cluster, KUBECONFIG, or providers.kubernetesIngressNGINX's
 * endpoint). Exit 0, or 1 when reading failed; 2 on usage errors.
 */
export async function migrateIngressNginx(
  sc: StaticConfig,
  manifests: readonly string[],
  print: (text: string) => void,
): Promise<number> {
  const c = sc.providers.kubernetesIngressNGINX;
  const opts = c ? nginxOptions(c) : {};
  let kc;
  if (manifests.length === 0) {
    try {
      const client = createKubeClient(c ?? {});
      kc = client.kc;
      print(`kubernetes: API server ${client.server} (${client.mode})\n`);
    } catch (err) {
      print(`kubernetes error: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const loaded = await loadKubeView(
    { manifests, ...(kc ? { kc } : {}), namespaces: c?.watchNamespace ? [c.watchNamespace] : [] },
    [INGRESS, INGRESS_CLASS, SERVICE, ENDPOINT_SLICE, SECRET],
  );
  for (const line of loaded.notes) print(`${line}\n`);
  print(formatMigrateReport(migrateReport(loaded.view, opts)));
  return loaded.failed ? 1 : 0;
}
