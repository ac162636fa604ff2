/*
 * TCP connection metrics from the real command with two workers: each worker
 * counts the connections it relays and the primary sums them, so every
 * scrape shows the whole, whichever worker takes it (issue 13 item 8).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { freePort, request } from '../helpers/http.js';
import { runPortico } from '../helpers/process.js';
import { useCleanups } from '../helpers/scope.js';

const { defer } = useCleanups();

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Connects, writes `send`, half-closes after the echo, collects everything until the close. */
function talk(port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got === `echo:${send}`) s.end();
    });
    s.on('end', () => s.end());
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.write(send);
  });
}

describe('TCP metrics with workers', () => {
  it('sums the connections and bytes of both workers in every scrape', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => s.write(`echo:${d.toString('latin1')}`));
      s.on('end', () => s.end('echo:bye'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    defer(() => new Promise<void>((r) => server.close(() => r())));
    const echo = (server.address() as net.AddressInfo).port;

    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-tcp-cluster-'));
    const file = path.join(dir, 'dynamic.json');
    writeFileSync(
      file,
      JSON.stringify({
        tcp: {
          routers: { echo: { rule: 'HostSNI(`*`)', entryPoints: ['tcp'], service: 'echo' } },
          services: { echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${echo}` }] } } },
        },
      }),
    );
    const [web, tcp, admin] = [await freePort(), await freePort(), await freePort()];
    const p = runPortico([
      `--entryPoints.web.address=127.0.0.1:${web}`,
      `--entryPoints.tcp.address=127.0.0.1:${tcp}`,
      `--entryPoints.traefik.address=127.0.0.1:${admin}`,
      `--providers.file.filename=${file}`,
      '--metrics.prometheus',
      '--workers=2',
    ]);
    defer(() => p.stop('SIGKILL'));
    await eventually(
      () => {
        const workers = new Set(
          p.lines.filter((r) => r.msg === 'configuration applied').map((r) => r.worker),
        );
        expect(workers.size).toBe(2);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const n = 10;
    // one connection at a time: the primary hands them to the workers in turn
    for (let i = 0; i < n; i++) expect(await talk(tcp, 'hello')).toBe('echo:helloecho:bye');
    const L = 'entrypoint="tcp",router="echo@file",service="echo@file"';
    const scrape = async (): Promise<string> => {
      const r = await request(`http://127.0.0.1:${admin}/metrics`);
      expect(r.status).toBe(200);
      return r.body;
    };
    await eventually(
      async () =>
        expect(
          value(await scrape(), `portico_tcp_connections_total{${L},reason="client_closed"}`),
        ).toBe(n),
      { timeoutMs: 5000, intervalMs: 100 },
    );
    // every scrape (either worker may take it) shows both workers' counts
    for (let i = 0; i < 4; i++) {
      const m = await scrape();
      expect(value(m, `portico_tcp_connections_total{${L},reason="client_closed"}`)).toBe(n);
      expect(value(m, `portico_tcp_bytes_total{${L},direction="upstream"}`)).toBe(5 * n);
      expect(value(m, `portico_tcp_bytes_total{${L},direction="downstream"}`)).toBe(18 * n);
      expect(value(m, `portico_tcp_open_connections{${L}}`)).toBe(0);
      expect(value(m, `portico_tcp_connection_duration_seconds_count{${L}}`)).toBe(n);
    }
  }, 60_000);
});
