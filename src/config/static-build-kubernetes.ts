/*
 * providers.kubernetesIngress and providers.kubernetesCRD (issue 14 item 1):
 * Traefik's options with Traefik's defaults (its zero values: neither provider
 * has a SetDefaults), and the values checked here that Traefik only finds
 * wrong once it runs (a label selector at the first list call, a
 * publishedService at the first status update), so a typo stops start-up
 * naming the option instead.
 */
import { isIP } from 'node:net';
import { StaticConfigError } from '../kernel/errors.js';
import { parseLabelSelector } from './kubernetes-label-selector.js';
import { absolute, entry, valueOf, type Context } from './static-store.js';
import type {
  KubernetesCommonConfig,
  KubernetesCrdProviderConfig,
  KubernetesIngressProviderConfig,
} from './static-types.js';

/** RFC 1123 label: what Kubernetes accepts as a namespace name */
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

function buildCommon(ctx: Context, p: string): KubernetesCommonConfig {
  const config: KubernetesCommonConfig = {
    namespaces: [],
    throttleDurationMs: 0,
    allowEmptyServices: valueOf(ctx, `${p}.allowEmptyServices`, false),
    allowExternalNameServices: valueOf(ctx, `${p}.allowExternalNameServices`, false),
    nativeLBByDefault: valueOf(ctx, `${p}.nativeLBByDefault`, false),
    disableClusterScopeResources: valueOf(ctx, `${p}.disableClusterScopeResources`, false),
  };
  const endpoint = entry(ctx, `${p}.endpoint`);
  if (endpoint) {
    const url = String(endpoint.value);
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.host) {
      throw new StaticConfigError(
        endpoint.origin,
        `expected an http:// or https:// URL of the API server, got ${JSON.stringify(url)}`,
      );
    }
    config.endpoint = url;
  }
  const token = entry(ctx, `${p}.token`);
  // kept as written: a file is read by the provider, each time it connects, as a projected
  // service account token is rotated on disk (Traefik's types.FileOrContent)
  if (token) config.token = String(token.value);
  const ca = entry(ctx, `${p}.certAuthFilePath`);
  if (ca) config.certAuthFilePath = absolute(ctx, String(ca.value));
  const namespaces = entry(ctx, `${p}.namespaces`);
  if (namespaces) {
    const names = namespaces.value as string[];
    const bad = names.find((n) => !NAMESPACE.test(n));
    if (bad !== undefined) {
      throw new StaticConfigError(
        namespaces.origin,
        `${JSON.stringify(bad)} is not a namespace name (lower-case letters, digits and "-", at most 63)`,
      );
    }
    config.namespaces = names;
  }
  const selector = entry(ctx, `${p}.labelSelector`);
  if (selector) {
    const text = String(selector.value);
    try {
      parseLabelSelector(text);
    } catch (error) {
      throw new StaticConfigError(
        selector.origin,
        `invalid label selector ${JSON.stringify(text)}: ${(error as Error).message}`,
      );
    }
    config.labelSelector = text;
  }
  const ingressClass = entry(ctx, `${p}.ingressClass`);
  if (ingressClass) config.ingressClass = String(ingressClass.value);
  const throttle = entry(ctx, `${p}.throttleDuration`);
  if (throttle) {
    // Traefik hands it to time.NewTicker, which panics on a negative duration
    if ((throttle.value as number) < 0)
      throw new StaticConfigError(throttle.origin, 'must not be negative');
    config.throttleDurationMs = throttle.value as number;
  }
  return config;
}

/** "namespace/name" (Traefik: "invalid publishedService format (expected 'namespace/service' format)") */
function checkPublishedService(value: string, origin: string): void {
  const parts = value.split('/');
  const [namespace, name] = parts;
  if (parts.length !== 2 || !namespace || !name) {
    throw new StaticConfigError(
      origin,
      `expected namespace/name of a Service, got ${JSON.stringify(value)}`,
    );
  }
  if (!NAMESPACE.test(namespace) || !NAMESPACE.test(name)) {
    throw new StaticConfigError(
      origin,
      `expected namespace/name of a Service (lower-case letters, digits and "-"), got ${JSON.stringify(value)}`,
    );
  }
}

/** providers.kubernetesIngress: undefined unless switched on */
export function buildKubernetesIngressProvider(
  ctx: Context,
): KubernetesIngressProviderConfig | undefined {
  const p = 'providers.kubernetesIngress';
  if (!valueOf(ctx, p, false)) return undefined;
  const deprecated = entry(ctx, `${p}.disableIngressClassLookup`);
  if (deprecated?.value === true) {
    // Traefik's pkg/cli/deprecation.go warns the same way and honours it
    ctx.store.warn(
      `${deprecated.origin}: disableIngressClassLookup is deprecated, please use disableClusterScopeResources instead`,
    );
  }
  const config: KubernetesIngressProviderConfig = {
    ...buildCommon(ctx, p),
    strictPrefixMatching: valueOf(ctx, `${p}.strictPrefixMatching`, false),
  };
  if (deprecated?.value === true) config.disableClusterScopeResources = true;
  const ingressEndpoint: NonNullable<KubernetesIngressProviderConfig['ingressEndpoint']> = {};
  const ip = entry(ctx, `${p}.ingressEndpoint.ip`);
  if (ip) {
    // status.loadBalancer.ingress[].ip: the API server refuses anything but one address
    if (isIP(String(ip.value)) === 0)
      throw new StaticConfigError(
        ip.origin,
        `expected an ip address, got ${JSON.stringify(ip.value)}`,
      );
    ingressEndpoint.ip = String(ip.value);
  }
  const hostname = entry(ctx, `${p}.ingressEndpoint.hostname`);
  if (hostname) ingressEndpoint.hostname = String(hostname.value);
  const published = entry(ctx, `${p}.ingressEndpoint.publishedService`);
  if (published) {
    checkPublishedService(String(published.value), published.origin);
    ingressEndpoint.publishedService = String(published.value);
  }
  if (Object.keys(ingressEndpoint).length > 0) config.ingressEndpoint = ingressEndpoint;
  return config;
}

/** providers.kubernetesCRD: undefined unless switched on */
export function buildKubernetesCrdProvider(ctx: Context): KubernetesCrdProviderConfig | undefined {
  const p = 'providers.kubernetesCRD';
  if (!valueOf(ctx, p, false)) return undefined;
  return {
    ...buildCommon(ctx, p),
    allowCrossNamespace: valueOf(ctx, `${p}.allowCrossNamespace`, false),
  };
}
