/*
 * The Docker provider against a real Docker engine (a private dockerd started
 * here, recipe in test/helpers/dockerd.ts). Containers run busybox httpd with
 * --network host on 127.0.0.1 ports; traffic goes to loopback only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { eventually } from '../helpers/eventually.js';
import { skipDocker, startDockerd, TEST_IMAGE, type Dockerd } from '../helpers/dockerd.js';
import { testStaticConfig } from '../helpers/portico.js';
import { runPortico } from '../helpers/process.js';
import { freePort, request } from '../helpers/http.js';
import { createRouterServer, type RouterServer } from '../../src/routing/router-server.js';
import { Aggregator } from '../../src/config/aggregate.js';
import { createDockerProvider, type DockerProvider } from '../../providers/docker/index.js';

const skip = skipDocker();

async function get(port: number, host: string): Promise<{ status: number; body: string }> {
  const { status, body } = await request(`http://127.0.0.1:${port}/`, { headers: { host } });
  return { status, body };
}

describe.skipIf(skip)('docker provider (real engine)', () => {
  let d: Dockerd;
  let router: RouterServer;
  let provider: DockerProvider;
  let port: number;
  const abort = new AbortController();
  let providerDone: Promise<void>;

  /** a busybox httpd container on the host network, serving its name on 127.0.0.1:<p> */
  async function runWeb(
    name: string,
    labels: Record<string, string>,
    extra: string[] = [],
  ): Promise<number> {
    const p = await freePort();
    const args = ['run', '-d', '--name', name, '--network', 'host'];
    for (const [k, v] of Object.entries(labels))
      args.push('--label', `${k}=${v.replace('{PORT}', String(p))}`);
    args.push(
      ...extra,
      TEST_IMAGE,
      'sh',
      '-c',
      `mkdir -p /w && echo ${name} > /w/index.html && exec httpd -f -p 127.0.0.1:${p} -h /w`,
    );
    d.docker(...args);
    return p;
  }

  beforeAll(async () => {
    d = await startDockerd();
    const sc = testStaticConfig();
    router = createRouterServer({ staticConfig: sc, logger: pino({ level: 'silent' }) });
    port = (await router.listen()).web!.port;
    const aggregator = new Aggregator({
      throttleMs: 50,
      onConfig: (m) => router.applyConfig(m.config, m.errors),
    });
    provider = createDockerProvider({
      endpoint: `unix://${d.socket}`,
      exposedByDefault: true,
      defaultRule: 'Host(`{{ normalize .Name }}.docker.test`)',
      watch: true,
      allowEmptyServices: false,
      tls: { insecureSkipVerify: false },
      logger: pino({ level: 'silent' }),
    });
    providerDone = provider.start((s) => aggregator.update(s), abort.signal);
  }, 120_000);

  afterAll(async () => {
    abort.abort();
    await providerDone;
    await router?.shutdown(100);
    await d?.destroy();
  }, 120_000);

  it('routes a labelled container within 2 s of docker run, and stops routing when it stops', async () => {
    await runWeb('alpha', {
      'traefik.http.routers.alpha.rule': 'Host(`alpha.test`)',
      'traefik.http.services.alpha.loadbalancer.server.port': '{PORT}',
    });
    const started = Date.now();
    await eventually(
      async () => expect(await get(port, 'alpha.test')).toEqual({ status: 200, body: 'alpha\n' }),
      {
        timeoutMs: 2000,
      },
    );
    expect(Date.now() - started).toBeLessThan(2000);
    d.docker('stop', '-t', '1', 'alpha');
    await eventually(async () => expect((await get(port, 'alpha.test')).status).toBe(404), {
      timeoutMs: 5000,
    });
  });

  it('takes a stopping replica out before it refuses connections: no request fails during docker stop', async () => {
    const labels = {
      'com.docker.compose.project': 'calm',
      'com.docker.compose.service': 'api',
      'traefik.http.routers.calm.rule': 'Host(`calm.test`)',
      'traefik.http.services.calm.loadbalancer.server.port': '{PORT}',
    };
    await runWeb('calm-1', labels);
    // this replica keeps serving for 1 s after SIGTERM, like a well-behaved app draining
    const p = await freePort();
    const args = ['run', '-d', '--name', 'calm-2', '--network', 'host'];
    for (const [k, v] of Object.entries(labels))
      args.push('--label', `${k}=${v.replace('{PORT}', String(p))}`);
    args.push(
      TEST_IMAGE,
      'sh',
      '-c',
      `mkdir -p /w && echo calm-2 > /w/index.html; httpd -f -p 127.0.0.1:${p} -h /w & pid=$!; trap "sleep 1; kill $pid; exit 0" TERM; wait $pid`,
    );
    d.docker(...args);
    await eventually(
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 4; i++) seen.add((await get(port, 'calm.test')).body.trim());
        expect([...seen].sort()).toEqual(['calm-1', 'calm-2']);
      },
      { timeoutMs: 5000 },
    );
    const statuses: number[] = [];
    let stop = false;
    const load = (async () => {
      const deadline = Date.now() + 10_000;
      while (!stop && Date.now() < deadline && statuses.length < 5000)
        statuses.push((await get(port, 'calm.test')).status);
    })();
    await d.dockerAsync('stop', '-t', '5', 'calm-2');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await load;
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((x) => x !== 200)).toEqual([]);
    expect((await get(port, 'calm.test')).body).toBe('calm-1\n');
  });

  it('uses the default rule for a container with only a port label (portico. prefix)', async () => {
    await runWeb('beta-web', { 'portico.http.services.b.loadbalancer.server.port': '{PORT}' });
    await eventually(
      async () =>
        expect(await get(port, 'beta-web.docker.test')).toEqual({
          status: 200,
          body: 'beta-web\n',
        }),
      {
        timeoutMs: 3000,
      },
    );
  });

  it('shares traffic between three replicas of one compose service', async () => {
    const names = ['replica-1', 'replica-2', 'replica-3'];
    for (const n of names) {
      await runWeb(n, {
        'com.docker.compose.project': 'shop',
        'com.docker.compose.service': 'web',
        'traefik.http.routers.shop.rule': 'Host(`shop.test`)',
        'traefik.http.services.shop.loadbalancer.server.port': '{PORT}',
      });
    }
    await eventually(
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) seen.add((await get(port, 'shop.test')).body.trim());
        expect([...seen].sort()).toEqual(names);
      },
      { timeoutMs: 5000 },
    );
  });

  it('takes an unhealthy container out of rotation and brings it back when healthy', async () => {
    const flag = `/w/healthy-${Date.now()}`;
    await runWeb(
      'patient',
      {
        'traefik.http.routers.patient.rule': 'Host(`patient.test`)',
        'traefik.http.services.patient.loadbalancer.server.port': '{PORT}',
      },
      [
        '--health-cmd',
        `test -f ${flag}`,
        '--health-interval',
        '1s',
        '--health-retries',
        '1',
        '--health-start-period',
        '0s',
      ],
    );
    // starting/unhealthy: not served
    expect((await get(port, 'patient.test')).status).toBe(404);
    d.docker('exec', 'patient', 'sh', '-c', `echo ok > ${flag}`);
    await eventually(async () => expect((await get(port, 'patient.test')).status).toBe(200), {
      timeoutMs: 8000,
    });
    d.docker('exec', 'patient', 'sh', '-c', `rm ${flag}`);
    await eventually(async () => expect((await get(port, 'patient.test')).status).toBe(404), {
      timeoutMs: 8000,
    });
  });

  it('reports a bad label with container, key, value and reason, and keeps the container’s other routers', async () => {
    await runWeb('typo', {
      'traefik.http.routers.good.rule': 'Host(`good.test`)',
      'traefik.http.routers.good.service': 'typo',
      'traefik.http.routers.bad.rule': 'Host(`bad.test`)',
      'traefik.http.routers.bad.priority': 'high',
      'traefik.http.services.typo.loadbalancer.server.port': '{PORT}',
    });
    await eventually(async () => expect((await get(port, 'good.test')).status).toBe(200), {
      timeoutMs: 3000,
    });
    const diag = provider.diagnostics().find((x) => x.container === 'typo');
    expect(diag).toMatchObject({
      container: 'typo',
      key: 'traefik.http.routers.bad.priority',
      value: 'high',
    });
    expect(diag!.message).toMatch(/integer|number/);
  });

  it.each([
    ['a tcp:// endpoint', () => ({ endpoint: `tcp://127.0.0.1:${d.tcpPort}`, env: {} })],
    ['DOCKER_HOST', () => ({ endpoint: undefined, env: { DOCKER_HOST: `unix://${d.socket}` } })],
  ])('connects through %s', async (_label, where) => {
    const { endpoint, env } = where();
    const one = createDockerProvider({
      ...(endpoint ? { endpoint } : {}),
      env,
      exposedByDefault: true,
      defaultRule: 'Host(`{{ normalize .Name }}`)',
      watch: false,
      allowEmptyServices: false,
      tls: { insecureSkipVerify: false },
      logger: pino({ level: 'silent' }),
    });
    const snaps: import('../../src/config/provider.js').ProviderSnapshot[] = [];
    await one.start((s) => snaps.push(s), new AbortController().signal);
    expect(one.connected()).toBe(true);
    expect(Object.keys(snaps[0]!.config.http?.routers ?? {})).toContain('shop');
  });

  it('portico check --docker lists each bad label and exits 1', async () => {
    // the 'typo' container of the test above carries a bad priority label
    const p = runPortico(['check', '--docker', `--providers.docker.endpoint=unix://${d.socket}`]);
    const { code } = await p.exit;
    expect(p.stdout()).toMatch(
      /docker error: container typo: label traefik\.http\.routers\.bad\.priority="high": /,
    );
    expect(p.stdout()).toMatch(/docker: \d+ containers, \d+ label diagnostics/);
    expect(code).toBe(1);
  });

  it('keeps serving while the daemon is down and catches up within 3 s of its return', async () => {
    await runWeb('survivor', {
      'traefik.http.routers.survivor.rule': 'Host(`survivor.test`)',
      'traefik.http.services.survivor.loadbalancer.server.port': '{PORT}',
    });
    await eventually(async () => expect((await get(port, 'survivor.test')).status).toBe(200), {
      timeoutMs: 3000,
    });
    await d.stop();
    await eventually(() => expect(provider.connected()).toBe(false), { timeoutMs: 5000 });
    // live-restore keeps the container running; the last known routes keep serving it
    expect(await get(port, 'survivor.test')).toEqual({ status: 200, body: 'survivor\n' });
    await d.start();
    // caught up: reconnected to the daemon and listed its containers again, within 3 s of its return
    await eventually(() => expect(provider.connected()).toBe(true), { timeoutMs: 3000 });
    // and following its events again: a container started now is routed as quickly as before the outage
    await runWeb('newcomer', {
      'traefik.http.routers.newcomer.rule': 'Host(`newcomer.test`)',
      'traefik.http.services.newcomer.loadbalancer.server.port': '{PORT}',
    });
    const started = Date.now();
    await eventually(async () => expect((await get(port, 'newcomer.test')).status).toBe(200), {
      timeoutMs: 2000,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await get(port, 'survivor.test')).status).toBe(200);
  });
});
