/*
 * `portico migrate ingress-nginx`: the report a team reads before switching
 * from ingress-nginx, from manifest files or from a cluster (the in-test API
 * server through the real client): per nginx-class Ingress, each annotation
 * with what Portico does with it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startKubeApiServer } from '../helpers/kube-apiserver.js';
import { runPortico } from '../helpers/process.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

// ingress-nginx's docs/examples/rewrite, plus a snippet and an unsupported annotation
const REWRITE = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rewrite
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/rewrite-target: /$2
spec:
  ingressClassName: nginx
  rules:
    - host: rewrite.bar.com
      http:
        paths:
          - path: /something(/|$)(.*)
            pathType: ImplementationSpecific
            backend: { service: { name: http-svc, port: { number: 80 } } }
`;
const SNIPPET = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: snippet
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/configuration-snippet: |
      more_set_headers "Request-Id: $req_id";
spec:
  ingressClassName: nginx
  rules:
    - host: snippet.bar.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: { service: { name: http-svc, port: { number: 80 } } }
`;
const NOT_NGINX = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: other, namespace: default }
spec:
  ingressClassName: traefik
  rules: [{ host: other.test }]
`;

describe('portico migrate ingress-nginx', () => {
  it('reads manifests: per Ingress, each annotation supported, approximated or refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-migrate-'));
    writeFileSync(join(dir, 'all.yaml'), [REWRITE, SNIPPET, NOT_NGINX].join('\n---\n'));
    const p = runPortico(['migrate', 'ingress-nginx', `--manifests=${dir}`]);
    const exit = await p.exit;
    const out = p.stdout();
    expect(exit.code).toBe(0);
    expect(out).toMatch(/Ingress default\/rewrite: served/);
    expect(out).toMatch(/supported +nginx\.ingress\.kubernetes\.io\/rewrite-target="\/\$2"/);
    expect(out).toMatch(/Ingress default\/snippet: NOT SERVED/);
    expect(out).toMatch(/refused +nginx\.ingress\.kubernetes\.io\/configuration-snippet=/);
    expect(out).toMatch(/CVE-2025-1974/);
    // an Ingress of another class is not part of the migration
    expect(out).not.toMatch(/default\/other/);
  });

  it('reads the cluster of the static configuration', async () => {
    const server = await startKubeApiServer();
    cleanups.push(() => server.stop());
    server.create('Ingress', parse(REWRITE) as Record<string, unknown>);
    const p = runPortico([
      'migrate',
      'ingress-nginx',
      `--providers.kubernetesIngressNGINX.endpoint=${server.url}`,
    ]);
    const exit = await p.exit;
    expect(p.stdout()).toContain(`kubernetes: API server ${server.url} (endpoint)`);
    expect(p.stdout()).toMatch(/Ingress default\/rewrite: served/);
    expect(exit.code).toBe(0);
    expect(server.requests.every((r) => r.method === 'GET' && !r.watch)).toBe(true);
  });

  it('anything but ingress-nginx: usage, exit 2', async () => {
    const p = runPortico(['migrate', 'haproxy']);
    expect((await p.exit).code).toBe(2);
    expect(p.stderr()).toMatch(/usage: portico migrate ingress-nginx/);
  });
});
