import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKubeClient } from '../../providers/kubernetes/client.js';

/** what the client would send: the server and the Authorization header */
async function requestOf(kc: ReturnType<typeof createKubeClient>['kc']): Promise<{
  server: string | undefined;
  auth: string | undefined;
}> {
  const opts = (await kc.applyToFetchOptions({})) as { headers?: Headers };
  return {
    server: kc.getCurrentCluster()?.server,
    auth: opts.headers?.get('authorization') ?? undefined,
  };
}

describe('which API server the Kubernetes providers talk to (Traefik order)', () => {
  it('defaults to http://localhost:8080 outside a cluster, as Traefik', async () => {
    const c = createKubeClient({}, {});
    expect(c.mode).toBe('endpoint');
    expect(c.server).toBe('http://localhost:8080');
    // plain HTTP works (client-node refuses it unless skipTLSVerify is set)
    expect(c.kc.getCurrentCluster()?.skipTLSVerify).toBe(true);
  });

  it('takes endpoint and token (kubectl proxy, a remote API server)', async () => {
    const c = createKubeClient({ endpoint: 'http://127.0.0.1:8001/', token: 's3cret' }, {});
    const r = await requestOf(c.kc);
    expect(r.server).toBe('http://127.0.0.1:8001');
    expect(r.auth).toBe('Bearer s3cret');
  });

  it('token may be the path of a file holding it (Traefik FileOrContent)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-tok-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'first\n');
    const c = createKubeClient({ endpoint: 'http://127.0.0.1:8001', token: file }, {});
    expect((await requestOf(c.kc)).auth).toBe('Bearer first');
  });

  it('an https endpoint is verified, against certAuthFilePath when given', () => {
    const c = createKubeClient(
      { endpoint: 'https://10.0.0.1:6443', certAuthFilePath: '/etc/ca.crt' },
      {},
    );
    const cluster = c.kc.getCurrentCluster();
    expect(cluster?.skipTLSVerify).toBe(false);
    expect(cluster?.caFile).toBe('/etc/ca.crt');
  });

  it('refuses an endpoint that is not an http(s) URL, naming it', () => {
    expect(() => createKubeClient({ endpoint: 'localhost:8080' }, {})).toThrow(/endpoint/);
    expect(() => createKubeClient({ endpoint: 'ftp://x' }, {})).toThrow(/http:\/\/ or https:\/\//);
  });

  it('in a pod: the service account token and CA, endpoint overriding the address', async () => {
    const root = mkdtempSync(join(tmpdir(), 'portico-sa-'));
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'pod-token');
    writeFileSync(join(sa, 'ca.crt'), 'ca');
    writeFileSync(join(sa, 'namespace'), 'portico');
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const c = createKubeClient({}, env, root);
    expect(c.mode).toBe('in-cluster');
    expect(c.server).toBe('https://10.96.0.1:443');
    expect(c.kc.getCurrentCluster()?.caFile).toBe(join(sa, 'ca.crt'));
    expect((await requestOf(c.kc)).auth).toBe('Bearer pod-token');

    const o = createKubeClient({ endpoint: 'https://api.internal:6443' }, env, root);
    expect(o.server).toBe('https://api.internal:6443');
    expect((await requestOf(o.kc)).auth).toBe('Bearer pod-token');
  });

  it('KUBECONFIG outside a pod', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-kc-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://k8s.example:6443"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const c = createKubeClient({}, { KUBECONFIG: file });
    expect(c.mode).toBe('kubeconfig');
    expect(c.server).toBe('https://k8s.example:6443');
    // an explicit endpoint wins over KUBECONFIG
    expect(createKubeClient({ endpoint: 'http://127.0.0.1:1' }, { KUBECONFIG: file }).mode).toBe(
      'endpoint',
    );
  });
});
