/*
 * The watch set against a misbehaving API server (the in-test one, through
 * the real client): lists and watches that hang, failures, quiet watches.
 * What must hold: the view never loses the objects it had, and changes made
 * after the fault are seen once the server answers again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WatchSet } from '../../providers/kubernetes/watch.js';
import { INGRESS, SERVICE } from '../../providers/kubernetes/resources.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { eventually } from '../helpers/eventually.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function svc(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: 'apps', name },
    spec: { ports: [{ port: 80 }] },
  };
}

async function setup(
  opts: { requestTimeoutMs?: number; idleMs?: number } = {},
  before?: (s: KubeApiServer) => void,
): Promise<{ server: KubeApiServer; set: WatchSet; started: Promise<void>; names(): string[] }> {
  const server = await startKubeApiServer();
  cleanups.push(() => server.stop());
  server.create('Service', svc('one'));
  before?.(server);
  const set = new WatchSet({
    kc: server.kubeConfig(),
    resources: [SERVICE, INGRESS],
    namespaces: [],
    logger: quiet,
    onChange: () => {},
    backoffMs: 50,
    maxBackoffMs: 200,
    ...opts,
  });
  cleanups.push(() => set.stop());
  const started = set.start();
  const names = (): string[] =>
    set
      .view()
      .list('Service')
      .map((o) => o.metadata.name);
  return { server, set, started, names };
}

describe('Kubernetes watches against a misbehaving API server', () => {
  it('a list that never answers is abandoned; the others start, and it catches up', async () => {
    const { server, started, names, set } = await setup({ requestTimeoutMs: 1500 }, (s) =>
      s.failNext({
        method: 'GET',
        path: '/api/v1/services',
        watch: false,
        status: 200,
        hang: true,
      }),
    );
    // start() does not wait for ever on the hung list
    await started;
    server.create('Service', svc('two'));
    await eventually(() => expect(names()).toEqual(['one', 'two']), { timeoutMs: 15_000 });
    await eventually(() => expect(set.connected()).toBe(true), { timeoutMs: 15_000 });
  });

  it('a watch that never starts is replaced; changes after it are seen', async () => {
    const { server, started, names } = await setup({ requestTimeoutMs: 1500 }, (s) =>
      s.failNext({ path: '/api/v1/services', watch: true, status: 200, hang: true }),
    );
    await started;
    // the listed object is there even while the watch hangs
    expect(names()).toEqual(['one']);
    server.create('Service', svc('two'));
    await eventually(() => expect(names()).toEqual(['one', 'two']), { timeoutMs: 15_000 });
  });

  it('a quiet informer is replaced without the view ever losing its objects', async () => {
    const { server, started, names } = await setup({ idleMs: 300 });
    await started;
    const lists = (): number =>
      server.requests.filter((r) => r.path === '/api/v1/services' && !r.watch).length;
    const before = lists();
    // replacements happen (a new list each) and the view is never empty meanwhile
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      expect(names()).toEqual(['one']);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lists()).toBeGreaterThan(before);
    server.create('Service', svc('two'));
    await eventually(() => expect(names()).toEqual(['one', 'two']));
  });

  it('5xx answers: the objects stay, the watch comes back with backoff', async () => {
    const { server, started, names, set } = await setup();
    await started;
    server.failNext({ path: '/api/v1/services', status: 500, times: 3 });
    server.closeWatches();
    server.create('Service', svc('two'));
    expect(names()).toContain('one');
    await eventually(() => expect(names()).toEqual(['one', 'two']), { timeoutMs: 15_000 });
    await eventually(() => expect(set.connected()).toBe(true));
  });
});
