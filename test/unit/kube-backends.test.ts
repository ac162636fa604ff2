/*
 * Service backends (issue 14 item 4): a Service port by number or name →
 * the addresses to dial, from EndpointSlices, ClusterIP, node ports or an
 * ExternalName, with Traefik's rules (pkg/provider/kubernetes/ingress
 * loadService, crd loadServers).
 */
import { describe, expect, it } from 'vitest';
import {
  resolveServiceBackend,
  serverAddresses,
  serverUrls,
  type BackendOptions,
  type BackendResult,
  type ResolvedBackend,
  type ServiceBackendRef,
} from '../../providers/kubernetes/backends.js';
import { viewOf, type KubeObject } from '../../providers/kubernetes/objects.js';
import { viewOfYaml } from '../helpers/kube-view.js';

const OPTS: BackendOptions = {
  allowExternalNameServices: false,
  allowEmptyServices: false,
  nativeLBByDefault: false,
};

const CLUSTER = viewOfYaml(`
kind: Service
apiVersion: v1
metadata: { name: web, namespace: apps }
spec:
  clusterIP: 10.96.0.10
  ports:
    - { name: http, port: 80, targetPort: 8080 }
    - { name: https-api, port: 8443, targetPort: 9443 }
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: web-a
  namespace: apps
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports:
  - { name: http, port: 8080 }
  - { name: https-api, port: 9443 }
endpoints:
  - addresses: [10.0.0.1]
    conditions: { ready: true }
  - addresses: [10.0.0.2]
    conditions: { ready: false, serving: true, terminating: true }
  - addresses: [10.0.0.3]
    conditions: { ready: false, serving: false, terminating: true }
  - addresses: [10.0.0.4]
    conditions: { ready: false }
  - addresses: [10.0.0.5]
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: web-b
  namespace: apps
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports:
  - { name: http, port: 8080 }
endpoints:
  - addresses: [10.0.0.1, 10.0.0.6]
    conditions: { ready: true }
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: web-v6
  namespace: apps
  labels: { kubernetes.io/service-name: web }
addressType: IPv6
ports:
  - { name: http, port: 8080 }
endpoints:
  - addresses: ["fd00::7"]
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: web-fqdn
  namespace: apps
  labels: { kubernetes.io/service-name: web }
addressType: FQDN
ports:
  - { name: http, port: 8080 }
endpoints:
  - addresses: [pod.example.com]
---
kind: Service
apiVersion: v1
metadata: { name: single, namespace: apps }
spec:
  clusterIP: None
  ports:
    - { port: 80 }
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: single-a
  namespace: apps
  labels: { kubernetes.io/service-name: single }
addressType: IPv4
ports:
  - { name: "", port: 3000 }
endpoints:
  - addresses: [10.1.0.1]
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: single-nil-name
  namespace: apps
  labels: { kubernetes.io/service-name: single }
addressType: IPv4
ports:
  - { port: 3001 }
endpoints:
  - addresses: [10.1.0.2]
---
kind: Service
apiVersion: v1
metadata: { name: idle, namespace: apps }
spec:
  clusterIP: 10.96.0.11
  ports: [{ port: 80 }]
---
kind: Service
apiVersion: v1
metadata: { name: draining, namespace: apps }
spec:
  ports: [{ port: 80 }]
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: draining-a
  namespace: apps
  labels: { kubernetes.io/service-name: draining }
addressType: IPv4
ports: [{ name: "", port: 80 }]
endpoints:
  - addresses: [10.2.0.1]
    conditions: { ready: false, serving: true, terminating: true }
---
kind: Service
apiVersion: v1
metadata: { name: external, namespace: apps }
spec:
  type: ExternalName
  externalName: api.example.com
---
kind: Service
apiVersion: v1
metadata: { name: np, namespace: apps }
spec:
  type: NodePort
  clusterIP: fd00:96::1
  ports: [{ name: web, port: 80, nodePort: 30080 }]
---
kind: Node
apiVersion: v1
metadata: { name: n1 }
status:
  addresses:
    - { type: InternalIP, address: 192.168.1.1 }
    - { type: ExternalIP, address: 203.0.113.1 }
    - { type: Hostname, address: n1 }
---
kind: Node
apiVersion: v1
metadata: { name: n2 }
status:
  addresses:
    - { type: InternalIP, address: 192.168.1.2 }
`);

const ref = (name: string, port?: number | string, extra: Partial<ServiceBackendRef> = {}) => ({
  namespace: 'apps',
  name,
  ...(port !== undefined ? { port } : {}),
  ...extra,
});

function ok(r: BackendResult): ResolvedBackend {
  if (!r.ok) throw new Error(`expected a backend, got ${r.field}: ${r.message}`);
  return r.backend;
}

