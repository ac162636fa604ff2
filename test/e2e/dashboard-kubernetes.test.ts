/// <reference lib="dom" />
/*
 * The dashboard of a Portico serving a Kubernetes cluster (issue 14 item 7),
 * in the system's headless Chromium: the real `portico` command with the
 * Ingress provider pointed at the in-test API server. An operator sees the
 * Ingress's router, and the broken Ingress named with its field and reason
 * on the Providers page; fixing the object clears it without a reload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, skipChromium } from '../helpers/chromium.js';
import { eventually } from '../helpers/eventually.js';
import { freePort, request } from '../helpers/http.js';
import { runPortico, type PorticoProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { serviceTo } from '../helpers/kube-objects.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';

const WAIT = 10_000;

function ingress(name: string, host: string, port: object): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { namespace: 'apps', name },
    spec: {
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'web', port } },
              },
            ],
          },
        },
      ],
    },
  };
}

const skip = skipChromium();

describe.skipIf(skip)('dashboard with the Kubernetes provider (real browser)', () => {
  let browser: Browser;
  let server: KubeApiServer;
  let upstream: Upstream;
  let proc: PorticoProcess;
  let page: Page;
  let api: string;

  beforeAll(async () => {
    server = await startKubeApiServer();
    upstream = await startUpstream('web');
    serviceTo(server, 'apps', 'web', upstream.port);
    server.create('Ingress', ingress('good', 'good.test', { number: 80 }));
    server.create('Ingress', ingress('bad', 'bad.test', { name: 'grpc' }));
    const [apiPort, webPort] = [await freePort(), await freePort()];
    api = `http://127.0.0.1:${apiPort}`;
    proc = runPortico([
      '--api.insecure=true',
      `--entryPoints.traefik.address=127.0.0.1:${apiPort}`,
      `--entryPoints.web.address=127.0.0.1:${webPort}`,
      `--providers.kubernetesIngress.endpoint=${server.url}`,
      '--workers=0',
      '--log.level=info',
    ]);
    await eventually(
      async () => {
        const r = await request(`${api}/api/http/routers`);
        if (r.status !== 200 || !r.body.includes('@kubernetes')) throw new Error(r.body);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
  });

  afterAll(async () => {
    await page?.context().close();
    await browser?.close();
    await proc?.stop();
    await upstream?.close();
    await server?.stop();
  });

  it('shows the broken Ingress by kind, name, field and reason on the Providers page', async () => {
    await page.goto(`${api}/dashboard/#/providers`, { timeout: WAIT });
    const panel = page.locator('section[data-provider="kubernetes"]');
    await panel.waitFor();
    const row = panel.locator('tr', { hasText: 'Ingress apps/bad' });
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('spec.rules[0].http.paths[0].backend.service.port');
    expect(text).toContain('grpc');
    await page.evaluate(() => ((window as unknown as { __sameLoad: boolean }).__sameLoad = true));
  });

  it('fixing the object clears the diagnostic live, without a reload', async () => {
    const bad = server.get('Ingress', 'apps', 'bad')!;
    bad.spec.rules[0].http.paths[0].backend.service.port = { name: 'http' };
    server.update('Ingress', bad);
    const panel = page.locator('section[data-provider="kubernetes"]');
    await panel.locator('tr', { hasText: 'Ingress apps/bad' }).waitFor({ state: 'detached' });
    await panel.getByText('No diagnostics.').waitFor();
    expect(
      await page.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad),
    ).toBe(true);
  });
});
