/// <reference lib="dom" />
/*
 * The dashboard's TCP and UDP pages in a real browser (issue 13 item 8): the
 * overview's TCP and UDP rows, the TCP router and service lists with status,
 * TLS mode and errors, a TCP router's page, and a router written to the
 * watched file showing up live. Portico runs in this process (runSingle, file
 * provider, API on its own entrypoint) with a real TCP echo server behind the
 * routers; the system's headless Chromium drives the pages. Every wait is
 * bounded (10 s); the page is never reloaded after the first load.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { pino } from 'pino';
import { loadStaticConfig } from '../../src/config/static.js';
import type { StaticConfig } from '../../src/config/static-types.js';
import { runSingle, type RunningPortico } from '../../src/runtime.js';
import { launchChromium, skipChromium } from '../helpers/chromium.js';
import { ROOT } from '../helpers/process.js';

const WAIT = 10_000;
const SCREENSHOT = path.join(ROOT, 'test-artifacts', 'dashboard-tcp');

function tcpConfig(echoPort: number, extraRouters = '', udp = false): string {
  return `tcp:
  routers:
    echo:
      rule: HostSNI(\`*\`)
      entryPoints: [tcp]
      middlewares: [allow]
      service: echo
    db:
      rule: HostSNI(\`db.test\`)
      entryPoints: [web]
      service: split
      tls:
        passthrough: true
    broken:
      rule: 'HostSNI(\`<img src=x onerror=window.__xss=1>\`'
      entryPoints: [tcp]
      service: echo
${extraRouters}  services:
    echo:
      loadBalancer:
        servers:
          - address: 127.0.0.1:${echoPort}
    split:
      weighted:
        services:
          - name: echo
            weight: 2
  middlewares:
    allow:
      ipAllowList:
        sourceRange: [127.0.0.1/32]
${
  udp
    ? `udp:
  routers:
    dns:
      entryPoints: [dns]
      service: resolver
  services:
    resolver:
      loadBalancer:
        servers:
          - address: 127.0.0.1:${echoPort}
`
    : ''
}`;
}

const ADDED_ROUTER = `    mqtt:
      rule: HostSNI(\`mqtt.test\`)
      entryPoints: [web]
      service: echo
      tls: {}
`;

/** a whole-file replace, so the watcher never reads half a file */
function writeConfig(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.end(`echo:${d.toString('latin1')}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function staticConfig(dir: string, udp: boolean): StaticConfig {
  return loadStaticConfig({
    argv: [
      '--entryPoints.web.address=127.0.0.1:0',
      '--entryPoints.tcp.address=127.0.0.1:0',
      '--entryPoints.traefik.address=127.0.0.1:0',
      ...(udp ? ['--entryPoints.dns.address=127.0.0.1:0/udp'] : []),
      `--providers.file.directory=${dir}`,
      '--providers.file.watch=true',
      '--providers.providersThrottleDuration=10ms',
      '--workers=0',
      '--api.insecure=true',
    ],
    env: {},
    cwd: process.cwd(),
  });
}

/** page errors and CSP violations: the dashboard must run clean under its own policy */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text()))
      problems.push(`console: ${msg.text()}`);
  });
  return problems;
}

async function nav(page: Page, name: string): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Sections' })
    .getByRole('link', { name, exact: true })
    .click();
}

const skip = skipChromium();

describe.skipIf(skip)('dashboard: TCP and UDP (real browser)', () => {
  let browser: Browser;
  let echo: { port: number; close(): Promise<void> };
  let run: RunningPortico;
  let dir: string;
  let file: string;
  let api: string;
  let page: Page;
  let problems: string[];
  /** UDP routing compiled in (issue 13 item 5): the UDP rows then show a router */
  let udp = false;

  beforeAll(async () => {
    echo = await echoServer();
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-dashboard-tcp-'));
    file = path.join(dir, 'dynamic.yml');
    let sc: StaticConfig;
    try {
      sc = staticConfig(dir, true);
      udp = true;
    } catch (err) {
      if (!/udp entrypoints are not supported yet/.test(String(err))) throw err;
      sc = staticConfig(dir, false);
    }
    writeConfig(file, tcpConfig(echo.port, '', udp));
    run = await runSingle(sc, pino({ level: 'silent' }));
    await run.ready;
    if ((run.router!.holder.current as { udp?: unknown }).udp === undefined) udp = false;
    api = `http://127.0.0.1:${run.addresses.traefik!.port}`;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    problems = watchProblems(page);
  });

  afterAll(async () => {
    await page?.context().close();
    await browser?.close();
    await run?.close();
    await echo?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows TCP and UDP rows on the overview, with their counts', async () => {
    const res = await page.goto(`${api}/dashboard/`, { timeout: WAIT });
    expect(res?.status()).toBe(200);
    await page.locator('#conn', { hasText: 'live' }).waitFor();
    const tcp = page.getByRole('region', { name: 'TCP' });
    const routers = tcp.locator('[data-card="tcp/routers"]');
    await routers.locator('.big', { hasText: '3' }).waitFor();
    await routers.getByText('1 error', { exact: true }).waitFor();
    await tcp.locator('[data-card="tcp/services"] .big', { hasText: '2' }).waitFor();
    await tcp.locator('[data-card="tcp/middlewares"] .big', { hasText: '1' }).waitFor();
    const udpRow = page.getByRole('region', { name: 'UDP' });
    await udpRow.locator('[data-card="udp/routers"] .big', { hasText: udp ? '1' : '0' }).waitFor();
    expect(await udpRow.locator('[data-card="udp/middlewares"]').count()).toBe(0);
    // the provider's TCP elements are counted next to its HTTP ones
    await page
      .locator('a[href="#/providers"]', { hasText: 'file' })
      .locator('xpath=..')
      .getByText(/TCP: 3 routers, 2 services, 1 middleware/)
      .waitFor();
    // the HTTP row is still there, with its own counts
    await page.getByRole('region', { name: 'HTTP' }).locator('[data-card="routers"]').waitFor();
    await page.evaluate(() => ((window as unknown as { __sameLoad: boolean }).__sameLoad = true));
  });

  it('lists TCP routers with their rule, entrypoints, TLS mode and service', async () => {
    await nav(page, 'TCP');
    await page.getByRole('heading', { level: 1, name: 'TCP routers' }).waitFor();
    const rows = page.locator('table.list-tcp-routers tbody tr');
    await page.locator('table.list-tcp-routers tbody tr[data-name="echo@file"]').waitFor();
    expect(await rows.count()).toBe(3);
    const db = page.locator('tr[data-name="db@file"]');
    expect(await db.locator('td.tls-mode').textContent()).toBe('passthrough');
    await db.getByRole('link', { name: 'split@file' }).waitFor();
    const echoRow = page.locator('tr[data-name="echo@file"]');
    await echoRow.locator('code', { hasText: 'HostSNI(`*`)' }).waitFor();
    expect(await echoRow.locator('td.tls-mode').textContent()).toBe('—');
    expect(await echoRow.locator('td').nth(3).textContent()).toBe('tcp');
  });

  it('shows a broken TCP router as an error with its message, as text', async () => {
    await page.getByLabel('Status').selectOption('disabled');
    const row = page.locator('table.list-tcp-routers tbody tr[data-name="broken@file"]');
    await row.waitFor();
    expect(await page.locator('table.list-tcp-routers tbody tr').count()).toBe(1);
    expect(await row.locator('.badge').textContent()).toBe('error');
    const message = await row.locator('.errors').textContent();
    expect(message).toMatch(/error while parsing rule/);
    expect(message).toContain('<img src=x onerror=window.__xss=1>');
    expect(await row.locator('img').count()).toBe(0);
    expect(
      await page.evaluate(() => (window as unknown as { __xss?: number }).__xss),
    ).toBeUndefined();
    await page.getByLabel('Status').selectOption('');
  });

  it("opens a TCP router's page: rule, middleware chain, service and its server address", async () => {
    await page
      .locator('tr[data-name="echo@file"] td.name-cell')
      .getByRole('link', { name: 'echo@file' })
      .click();
    expect(page.url()).toContain('#/tcp/routers/echo%40file');
    await page.getByRole('heading', { level: 1, name: /echo@file/ }).waitFor();
    await page.locator('dd code', { hasText: 'HostSNI(`*`)' }).waitFor();
    await page.locator('ol.chain').getByRole('link', { name: 'allow@file' }).waitFor();
    await page.locator('p.svc').getByRole('link', { name: 'echo@file' }).waitFor();
    const server = page.locator('table.servers tbody tr', { hasText: `127.0.0.1:${echo.port}` });
    await server.getByText('UP', { exact: true }).waitFor();
    // traffic charts are per HTTP router: none on a TCP router's page
    expect(await page.getByRole('heading', { name: 'Traffic' }).count()).toBe(0);
    // the middleware link leads to the TCP middleware, used by this router
    await page.locator('ol.chain').getByRole('link', { name: 'allow@file' }).click();
    await page.getByRole('heading', { level: 1, name: /allow@file/ }).waitFor();
    expect(page.url()).toContain('#/tcp/middlewares/allow%40file');
    await page.locator('dd').getByRole('link', { name: 'echo@file' }).waitFor();
  });

  it('lists TCP services with type, servers and the routers using them', async () => {
    await nav(page, 'TCP');
    await page
      .getByRole('navigation', { name: 'TCP elements' })
      .getByRole('link', { name: 'Services', exact: true })
      .click();
    await page.getByRole('heading', { level: 1, name: 'TCP services' }).waitFor();
    const echoRow = page.locator('table.list-tcp-services tbody tr[data-name="echo@file"]');
    await echoRow.waitFor();
    expect(await echoRow.locator('td').nth(2).textContent()).toBe('loadbalancer');
    // Traefik reports a TCP server UP from the start (no health check configured here)
    expect(await echoRow.locator('td').nth(3).textContent()).toBe('1/1 UP');
    await echoRow.getByRole('link', { name: 'broken@file' }).waitFor();
    const split = page.locator('tr[data-name="split@file"]');
    expect(await split.locator('td').nth(2).textContent()).toBe('weighted');
    await split.getByRole('link', { name: 'db@file' }).click();
    expect(page.url()).toContain('#/tcp/routers/db%40file');
    await page.getByRole('heading', { level: 1, name: /db@file/ }).waitFor();
    await page.locator('dd', { hasText: 'passthrough' }).first().waitFor();
  });

  it('shows a TCP router written to the watched file, without reloading', async () => {
    await nav(page, 'TCP');
    await page.locator('tr[data-name="echo@file"]').waitFor();
    writeConfig(file, tcpConfig(echo.port, ADDED_ROUTER, udp));
    const mqtt = page.locator('table.list-tcp-routers tbody tr[data-name="mqtt@file"]');
    await mqtt.waitFor();
    expect(await mqtt.locator('td.tls-mode').textContent()).toBe('terminated');
    await nav(page, 'Overview');
    await page.locator('[data-card="tcp/routers"] .big', { hasText: '4' }).waitFor();
    // the swap is on the timeline as a TCP change, linking to the TCP router
    await nav(page, 'Timeline');
    const added = page.locator('.event-config .diff-add', { hasText: 'mqtt@file' }).first();
    await added.waitFor();
    expect(await added.textContent()).toContain('TCP router mqtt@file');
    expect(await added.getByRole('link').getAttribute('href')).toBe('#/tcp/routers/mqtt%40file');
    expect(
      await page.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad),
    ).toBe(true);
  });

  it('lists UDP routers and services (Traefik has no UDP middlewares)', async () => {
    await nav(page, 'UDP');
    await page.getByRole('heading', { level: 1, name: 'UDP routers' }).waitFor();
    const tabs = page.getByRole('navigation', { name: 'UDP elements' });
    expect(await tabs.getByRole('link').allTextContents()).toEqual(['Routers', 'Services']);
    if (!udp) {
      await page.getByText('No UDP routers.', { exact: true }).waitFor();
      return;
    }
    const row = page.locator('table.list-udp-routers tbody tr[data-name="dns@file"]');
    await row.waitFor();
    await row.getByRole('link', { name: 'resolver@file' }).click();
    await page.getByRole('heading', { level: 1, name: /resolver@file/ }).waitFor();
    await page.locator('table.servers tbody tr', { hasText: `127.0.0.1:${echo.port}` }).waitFor();
  });

  it('saves screenshots and ran without page errors or CSP violations', async () => {
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await nav(page, 'Overview');
    await page.locator('[data-card="tcp/routers"] .big', { hasText: '4' }).waitFor();
    await page.screenshot({ path: `${SCREENSHOT}-overview.png`, fullPage: true, timeout: WAIT });
    await nav(page, 'TCP');
    await page.locator('tr[data-name="mqtt@file"]').waitFor();
    await page.screenshot({ path: `${SCREENSHOT}-routers.png`, fullPage: true, timeout: WAIT });
    expect(problems).toEqual([]);
  });
});
