/*
 * backendRefs of routes (issue 15): a Service port (a ReferenceGrant needed
 * across namespaces) resolved with the shared resolver (../backends.ts), as
 * Traefik's Gateway provider reads it (kubernetes.go getBackendAddresses,
 * httproute.go loadService/getHTTPServiceProtocol): the port is required,
 * ExternalName Services are refused, a Service without EndpointSlices is
 * BackendNotFound, and the scheme comes from the port's appProtocol.
 * A TraefikService (group traefik.io) names a CRD provider service.
 */
import {
  annotationsOf,
  asRecord,
  asString,
  resolveServiceBackend,
  serverAddresses,
  serverUrls,
} from '../backends.js';
import { CRD_PROVIDER, TRAEFIK_GROUP } from '../objects.js';
import { normalizeName, referenceGranted, str, type Acc } from './common.js';
import type { GatewayProviderOptions, RouteKind } from './model.js';

export type BackendOutcome =
  | { ok: true; kind: 'servers'; urls: string[] }
  | { ok: true; kind: 'named'; service: string }
  | { ok: false; reason: string; message: string };

export interface BackendRefRead {
  group: string;
  kind: string;
  name: string;
  namespace: string;
  port?: number;
  weight: number;
}

/** A backendRef's fields (defaults: core group, kind Service, the route's namespace, weight 1). */
export function readBackendRef(raw: unknown, routeNamespace: string): BackendRefRead | undefined {
  const r = asRecord(raw);
  const name = str(r?.name);
  if (r === undefined || name === undefined) return undefined;
  const group = asString(r.group) ?? '';
  const w = r.weight;
  return {
    group: group === 'core' ? '' : group,
    kind: asString(r.kind) ?? 'Service',
    name,
    namespace: str(r.namespace) ?? routeNamespace,
    ...(typeof r.port === 'number' ? { port: r.port } : {}),
    weight: typeof w === 'number' && Number.isInteger(w) && w >= 0 ? w : 1,
  };
}

const fail = (reason: string, message: string): BackendOutcome => ({ ok: false, reason, message });

/** The scheme of an HTTP (or gRPC) backend port, Traefik's getHTTPServiceProtocol / getGRPCServiceProtocol. */
function schemeOf(
  port: { name?: string; port: number; protocol?: string; appProtocol?: string },
  grpc: boolean,
): string | { error: string } {
  if ((port.protocol ?? 'TCP') !== 'TCP') return { error: 'only TCP protocol is supported' };
  const ap = port.appProtocol?.toLowerCase();
  if (ap === undefined) {
    if (grpc) return 'h2c';
    return port.port === 443 || (port.name ?? '').startsWith('https') ? 'https' : 'http';
  }
  if (ap === 'kubernetes.io/h2c') return 'h2c';
  if (!grpc && (ap === 'http' || ap === 'kubernetes.io/ws')) return 'http';
  if (ap === 'https' || (!grpc && ap === 'kubernetes.io/wss')) return 'https';
  return { error: `unsupported application protocol ${ap}` };
}

/**
 * Resolves one backendRef of a route of `routeKind` in `routeNamespace`.
 * `mode`: http (URLs with Traefik's scheme), grpc (h2c by default) or tcp
 * (host:port addresses).
 */
export function resolveBackend(
  acc: Acc,
  opts: GatewayProviderOptions,
  routeKind: RouteKind,
  routeNamespace: string,
  ref: BackendRefRead,
  mode: 'http' | 'grpc' | 'tcp',
): BackendOutcome {
  const id = `${ref.group === '' ? 'core' : ref.group}/${ref.kind}/${ref.namespace}/${ref.name}`;
  if (
    !referenceGranted(
      acc.view,
      { kind: routeKind, namespace: routeNamespace },
      { group: ref.group, kind: ref.kind, name: ref.name, namespace: ref.namespace },
    )
  )
    return fail('RefNotPermitted', `cannot load backendRef ${id}: missing ReferenceGrant`);

  if (ref.group === TRAEFIK_GROUP && ref.kind === 'TraefikService') {
    // cross-provider names (api@internal) are used as written, as Traefik does
    if (ref.name.includes('@')) {
      if (ref.namespace !== routeNamespace)
        return fail(
          'RefNotPermitted',
          `cannot load backendRef ${id}: namespace is not allowed with a cross-provider reference`,
        );
      return { ok: true, kind: 'named', service: ref.name };
    }
    return {
      ok: true,
      kind: 'named',
      service: `${normalizeName(`${ref.namespace}-${ref.name}`)}@${CRD_PROVIDER}`,
    };
  }
  if (ref.group !== '' || ref.kind !== 'Service')
    return fail('InvalidKind', `cannot load backendRef ${id}: unsupported group/kind`);
  if (ref.port === undefined || ref.port === 0)
    return fail('UnsupportedProtocol', `cannot load backendRef ${id}: port is required`);

  // Traefik's Service annotation (gateway/annotations.go) overrides nativeLBByDefault
  const nativeAnnotation = asString(
    annotationsOf(acc.view.get('Service', ref.namespace, ref.name))['traefik.io/service.nativelb'],
  )?.toLowerCase();
  const r = resolveServiceBackend(
    acc.view,
    {
      namespace: ref.namespace,
      name: ref.name,
      port: ref.port,
      ...(nativeAnnotation === 'true' || nativeAnnotation === 'false'
        ? { nativeLB: nativeAnnotation === 'true' }
        : {}),
    },
    {
      allowExternalNameServices: false,
      allowEmptyServices: true,
      nativeLBByDefault: opts.nativeLBByDefault,
    },
  );
  if (!r.ok) return fail('BackendNotFound', `cannot load backendRef ${id}: ${r.message}`);
  if (
    r.backend.source === 'endpoints' &&
    acc.view.endpointSlicesFor(ref.namespace, ref.name).length === 0
  )
    return fail('BackendNotFound', `cannot load backendRef ${id}: endpointslices not found`);
  if (mode === 'tcp') return { ok: true, kind: 'servers', urls: serverAddresses(r.backend) };
  const scheme = schemeOf(r.backend.servicePort, mode === 'grpc');
  if (typeof scheme !== 'string')
    return fail('UnsupportedProtocol', `cannot load backendRef ${id}: ${scheme.error}`);
  return { ok: true, kind: 'servers', urls: serverUrls(r.backend, scheme) };
}
