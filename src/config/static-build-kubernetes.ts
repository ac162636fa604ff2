/*
 * The four Kubernetes providers' static options: providers.kubernetesIngress
 * and providers.kubernetesCRD (issue 14 item 1; Traefik's zero values, neither
 * has a SetDefaults), providers.kubernetesGateway and
 * providers.kubernetesIngressNGINX (issue 15; Traefik's SetDefaults). Values
 * Traefik only finds wrong once it runs (a label selector at the first list
 * call, a publishedService at the first status update, a default backend when
 * the provider starts) are checked here, so a typo stops start-up naming the
 * option instead.
 */
import { isIP } from 'node:net';
import { StaticConfigError } from '../kernel/errors.js';
import { parseLabelSelector } from './kubernetes-label-selector.js';
import { absolute, entry, valueOf, type Context } from './static-store.js';
import type {
  EntryPointConfig,
  KubernetesClientConfig,
  KubernetesCommonConfig,
  KubernetesCrdProviderConfig,
  KubernetesGatewayProviderConfig,
  KubernetesIngressNginxProviderConfig,
  KubernetesIngressProviderConfig,
} from './static-types.js';

/** RFC 1123 label: what Kubernetes accepts as a namespace name */
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** endpoint, token, certAuthFilePath and throttleDuration: every Kubernetes provider's */
function buildClient(ctx: Context, p: string): KubernetesClientConfig {
  const config: KubernetesClientConfig = { throttleDurationMs: 0 };
  const endpoint = entry(ctx, `${p}.endpoint`);
  if (endpoint) {
    checkHttpUrl(String(endpoint.value), endpoint.origin, 'of the API server');
    config.endpoint = String(endpoint.value);
  }
  const token = entry(ctx, `${p}.token`);
  // kept as written: a file is read by the provider, each time it connects, as a projected
  // service account token is rotated on disk (Traefik's types.FileOrContent)
  if (token) config.token = String(token.value);
  const ca = entry(ctx, `${p}.certAuthFilePath`);
  if (ca) config.certAuthFilePath = absolute(ctx, String(ca.value));
  const throttle = entry(ctx, `${p}.throttleDuration`);
  if (throttle) {
    // Traefik hands it to time.NewTicker, which panics on a negative duration
    if ((throttle.value as number) < 0)
      throw new StaticConfigError(throttle.origin, 'must not be negative');
    config.throttleDurationMs = throttle.value as number;
  }
  return config;
}

function checkHttpUrl(url: string, origin: string, what: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.host) {
    throw new StaticConfigError(
      origin,
      `expected an http:// or https:// URL ${what}, got ${JSON.stringify(url)}`,
    );
  }
}

function checkNamespace(name: string, origin: string): void {
  if (!NAMESPACE.test(name)) {
    throw new StaticConfigError(
      origin,
      `${JSON.stringify(name)} is not a namespace name (lower-case letters, digits and "-", at most 63)`,
    );
  }
}

/** `namespaces`: [] when unset */
function buildNamespaces(ctx: Context, p: string): string[] {
  const namespaces = entry(ctx, `${p}.namespaces`);
  if (!namespaces) return [];
  const names = namespaces.value as string[];
  for (const name of names) checkNamespace(name, namespaces.origin);
  return names;
}

/** `labelSelector` as written, once it parses */
function buildLabelSelector(ctx: Context, p: string): string | undefined {
  const selector = entry(ctx, `${p}.labelSelector`);
  if (!selector) return undefined;
  const text = String(selector.value);
  try {
    parseLabelSelector(text);
  } catch (error) {
    throw new StaticConfigError(
      selector.origin,
      `invalid label selector ${JSON.stringify(text)}: ${(error as Error).message}`,
    );
  }
  return text;
}

