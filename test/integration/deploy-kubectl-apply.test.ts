/*
 * `kubectl apply` of the deployment artefacts (issue 14 item 8, "kubectl
 * applying deploy/kubernetes to the test API server is a plus"): the real
 * kubectl (test/helpers/helm.ts) against the fake API server of
 * test/helpers/kube-apiserver.ts. It shows that kubectl accepts the files as
 * a user applies them (kustomize, discovery, create, then a second apply that
 * patches) and that the chart's rendering applies the same way.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubeTools, ROOT, type KubeTools } from '../helpers/helm.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

// async: the fake API server runs in this process and must answer while kubectl waits
const run = promisify(execFile);

const tools = await kubeTools();
const skip = 'unavailable' in tools;
if (skip) console.warn(`kubectl apply checks skipped: ${tools.unavailable}`);

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: any;
}

describe.skipIf(skip)('kubectl apply to a (fake) API server', () => {
  const { helm, kubectl } = tools as KubeTools;
  let server: KubeApiServer;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-apply-'));
  const kubeconfig = path.join(dir, 'kubeconfig');

  beforeAll(async () => {
    server = await startKubeApiServer();
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: server.url } }],
        users: [{ name: 'test', user: { token: 'test' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'test' } }],
        'current-context': 'fake',
      }),
    );
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const kubectlRun = async (...args: string[]): Promise<string> => {
    try {
      const out = await run(kubectl, ['--kubeconfig', kubeconfig, ...args], { timeout: 60_000 });
      return out.stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`kubectl ${args.join(' ')}: ${e.stderr || e.message}`, { cause: err });
    }
  };
  const stored = (o: Obj) => server.get(o.kind, o.metadata.namespace, o.metadata.name) as Obj;

  it('applies deploy/kubernetes with -k, twice', async () => {
    const rendered = await kubectlRun('kustomize', path.join(ROOT, 'deploy/kubernetes'));
    const objects = parseAllDocuments(rendered).map((d) => d.toJS() as Obj);

    const first = await kubectlRun('apply', '-k', path.join(ROOT, 'deploy/kubernetes'));
    expect(first.trim().split('\n')).toHaveLength(objects.length);
    expect(first).not.toMatch(/unchanged|configured/);
    for (const o of objects) expect(stored(o), `${o.kind}/${o.metadata.name}`).toBeDefined();
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    expect(stored(deployment).spec).toEqual(deployment.spec);

    // a second apply (an upgrade with nothing changed) goes through too
    const second = await kubectlRun('apply', '-k', path.join(ROOT, 'deploy/kubernetes'));
    expect(second).not.toMatch(/created/);
  });

  it("applies the Helm chart's rendering next to it", async () => {
    const rendered = (
      await run(helm, ['template', 'edge', path.join(ROOT, 'deploy/helm/portico'), '-n', 'edge'])
    ).stdout;
    const file = path.join(dir, 'chart.yaml');
    // helm install --create-namespace would create it
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: edge }\n---\n${rendered}`,
    );
    await kubectlRun('apply', '-f', file);
    for (const d of parseAllDocuments(rendered)) {
      const o = d.toJS() as Obj | null;
      if (o) expect(stored(o), `${o.kind}/${o.metadata.name}`).toBeDefined();
    }
  });

  it('applies the chart with the Gateway API and ingress-nginx providers: its GatewayClass and Gateway too', async () => {
    const rendered = (
      await run(helm, [
        'template',
        'gw',
        path.join(ROOT, 'deploy/helm/portico'),
        '-n',
        'gw',
        '--set',
        'providers.kubernetesGateway.enabled=true',
        '--set',
        'providers.kubernetesIngressNGINX.enabled=true',
        // a second release next to the first: its own IngressClass name
        '--set',
        'ingressClass.name=portico-gw',
        '--set',
        'gatewayClass.name=portico-gw',
      ])
    ).stdout;
    const objects = parseAllDocuments(rendered)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['GatewayClass', 'Gateway']));
    const file = path.join(dir, 'chart-gateway.yaml');
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: gw }\n---\n${rendered}`,
    );
    await kubectlRun('apply', '-f', file);
    for (const o of objects) expect(stored(o), `${o.kind}/${o.metadata.name}`).toBeDefined();
    const gateway = objects.find((o) => o.kind === 'Gateway')!;
    expect(stored(gateway).spec).toEqual(gateway.spec);
  });
});
