/*
 * Service backends, shared by the Ingress and CRD translators (issue 14 item
 * 4): a reference to a Service port becomes the addresses to dial, as
 * Traefik's providers find them (pkg/provider/kubernetes/ingress loadService,
 * crd loadServers):
 *
 * - endpoints (the default): the EndpointSlices labelled
 *   `kubernetes.io/service-name`, the slice port matched to the Service port
 *   by NAME (an unnamed Service port is "" in the slice; a slice port with no
 *   name at all matches nothing, as in Traefik), addresses deduplicated
 *   across slices. An endpoint is in rotation unless a condition says
 *   otherwise (ready, serving false, or terminating). A terminating endpoint
 *   that still serves is what Traefik keeps as a *fenced* server (no new
 *   requests, sticky ones still land); Portico's load balancer has no fenced
 *   notion, so such endpoints leave rotation at once and are returned with
 *   `fenced: true` as data only (serverUrls/serverAddresses skip them).
 * - ExternalName: only with allowExternalNameServices; the external name on
 *   the service port.
 * - nativeLB: the ClusterIP on the service port (refused on headless Services).
 * - nodePortLB (NodePort Services only): every node's InternalIP on the node port.
 *
 * A Service with nothing in rotation: Traefik's providers skip it (its
 * routers vanish: 404) unless allowEmptyServices, which keeps it without
 * servers (503). resolveServiceBackend applies that rule itself: without
 * allowEmptyServices it returns an error; endpoints that are all fenced
 * still count as a Service that exists, as in Traefik (503, not 404).
 *
 * Every object here is hostile input (objects.ts): each field is checked
 * where it is read, and nothing throws.
 */
import { isIP } from 'node:net';
import type { ClusterView, KubeObject } from './objects.js';

export interface ServiceBackendRef {
  namespace: string;
  name: string;
  /** Service port by number or by name; undefined → the Service's only port (error if several) */
  port?: number | string;
  nativeLB?: boolean; // ClusterIP instead of endpoints
  nodePortLB?: boolean; // node addresses + nodePort (NodePort Services; needs Node objects)
}

export interface BackendOptions {
  allowExternalNameServices: boolean;
  allowEmptyServices: boolean;
  nativeLBByDefault: boolean;
  /** no Node lookups (Traefik's disableClusterScopeResources): nodePortLB is refused */
  disableClusterScopeResources?: boolean;
}

export interface ResolvedBackend {
  source: 'endpoints' | 'clusterIP' | 'nodePort' | 'externalName';
  servicePort: { name?: string; port: number; protocol?: string; appProtocol?: string };
  /** addresses to dial (IPv6 without brackets); port is the endpoint's/target port */
  addresses: { host: string; port: number; fenced?: boolean }[];
}

/**
 * `field` is the reference's field at fault (`name`, `port`, `nativeLB`,
 * `nodePortLB`), for the caller to append to the path of its own object.
 */
export type BackendResult =
  { ok: true; backend: ResolvedBackend } | { ok: false; field: string; message: string };

/* ------------------------------------------------------- hostile-input readers */

export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A TCP/UDP port number (1-65535), or undefined. */
export function asPort(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 ? v : undefined;
}

/** An object's annotations (hostile: metadata itself may be anything in a manifest read from a file). */
export function annotationsOf(o: KubeObject | undefined): Record<string, unknown> {
  return asRecord(asRecord(o?.metadata)?.annotations) ?? {};
}