function buildCommon(ctx: Context, p: string): KubernetesCommonConfig {
  const client = buildClient(ctx, p);
  const config: KubernetesCommonConfig = {
    ...client,
    namespaces: buildNamespaces(ctx, p),
    allowEmptyServices: valueOf(ctx, `${p}.allowEmptyServices`, false),
    allowExternalNameServices: valueOf(ctx, `${p}.allowExternalNameServices`, false),
    nativeLBByDefault: valueOf(ctx, `${p}.nativeLBByDefault`, false),
    disableClusterScopeResources: valueOf(ctx, `${p}.disableClusterScopeResources`, false),
  };
  const labelSelector = buildLabelSelector(ctx, p);
  if (labelSelector !== undefined) config.labelSelector = labelSelector;
  const ingressClass = entry(ctx, `${p}.ingressClass`);
  if (ingressClass) config.ingressClass = String(ingressClass.value);
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
    checkIp(String(ip.value), ip.origin);
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

/** RFC 1123 subdomain: what the status of an Ingress or a Gateway accepts as a hostname */
const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*$/;

function checkHostname(value: string, origin: string): void {
  if (!DNS_NAME.test(value))
    throw new StaticConfigError(
      origin,
      `expected a dns name (lower-case letters, digits, "-" and "."), got ${JSON.stringify(value)}`,
    );
}

function checkIp(value: string, origin: string): void {
  // the status' ip field: the API server refuses anything but one address
  if (isIP(value) === 0)
    throw new StaticConfigError(origin, `expected an ip address, got ${JSON.stringify(value)}`);
}

/** providers.kubernetesGateway: undefined unless switched on */
export function buildKubernetesGatewayProvider(
  ctx: Context,
): KubernetesGatewayProviderConfig | undefined {
  const p = 'providers.kubernetesGateway';
  if (!valueOf(ctx, p, false)) return undefined;
  const config: KubernetesGatewayProviderConfig = {
    ...buildClient(ctx, p),
    namespaces: buildNamespaces(ctx, p),
    nativeLBByDefault: valueOf(ctx, `${p}.nativeLBByDefault`, false),
    experimentalChannel: valueOf(ctx, `${p}.experimentalChannel`, false),
  };
  const labelSelector = buildLabelSelector(ctx, p);
  if (labelSelector !== undefined) config.labelSelector = labelSelector;
  const statusAddress = buildGatewayStatusAddress(ctx, `${p}.statusAddress`);
  if (statusAddress) config.statusAddress = statusAddress;
  return config;
}

function buildGatewayStatusAddress(
  ctx: Context,
  p: string,
): KubernetesGatewayProviderConfig['statusAddress'] {
  const address: NonNullable<KubernetesGatewayProviderConfig['statusAddress']> = {};
  const set: { name: string; origin: string }[] = [];
  const ip = entry(ctx, `${p}.ip`);
  if (ip) {
    checkIp(String(ip.value), ip.origin);
    address.ip = String(ip.value);
    set.push({ name: 'statusAddress.ip', origin: ip.origin });
  }
  const hostname = entry(ctx, `${p}.hostname`);
  if (hostname) {
    checkHostname(String(hostname.value), hostname.origin);
    address.hostname = String(hostname.value);
    set.push({ name: 'statusAddress.hostname', origin: hostname.origin });
  }
  const namespace = entry(ctx, `${p}.service.namespace`);
  const name = entry(ctx, `${p}.service.name`);
  if (namespace || name) {
    // Traefik reads the Service only when both are set, and otherwise fails each status update
    // with "empty Gateway status address configuration"
    if (!namespace || !name) {
      const [given, missing] = namespace ? [namespace, 'name'] : [name!, 'namespace'];
      throw new StaticConfigError(given.origin, `needs statusAddress.service.${missing} too`);
    }
    checkNamespace(String(namespace.value), namespace.origin);
    if (!NAMESPACE.test(String(name.value)))
      throw new StaticConfigError(
        name.origin,
        `${JSON.stringify(name.value)} is not a service name (lower-case letters, digits and "-", at most 63)`,
      );
    address.service = { namespace: String(namespace.value), name: String(name.value) };
    set.push({ name: 'statusAddress.service', origin: name.origin });
  }
  const [used, ...unused] = set;
  if (used === undefined) return undefined;
  if (unused.length > 0) {
    // Traefik's gatewayAddresses: ip, else hostname, else service
    ctx.store.warn(
      `${used.origin}: ${unused.map((u) => u.name).join(' and ')} ${unused.length > 1 ? 'are' : 'is'} not used: ${used.name} is set (the first of ip, hostname and service is written, as in Traefik)`,
    );
  }
  return address;
}

/** providers.kubernetesIngressNGINX: undefined unless switched on */
export function buildKubernetesIngressNginxProvider(
  ctx: Context,
  entryPoints: Record<string, EntryPointConfig>,
): KubernetesIngressNginxProviderConfig | undefined {
  const p = 'providers.kubernetesIngressNGINX';
  if (!valueOf(ctx, p, false)) return undefined;
  const snippets = entry(ctx, `${p}.allowSnippetAnnotations`);
  if (snippets?.value === true) {
    // issue 15: the *-snippet annotations were the IngressNightmare attack path; Portico
    // translates annotations into typed configuration and never renders text from them
    throw new StaticConfigError(
      snippets.origin,
      'portico never renders snippet annotations: configuration text taken from Ingresses was the IngressNightmare attack path (CVE-2025-1974); set it to false or leave it out',
    );
  }
  checkIpAllowListStrategy(ctx, `${p}.ipAllowListStrategy`);
  const config: KubernetesIngressNginxProviderConfig = {
    ...buildClient(ctx, p),
    ingressClass: valueOf(ctx, `${p}.ingressClass`, 'nginx'),
    controllerClass: valueOf(ctx, `${p}.controllerClass`, 'k8s.io/ingress-nginx'),
    watchIngressWithoutClass: valueOf(ctx, `${p}.watchIngressWithoutClass`, false),
    ingressClassByName: valueOf(ctx, `${p}.ingressClassByName`, false),
    publishStatusAddress: [],
    disableSvcExternalName: valueOf(ctx, `${p}.disableSvcExternalName`, false),
    proxyBodySize: valueOf(ctx, `${p}.proxyBodySize`, 1024 * 1024),
    proxyConnectTimeout: valueOf(ctx, `${p}.proxyConnectTimeout`, 60),
    proxyReadTimeout: valueOf(ctx, `${p}.proxyReadTimeout`, 60),
    proxySendTimeout: valueOf(ctx, `${p}.proxySendTimeout`, 60),
    allowCrossNamespaceResources: valueOf(ctx, `${p}.allowCrossNamespaceResources`, false),
    strictValidatePathType: valueOf(ctx, `${p}.strictValidatePathType`, true),
  };
  const watchNamespace = entry(ctx, `${p}.watchNamespace`);
  if (watchNamespace) {
    checkNamespace(String(watchNamespace.value), watchNamespace.origin);
    config.watchNamespace = String(watchNamespace.value);
  }
  for (const key of ['publishService', 'defaultBackendService'] as const) {
    const e = entry(ctx, `${p}.${key}`);
    if (!e) continue;
    checkPublishedService(String(e.value), e.origin);
    config[key] = String(e.value);
  }
  const addresses = entry(ctx, `${p}.publishStatusAddress`);
  if (addresses) {
    // Traefik writes an IP as ip and anything else as hostname, which the API server checks
    for (const address of addresses.value as string[]) {
      if (isIP(address) === 0 && !DNS_NAME.test(address))
        throw new StaticConfigError(
          addresses.origin,
          `${JSON.stringify(address)} is neither an ip address nor a dns name`,
        );
    }
    config.publishStatusAddress = addresses.value as string[];
  }
  const authUrl = entry(ctx, `${p}.globalAuthURL`);
  if (authUrl) {
    checkHttpUrl(String(authUrl.value), authUrl.origin, 'of the authentication service');
    config.globalAuthURL = String(authUrl.value);
  }
  for (const key of ['httpEntryPoint', 'httpsEntryPoint'] as const) {
    const e = entry(ctx, `${p}.${key}`);
    if (e) config[key] = entryPointName(ctx, entryPoints, String(e.value), e.origin);
  }
  return config;
}

/**
 * Traefik's ipAllowListStrategy: its zero value (what Traefik's Helm chart writes by
 * default) changes nothing; any other is refused, since the allow lists built from the
 * whitelist-source-range annotations would judge another address than the operator meant
 */
function checkIpAllowListStrategy(ctx: Context, p: string): void {
  const depth = entry(ctx, `${p}.depth`);
  const excluded = entry(ctx, `${p}.excludedIPs`);
  const subnet = entry(ctx, `${p}.ipv6Subnet`);
  const set =
    (depth !== undefined && depth.value !== 0 && depth) ||
    (excluded !== undefined && (excluded.value as string[]).length > 0 && excluded) ||
    (subnet !== undefined && subnet.value !== 0 && subnet);
  if (set) {
    throw new StaticConfigError(
      set.origin,
      'ipAllowListStrategy is not supported yet: only its zero value (depth 0, no excludedIPs, ipv6Subnet 0) is accepted; allow lists judge the connection address',
    );
  }
}

/** an entry point the provider's routers go to: configured (any case) and not UDP */
function entryPointName(
  ctx: Context,
  entryPoints: Record<string, EntryPointConfig>,
  wanted: string,
  origin: string,
): string {
  const name = ctx.store.knownName(wanted) ?? wanted;
  const ep = entryPoints[name];
  // as ping.entryPoint and metrics.prometheus.entryPoint are checked (Traefik finds out later:
  // its routers on a missing entry point are dropped with an error)
  if (!ep) throw new StaticConfigError(origin, `entry point "${wanted}" is not configured`);
  if (ep.udp !== undefined)
    throw new StaticConfigError(
      origin,
      `"${name}" is a udp entrypoint; it serves udp routers only`,
    );
  return name;
}
