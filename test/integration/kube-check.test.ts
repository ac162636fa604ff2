/*
 * `portico check --kubernetes`: the Kubernetes providers' verdict on a
 * cluster (the in-test API server, through the real client) or on manifest
 * files, each object that cannot be translated named with kind,
 * namespace/name, field and reason; exit 1 when any is an error.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startKubeApiServer } from '../helpers/kube-apiserver.js';
import { runPortico } from '../helpers/process.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const GOOD = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: apps }
spec:
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web, namespace: apps }
spec:
  rules:
    - host: web.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: { service: { name: web, port: { number: 80 } } }
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: { name: api, namespace: apps }
spec:
  entryPoints: [web]
  routes:
    - kind: Rule
      match: Host(\`api.example.com\`)
      services: [{ name: web, port: 80 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: apps }
spec: {}
`;

const BAD = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: broken, namespace: apps }
spec:
  rules:
    - host: broken.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: { service: { name: web, port: { name: grpc } } }
`;

function manifests(...docs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-kcheck-'));
  docs.forEach((d, i) => writeFileSync(join(dir, `m${i}.yaml`), d));
  return dir;
}

describe('portico check --kubernetes', () => {
  it('manifests that translate: exit 0, what was read is summed up', async () => {
    const p = runPortico(['check', '--kubernetes', `--manifests=${manifests(GOOD)}`]);
    const exit = await p.exit;
    expect(p.stdout()).toMatch(/3 objects read, 1 of other kinds skipped/);
    expect(p.stdout()).toMatch(/kubernetes: 0 diagnostics/);
    expect(exit.code).toBe(0);
  });

  it('a broken Ingress in manifests: named with its field and reason, exit 1', async () => {
    const p = runPortico(['check', '--kubernetes', `--manifests=${manifests(GOOD, BAD)}`]);
    const exit = await p.exit;
    expect(p.stdout()).toMatch(
      /kubernetes error: Ingress apps\/broken: spec\.rules\[0\]\.http\.paths\[0\]\.backend\.service\.port[^:]*: .*grpc/,
    );
    expect(exit.code).toBe(1);
  });

  it('a YAML document that does not parse is reported with its file, the rest is read', async () => {
    const p = runPortico([
      'check',
      '--kubernetes',
      `--manifests=${manifests(GOOD, 'kind: [oops')}`,
    ]);
    const exit = await p.exit;
    expect(p.stdout()).toMatch(/kubernetes error: .*m1\.yaml: /);
    expect(p.stdout()).toMatch(/3 objects read/);
    expect(exit.code).toBe(1);
  });

  it('reads a cluster through the API server of the static configuration', async () => {
    const server = await startKubeApiServer();
    cleanups.push(() => server.stop());
    server.create('Service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'apps', name: 'web' },
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    server.create('Ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { namespace: 'apps', name: 'nosvc' },
      spec: {
        rules: [
          {
            host: 'x.test',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'missing', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    const p = runPortico([
      'check',
      '--kubernetes',
      `--providers.kubernetesIngress.endpoint=${server.url}`,
    ]);
    const exit = await p.exit;
    expect(p.stdout()).toContain(`kubernetes: API server ${server.url} (endpoint)`);
    expect(p.stdout()).toMatch(/kubernetes error: Ingress apps\/nosvc: spec\.rules\[0\].*missing/);
    expect(exit.code).toBe(1);
    // only lists: a check never watches or writes
    expect(server.requests.every((r) => r.method === 'GET' && !r.watch)).toBe(true);
  });

  it('an API server that does not answer: a clear error and exit 1', async () => {
    const p = runPortico([
      'check',
      '--kubernetes',
      '--providers.kubernetesIngress.endpoint=http://127.0.0.1:1',
    ]);
    const exit = await p.exit;
    expect(p.stdout()).toMatch(/kubernetes error: cannot list ingresses\.networking\.k8s\.io/);
    expect(exit.code).toBe(1);
  });
});