/** host:port, IPv6 in brackets (Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** For messages: a value as the user wrote it, cut short (annotations and names can be huge). */
export function shown(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/* ------------------------------------------------------------------ resolving */

interface ServicePortSpec {
  name?: string;
  port: number;
  protocol?: string;
  appProtocol?: string;
  nodePort?: number;
}

type Fail = { ok: false; field: string; message: string };
const fail = (field: string, message: string): Fail => ({ ok: false, field, message });

function servicePorts(spec: Record<string, unknown>): ServicePortSpec[] {
  const out: ServicePortSpec[] = [];
  for (const raw of asArray(spec.ports)) {
    const p = asRecord(raw);
    const port = asPort(p?.port);
    if (p === undefined || port === undefined) continue;
    const name = asString(p.name);
    const protocol = asString(p.protocol);
    const appProtocol = asString(p.appProtocol);
    const nodePort = asPort(p.nodePort);
    out.push({
      ...(name !== undefined && name !== '' ? { name } : {}),
      port,
      ...(protocol !== undefined ? { protocol } : {}),
      ...(appProtocol !== undefined ? { appProtocol } : {}),
      ...(nodePort !== undefined ? { nodePort } : {}),
    });
  }
  return out;
}

const describePort = (p: ServicePortSpec): string =>
  p.name !== undefined ? `${p.port}/${p.name}` : String(p.port);

/** The Service port a reference names (Traefik: by number, or by a non-empty name). */
function pickPort(
  ports: ServicePortSpec[],
  ref: ServiceBackendRef,
  externalName: boolean,
): ServicePortSpec | Fail {
  const id = `${ref.namespace}/${ref.name}`;
  const listed = ports.length > 0 ? ` (ports: ${ports.map(describePort).join(', ')})` : '';
  if (ref.port === undefined) {
    if (ports.length === 1) return ports[0]!;
    return fail(
      'port',
      ports.length === 0
        ? `service ${id} has no ports; name a port`
        : `service ${id} has several ports${listed}; name one`,
    );
  }
  if (typeof ref.port === 'number') {
    if (asPort(ref.port) === undefined)
      return fail('port', `service port ${shown(ref.port)} is not a port number (1-65535)`);
    const found = ports.find((p) => p.port === ref.port);
    if (found) return found;
    // Traefik (crd getServicePort): an ExternalName Service often lists no
    // ports, so a port number it does not list is dialled as written
    if (externalName) return { port: ref.port };
    return fail('port', `service port ${ref.port} not found in service ${id}${listed}`);
  }
  if (typeof ref.port !== 'string' || ref.port === '')
    return fail(
      'port',
      `service port must be a number or a non-empty name, got ${shown(ref.port)}`,
    );
  const found = ports.find((p) => p.name === ref.port);
  if (found) return found;
  return fail('port', `service port ${shown(ref.port)} not found in service ${id}${listed}`);
}

function publicPort(p: ServicePortSpec): ResolvedBackend['servicePort'] {
  const { nodePort: _nodePort, ...rest } = p;
  return rest;
}

export function resolveServiceBackend(
  view: ClusterView,
  ref: ServiceBackendRef,
  opts: BackendOptions,
): BackendResult {
  const id = `${ref.namespace}/${ref.name}`;
  const service = view.get('Service', ref.namespace, ref.name);
  if (service === undefined) return fail('name', `service ${id} not found`);
  const spec = asRecord(service.spec) ?? {};
  const type = asString(spec.type) ?? 'ClusterIP';
  const isExternal = type === 'ExternalName';
  if (isExternal && !opts.allowExternalNameServices)
    // Traefik's words; the option is off by default since an ExternalName can point anywhere
    return fail('name', `externalName services not allowed: ${id}`);

  const port = pickPort(servicePorts(spec), ref, isExternal);
  if ('ok' in port) return port;
  const servicePort = publicPort(port);
  const done = (source: ResolvedBackend['source'], addresses: ResolvedBackend['addresses']) => ({
    ok: true as const,
    backend: { source, servicePort, addresses },
  });

  if (isExternal) {
    const host = asString(spec.externalName);
    if (host === undefined || host === '')
      return fail('name', `ExternalName service ${id} has no spec.externalName`);
    return done('externalName', [{ host, port: port.port }]);
  }
  if (ref.nodePortLB === true && type === 'NodePort') {
    const nodes = nodeAddresses(view, ref, port, opts);
    return 'ok' in nodes ? nodes : done('nodePort', nodes);
  }
  if (ref.nativeLB ?? opts.nativeLBByDefault) {
    const clusterIP = asString(spec.clusterIP) ?? '';
    if (clusterIP === 'None') return fail('nativeLB', `no clusterIP on headless service: ${id}`);
    if (clusterIP === '' || isIP(clusterIP) === 0)
      return fail('nativeLB', `no clusterIP found for service: ${id}`);
    return done('clusterIP', [{ host: clusterIP, port: port.port }]);
  }
  const addresses = endpointAddresses(view.endpointSlicesFor(ref.namespace, ref.name), port);
  if (addresses.length === 0 && !opts.allowEmptyServices)
    return fail('name', `no endpoints found for service ${id} port ${describePort(port)}`);
  return done('endpoints', addresses);
}

function nodeAddresses(
  view: ClusterView,
  ref: ServiceBackendRef,
  port: ServicePortSpec,
  opts: BackendOptions,
): ResolvedBackend['addresses'] | Fail {
  const id = `${ref.namespace}/${ref.name}`;
  if (opts.disableClusterScopeResources === true)
    return fail('nodePortLB', `nodes lookup is disabled (disableClusterScopeResources): ${id}`);
  if (port.nodePort === undefined)
    return fail('nodePortLB', `service ${id} port ${describePort(port)} has no nodePort`);
  const out: ResolvedBackend['addresses'] = [];
  for (const node of view.list('Node')) {
    for (const raw of asArray(asRecord(node.status)?.addresses)) {
      const a = asRecord(raw);
      const host = asString(a?.address);
      if (a?.type === 'InternalIP' && host !== undefined && isIP(host) !== 0)
        out.push({ host, port: port.nodePort });
    }
  }
  if (out.length === 0)
    return fail('nodePortLB', `no node with an InternalIP address for NodePort service ${id}`);
  return out;
}

type Rotation = 'in' | 'fenced' | 'out';

/** Kubernetes: nil conditions mean "true" for ready and serving, "false" for terminating. */
function rotationOf(endpoint: Record<string, unknown>): Rotation {
  const c = asRecord(endpoint.conditions) ?? {};
  const serving = c.serving !== false;
  const terminating = c.terminating === true;
  if (c.ready !== false && serving && !terminating) return 'in';
  return serving && terminating ? 'fenced' : 'out';
}

function slicePort(slice: KubeObject, name: string): number | undefined {
  for (const raw of asArray(slice.ports)) {
    const p = asRecord(raw);
    if (p !== undefined && typeof p.name === 'string' && p.name === name) return asPort(p.port);
  }
  return undefined;
}

function endpointAddresses(
  slices: KubeObject[],
  port: ServicePortSpec,
): ResolvedBackend['addresses'] {
  const byKey = new Map<string, ResolvedBackend['addresses'][number]>();
  for (const slice of slices) {
    const family = slice.addressType === 'IPv4' ? 4 : slice.addressType === 'IPv6' ? 6 : 0;
    if (family === 0) continue; // FQDN slices (deprecated) and unknown types
    const target = slicePort(slice, port.name ?? '');
    if (target === undefined) continue;
    for (const raw of asArray(slice.endpoints)) {
      const endpoint = asRecord(raw);
      if (endpoint === undefined) continue;
      const rotation = rotationOf(endpoint);
      if (rotation === 'out') continue;
      for (const host of asArray(endpoint.addresses)) {
        if (typeof host !== 'string' || isIP(host) !== family) continue;
        const key = joinHostPort(host, target);
        const seen = byKey.get(key);
        // the same pod in two slices (while they are rebalanced): in rotation wins over fenced
        if (seen !== undefined && !(seen.fenced === true && rotation === 'in')) continue;
        byKey.set(
          key,
          rotation === 'fenced' ? { host, port: target, fenced: true } : { host, port: target },
        );
      }
    }
  }
  return [...byKey.values()];
}

/* ---------------------------------------------------------------- servers */

/** Traefik's default scheme: https for service port 443 or a port name starting with "https". */
function defaultScheme(b: ResolvedBackend): string {
  return b.servicePort.port === 443 || (b.servicePort.name ?? '').startsWith('https')
    ? 'https'
    : 'http';
}

/** http/https/h2c URL per server: scheme given, else Traefik's rule (port 443 or port name starting with "https" → https), IPv6 bracketed */
export function serverUrls(b: ResolvedBackend, scheme?: string): string[] {
  const s = scheme !== undefined && scheme !== '' ? scheme : defaultScheme(b);
  return serverAddresses(b).map((a) => `${s}://${a}`);
}

/** host:port per server for TCP/UDP services (fenced addresses are out of rotation) */
export function serverAddresses(b: ResolvedBackend): string[] {
  return b.addresses.filter((a) => a.fenced !== true).map((a) => joinHostPort(a.host, a.port));
}