describe('resolveServiceBackend: endpoints', () => {
  it('takes ready endpoints of every slice of the service, deduplicated, IPv6 bracketed in URLs', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('web', 80), OPTS));
    expect(b.source).toBe('endpoints');
    expect(b.servicePort).toEqual({ name: 'http', port: 80 });
    expect(serverUrls(b)).toEqual([
      'http://10.0.0.1:8080',
      'http://10.0.0.5:8080',
      'http://10.0.0.6:8080',
      'http://[fd00::7]:8080',
    ]);
    expect(serverAddresses(b)).toEqual([
      '10.0.0.1:8080',
      '10.0.0.5:8080',
      '10.0.0.6:8080',
      '[fd00::7]:8080',
    ]);
  });

  it('keeps a terminating but still serving endpoint as data only (fenced), out of rotation', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('web', 'http'), OPTS));
    expect(b.addresses).toContainEqual({ host: '10.0.0.2', port: 8080, fenced: true });
    expect(b.addresses.map((a) => a.host)).not.toContain('10.0.0.3');
    expect(b.addresses.map((a) => a.host)).not.toContain('10.0.0.4');
    expect(serverUrls(b)).not.toContain('http://10.0.0.2:8080');
  });

  it('matches the slice port by the service port name: a named port picks its own target port', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('web', 'https-api'), OPTS));
    expect(b.servicePort).toEqual({ name: 'https-api', port: 8443 });
    // only web-a carries https-api; its name starts with "https": Traefik's https rule
    expect(serverUrls(b)).toEqual(['https://10.0.0.1:9443', 'https://10.0.0.5:9443']);
    expect(serverUrls(b, 'h2c')).toEqual(['h2c://10.0.0.1:9443', 'h2c://10.0.0.5:9443']);
  });

  it('an unnamed port matches slice ports named "" only (a slice port without a name is skipped, as in Traefik)', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('single'), OPTS));
    expect(serverUrls(b)).toEqual(['http://10.1.0.1:3000']);
  });

  it('port 443 means https', () => {
    const view = viewOf({
      Service: [svc('tls', { ports: [{ port: 443 }] })],
      EndpointSlice: [slice('tls', [{ name: '', port: 8443 }], ['10.3.0.1'])],
    });
    expect(serverUrls(ok(resolveServiceBackend(view, ref('tls'), OPTS)))).toEqual([
      'https://10.3.0.1:8443',
    ]);
  });
});

describe('resolveServiceBackend: errors name the service and the port', () => {
  it.each([
    ['a missing service', ref('nope', 80), 'name', /service apps\/nope not found/],
    ['an unknown port number', ref('web', 81), 'port', /port 81 .*apps\/web/],
    ['an unknown port name', ref('web', 'grpc'), 'port', /port "grpc" .*apps\/web/],
    ['no port on a service with several', ref('web'), 'port', /several ports.*http.*https-api/],
    ['a port out of range', ref('web', 70000), 'port', /port 70000/],
    ['an empty port name', ref('web', ''), 'port', /port/],
  ])('%s', (_desc, r, field, message) => {
    const res = resolveServiceBackend(CLUSTER, r, OPTS);
    expect(res).toMatchObject({ ok: false, field });
    expect(!res.ok && res.message).toMatch(message);
  });
});

describe('resolveServiceBackend: no endpoint in rotation', () => {
  it('is refused without allowEmptyServices (Traefik drops the router: 404)', () => {
    const res = resolveServiceBackend(CLUSTER, ref('idle', 80), OPTS);
    expect(res).toMatchObject({ ok: false, field: 'name' });
    expect(!res.ok && res.message).toMatch(/no endpoints? .*apps\/idle/);
  });

  it('is a backend without servers with allowEmptyServices (Traefik keeps the service: 503)', () => {
    const b = ok(
      resolveServiceBackend(CLUSTER, ref('idle', 80), { ...OPTS, allowEmptyServices: true }),
    );
    expect(b.addresses).toEqual([]);
    expect(serverUrls(b)).toEqual([]);
  });

  it('only terminating endpoints: the service exists (as in Traefik, whose fenced servers take no new requests), with no server in rotation', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('draining', 80), OPTS));
    expect(b.addresses).toEqual([{ host: '10.2.0.1', port: 80, fenced: true }]);
    expect(serverUrls(b)).toEqual([]);
  });
});

