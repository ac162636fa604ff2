/*
 * An Ingress backend (`service: {name, port: {number | name}}`) → the
 * dynamic service Traefik builds for it (loadService): the servers from
 * backends.ts, and the Service's service.* annotations (scheme, servers
 * transport, Host header, sticky cookie, nativeLB, nodePortLB).
 */
import type { LoadBalancerConfig, ServiceConfig } from '../../../src/config/dynamic.js';
import {
  annotationsOf,
  asRecord,
  asString,
  resolveServiceBackend,
  serverUrls,
  type BackendResult,
} from '../backends.js';
import type { ClusterView } from '../objects.js';
import { serviceAnnotations } from './annotations.js';
import type { IngressProviderOptions } from './translate.js';
import { serviceKey } from './rules.js';

export interface BackendContext {
  view: ClusterView;
  opts: IngressProviderOptions;
}

export interface IngressBackendRef {
  name: string;
  port: number | string;
  /** the port name when a number is given too: tried when the number matches no Service port */
  altPort?: string;
  /** Traefik's service name: namespace-service-port (port name, else number) */
  key: string;
}

/** The field at fault and why. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** Reads `backend` (at path `at`) as Traefik does: a Service, never a resource. */
export function readBackendRef(
  raw: unknown,
  at: string,
  namespace = '',
): IngressBackendRef | FieldProblem {
  const backend = asRecord(raw);
  if (backend === undefined) return { field: at, message: 'backend is missing' };
  if (backend.resource !== undefined && backend.resource !== null)
    return { field: `${at}.resource`, message: 'resource backends are not supported' };
  const service = asRecord(backend.service);
  if (service === undefined)
    return { field: `${at}.service`, message: 'missing service definition' };
  const name = asString(service.name);
  if (name === undefined || name === '')
    return { field: `${at}.service.name`, message: 'service name is missing' };
  const port = asRecord(service.port) ?? {};
  const number = port.number === null || port.number === 0 ? undefined : port.number;
  if (number !== undefined && (typeof number !== 'number' || !Number.isInteger(number)))
    return { field: `${at}.service.port.number`, message: 'port number must be a whole number' };
  const portName = typeof port.name === 'string' && port.name !== '' ? port.name : undefined;
  if (number === undefined && portName === undefined)
    return { field: `${at}.service.port`, message: 'service port needs a number or a name' };
  // Traefik names the service after the port's name when it has one (portString), and
  // takes the Service port matching either (the API server allows only one of them)
  const key = serviceKey(namespace, name, portName ?? String(number));
  return {
    name,
    port: number ?? portName!,
    ...(number !== undefined && portName !== undefined ? { altPort: portName } : {}),
    key,
  };
}

const KNOWN_SCHEMES = ['http', 'https', 'h2c'];

type Report = (field: string, message: string, level?: 'error' | 'warning') => void;

function problemField(
  res: Extract<BackendResult, { ok: false }>,
  at: string,
  ref: IngressBackendRef,
) {
  if (res.field === 'port')
    return `${at}.service.port.${typeof ref.port === 'number' ? 'number' : 'name'}`;
  return `${at}.service.name`;
}

/** The service for a backend, or undefined (reported) when the path must be skipped. */
export function buildBackendService(
  ctx: BackendContext,
  namespace: string,
  ref: IngressBackendRef,
  at: string,
  report: Report,
): ServiceConfig | undefined {
  const id = `${namespace}/${ref.name}`;
  const object = ctx.view.get('Service', namespace, ref.name);
  const ann = serviceAnnotations(annotationsOf(object));
  for (const i of ann.issues) {
    const tail = i.level === 'error' ? '; the path is skipped' : '';
    report(
      `${at}.service.name`,
      `service ${id}: annotation ${JSON.stringify(i.key)}: ${i.message}${tail}`,
      i.level,
    );
  }
  if (ann.failed) return undefined;
  const a = ann.value;
  const resolve = (port: number | string) =>
    resolveServiceBackend(
      ctx.view,
      {
        namespace,
        name: ref.name,
        port,
        ...(a.nativeLB !== undefined ? { nativeLB: a.nativeLB } : {}),
        ...(a.nodePortLB !== undefined ? { nodePortLB: a.nodePortLB } : {}),
      },
      {
        allowEmptyServices: ctx.opts.allowEmptyServices,
        allowExternalNameServices: ctx.opts.allowExternalNameServices,
        nativeLBByDefault: ctx.opts.nativeLBByDefault,
        disableClusterScopeResources: ctx.opts.disableClusterScopeResources,
      },
    );
  let res = resolve(ref.port);
  if (!res.ok && res.field === 'port' && ref.altPort !== undefined) res = resolve(ref.altPort);
  if (!res.ok) {
    report(problemField(res, at, ref), `${res.message}; the path is skipped`);
    return undefined;
  }
  if (
    a.serversScheme !== undefined &&
    a.serversScheme !== '' &&
    !KNOWN_SCHEMES.includes(a.serversScheme)
  ) {
    report(
      `${at}.service.name`,
      `service ${id}: servers scheme ${JSON.stringify(a.serversScheme)} is not http, https or h2c; the servers will not be reachable`,
      'warning',
    );
  }
  const lb: LoadBalancerConfig = {
    servers: serverUrls(res.backend, a.serversScheme).map((url) => ({ url })),
  };
  if (a.passHostHeader !== undefined) lb.passHostHeader = a.passHostHeader;
  if (a.sticky !== undefined) lb.sticky = a.sticky;
  if (a.serversTransport !== undefined && a.serversTransport !== '')
    lb.serversTransport = a.serversTransport;
  return { loadBalancer: lb };
}
