/*
 * Which API server the providers talk to, and as whom — Traefik's order
 * (pkg/provider/kubernetes/{ingress,crd}/client.go):
 *
 *   1. in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set):
 *      the service account's token and CA; `endpoint` replaces the address;
 *   2. else KUBECONFIG (a path, or several separated by ':') when set;
 *   3. else `endpoint` (default http://localhost:8080, as Traefik), with
 *      `token` and `certAuthFilePath` when given.
 *
 * An `http://` endpoint (kubectl proxy, tests) needs client-node's
 * skipTLSVerify, which it refuses plain HTTP without; nothing is verified
 * on plain HTTP anyway. `token` is never logged (describeClient() leaves it out).
 */
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeClientOptions {
  endpoint?: string | undefined;
  token?: string | undefined;
  certAuthFilePath?: string | undefined;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type ClientMode = 'in-cluster' | 'kubeconfig' | 'endpoint';

export interface KubeClient {
  kc: KubeConfig;
  mode: ClientMode;
  /** the API server's address, for logs and `portico check` */
  server: string;
}

export function createKubeClient(
  opts: KubeClientOptions,
  env: NodeJS.ProcessEnv = process.env,
  /** a directory standing for `/` when looking for the service account (tests) */
  root = '',
): KubeClient {
  const kc = new KubeConfig();
  if (
    env.KUBERNETES_SERVICE_HOST &&
    env.KUBERNETES_SERVICE_PORT &&
    existsSync(`${root}${SA_DIR}/token`)
  ) {
    withEnv(env, () => kc.loadFromCluster(root));
    if (opts.endpoint) {
      const cluster = kc.getCurrentCluster();
      if (cluster) replaceCluster(kc, { ...cluster, server: trimSlash(opts.endpoint) });
    }
    return { kc, mode: 'in-cluster', server: kc.getCurrentCluster()?.server ?? '' };
  }
  if (env.KUBECONFIG && !opts.endpoint) {
    withEnv(env, () => kc.loadFromDefault());
    return { kc, mode: 'kubeconfig', server: kc.getCurrentCluster()?.server ?? '' };
  }
  const server = trimSlash(opts.endpoint ?? 'http://localhost:8080');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`kubernetes: endpoint ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`kubernetes: endpoint ${server} must be http:// or https://`);
  kc.loadFromOptions({
    clusters: [
      {
        name: 'portico',
        server,
        skipTLSVerify: url.protocol === 'http:',
        ...(opts.certAuthFilePath ? { caFile: opts.certAuthFilePath } : {}),
      },
    ],
    users: [{ name: 'portico', ...userAuth(opts.token) }],
    contexts: [{ name: 'portico', cluster: 'portico', user: 'portico' }],
    currentContext: 'portico',
  });
  return { kc, mode: 'endpoint', server };
}

/**
 * `token` is the token itself or, as Traefik's FileOrContent, the path of a
 * file holding it (read once, at start; trailing newlines removed — client-node's
 * own tokenFile provider sends them and fetch refuses the header). In a pod
 * the service account's projected token is re-read by client-node.
 */
function userAuth(token: string | undefined): object {
  if (!token) return {};
  if (!token.includes('\n') && token.startsWith('/') && existsSync(token))
    return { token: readFileSync(token, 'utf8').trim() };
  return { token: token.trim() };
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function replaceCluster(
  kc: KubeConfig,
  cluster: NonNullable<ReturnType<KubeConfig['getCurrentCluster']>>,
): void {
  kc.loadFromClusterAndUser(cluster, kc.getCurrentUser() ?? { name: 'inClusterUser' });
}

/** client-node reads process.env itself; run it against the given env (tests pass their own). */
function withEnv(env: NodeJS.ProcessEnv, fn: () => void): void {
  if (env === process.env) return fn();
  const saved = { ...process.env };
  const keys = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBECONFIG'];
  try {
    for (const k of keys) {
      if (env[k] === undefined) delete process.env[k];
      else process.env[k] = env[k];
    }
    fn();
  } finally {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}