describe('resolveServiceBackend: ExternalName, nativeLB, nodePortLB', () => {
  it('refuses ExternalName services unless allowed', () => {
    const res = resolveServiceBackend(CLUSTER, ref('external', 443), OPTS);
    expect(res).toMatchObject({ ok: false, field: 'name' });
    expect(!res.ok && res.message).toMatch(/externalName services not allowed: apps\/external/);
  });

  it('dials the external name on the port asked for (an ExternalName service may list no ports)', () => {
    const b = ok(
      resolveServiceBackend(CLUSTER, ref('external', 443), {
        ...OPTS,
        allowExternalNameServices: true,
      }),
    );
    expect(b.source).toBe('externalName');
    expect(serverUrls(b)).toEqual(['https://api.example.com:443']);
  });

  it('nativeLB dials the ClusterIP on the service port', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('web', 'http', { nativeLB: true }), OPTS));
    expect(b.source).toBe('clusterIP');
    expect(serverUrls(b)).toEqual(['http://10.96.0.10:80']);
  });

  it('nativeLBByDefault applies unless the reference says nativeLB: false', () => {
    const native = { ...OPTS, nativeLBByDefault: true };
    expect(ok(resolveServiceBackend(CLUSTER, ref('web', 80), native)).source).toBe('clusterIP');
    expect(
      ok(resolveServiceBackend(CLUSTER, ref('web', 80, { nativeLB: false }), native)).source,
    ).toBe('endpoints');
  });

  it('refuses nativeLB on a headless service', () => {
    const res = resolveServiceBackend(CLUSTER, ref('single', 80, { nativeLB: true }), OPTS);
    expect(res).toMatchObject({ ok: false });
    expect(!res.ok && res.message).toMatch(/headless service: apps\/single/);
  });

  it('nodePortLB dials the internal IP of every node on the node port', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('np', 'web', { nodePortLB: true }), OPTS));
    expect(b.source).toBe('nodePort');
    expect(serverAddresses(b)).toEqual(['192.168.1.1:30080', '192.168.1.2:30080']);
  });

  it('nodePortLB is refused when cluster-scope lookups are disabled', () => {
    const res = resolveServiceBackend(CLUSTER, ref('np', 80, { nodePortLB: true }), {
      ...OPTS,
      disableClusterScopeResources: true,
    });
    expect(res).toMatchObject({ ok: false, field: 'nodePortLB' });
  });

  it('nativeLB on an IPv6 ClusterIP brackets the address', () => {
    const b = ok(resolveServiceBackend(CLUSTER, ref('np', 80, { nativeLB: true }), OPTS));
    expect(serverUrls(b)).toEqual(['http://[fd00:96::1]:80']);
  });
});

describe('resolveServiceBackend: hostile objects never throw', () => {
  const hostile: [string, KubeObject[], KubeObject[]][] = [
    ['spec is a string', [{ metadata: { name: 'h', namespace: 'apps' }, spec: 'x' }], []],
    ['ports is an object', [svc('h', { ports: { port: 80 } })], []],
    ['a port is null', [svc('h', { ports: [null, { port: 'eighty' }] })], []],
    [
      'slice garbage',
      [svc('h', { ports: [{ port: 80 }] })],
      [
        {
          metadata: { name: 's', namespace: 'apps', labels: { 'kubernetes.io/service-name': 'h' } },
          addressType: 'IPv4',
          ports: 'x',
          endpoints: [null, 3, { addresses: 'a' }],
        },
        {
          metadata: { name: 't', namespace: 'apps', labels: { 'kubernetes.io/service-name': 'h' } },
          addressType: 'IPv4',
          ports: [{ name: '', port: 99999 }],
          endpoints: [{ addresses: ['10.0.0.1'] }],
        },
        {
          metadata: { name: 'u', namespace: 'apps', labels: { 'kubernetes.io/service-name': 'h' } },
          addressType: 'IPv4',
          ports: [{ name: '', port: 80 }],
          endpoints: [{ addresses: [42, 'not-an-ip', '10.0.0.1`', 'fd00::1'], conditions: 'x' }],
        },
      ],
    ],
  ];
  it.each(hostile)('%s', (_d, services, slices) => {
    const view = viewOf({ Service: services, EndpointSlice: slices });
    for (const r of [ref('h'), ref('h', 80), ref('h', 'x', { nativeLB: true })]) {
      const res = resolveServiceBackend(view, r, { ...OPTS, allowEmptyServices: true });
      if (res.ok) expect(serverUrls(res.backend)).toEqual([]);
      else expect(res.message).toMatch(/apps\/h/);
    }
  });
});

function svc(name: string, spec: unknown): KubeObject {
  return { metadata: { name, namespace: 'apps' }, spec };
}

function slice(service: string, ports: unknown[], addresses: string[]): KubeObject {
  return {
    metadata: {
      name: `${service}-x`,
      namespace: 'apps',
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType: 'IPv4',
    ports,
    endpoints: [{ addresses, conditions: { ready: true } }],
  };
}
