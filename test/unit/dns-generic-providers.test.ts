/*
 * lego's two generic DNS-01 providers (issue 13 §3): `exec` runs a program
 * with lego's arguments, `httpreq` POSTs lego's JSON to an endpoint of your
 * own. Real processes and a real loopback HTTP server.
 */
import http from 'node:http';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsProvider, type DnsChallengeRecord } from '../../src/tls/acme/dns/registry.js';

/** The error `p` rejects with (the test fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const r: DnsChallengeRecord = {
  domain: 'example.com',
  fqdn: '_acme-challenge.example.com.',
  value: 'LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM',
  token: 'tok',
  keyAuthorization: 'tok.thumb',
};

describe('exec', () => {
  function script(body: string): { program: string; out: string } {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-exec-'));
    const program = path.join(dir, 'dns.sh');
    const out = path.join(dir, 'calls');
    writeFileSync(program, `#!/bin/sh\n${body.replace(/OUT/g, out)}\n`);
    chmodSync(program, 0o755);
    return { program, out };
  }

  it('runs EXEC_PATH present|cleanup <fqdn> <value>', async () => {
    const s = script('echo "$@" >> OUT');
    const p = createDnsProvider('le', 'exec', { EXEC_PATH: s.program });
    await p.present(r);
    await p.cleanup(r);
    expect(readFileSync(s.out, 'utf8').split('\n')).toEqual([
      `present _acme-challenge.example.com. ${r.value}`,
      `cleanup _acme-challenge.example.com. ${r.value}`,
      '',
    ]);
  });

  it('with EXEC_MODE=RAW runs present|cleanup -- <domain> <token> <keyAuth>', async () => {
    const s = script('echo "$@" >> OUT');
    const p = createDnsProvider('le', 'exec', { EXEC_PATH: s.program, EXEC_MODE: 'RAW' });
    await p.present(r);
    expect(readFileSync(s.out, 'utf8')).toBe('present -- example.com tok tok.thumb\n');
  });

  it('fails the challenge when the program fails, with its last output', async () => {
    const s = script('echo "zone not found" >&2; exit 3');
    const p = createDnsProvider('le', 'exec', { EXEC_PATH: s.program });
    await expect(p.present(r)).rejects.toThrow(/exec: .*dns\.sh present exited 3: zone not found/);
  });

  it('takes lego timings from EXEC_PROPAGATION_TIMEOUT and EXEC_POLLING_INTERVAL', () => {
    const p = createDnsProvider('le', 'exec', {
      EXEC_PATH: '/bin/true',
      EXEC_PROPAGATION_TIMEOUT: '300',
      EXEC_POLLING_INTERVAL: '10',
    });
    expect([p.propagationTimeoutMs, p.pollingIntervalMs]).toEqual([300_000, 10_000]);
  });
});

describe('httpreq', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((res) => s.close(res));
  });

  async function endpoint(status = 200) {
    const seen: { method: string; path: string; auth?: string; type?: string; body: unknown }[] =
      [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({
          method: req.method!,
          path: req.url!,
          auth: req.headers.authorization,
          type: req.headers['content-type'],
          body: JSON.parse(body) as unknown,
        });
        res.writeHead(status).end(status === 200 ? 'ok' : 'nope');
      });
    });
    servers.push(server);
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it('POSTs {fqdn, value} to /present and /cleanup under the endpoint path, with Basic auth', async () => {
    const e = await endpoint();
    const p = createDnsProvider('le', 'httpreq', {
      HTTPREQ_ENDPOINT: `${e.url}/dns`,
      HTTPREQ_USERNAME: 'lego',
      HTTPREQ_PASSWORD: 'pass',
    });
    await p.present(r);
    await p.cleanup(r);
    const auth = `Basic ${Buffer.from('lego:pass').toString('base64')}`;
    expect(e.seen).toEqual([
      {
        method: 'POST',
        path: '/dns/present',
        auth,
        type: 'application/json',
        body: { fqdn: r.fqdn, value: r.value },
      },
      {
        method: 'POST',
        path: '/dns/cleanup',
        auth,
        type: 'application/json',
        body: { fqdn: r.fqdn, value: r.value },
      },
    ]);
  });

  it('with HTTPREQ_MODE=RAW POSTs {domain, token, keyAuth}, and no auth without both credentials', async () => {
    const e = await endpoint();
    const p = createDnsProvider('le', 'httpreq', {
      HTTPREQ_ENDPOINT: e.url,
      HTTPREQ_MODE: 'RAW',
      HTTPREQ_USERNAME: 'only-user',
    });
    await p.present(r);
    expect(e.seen[0]).toMatchObject({
      path: '/present',
      auth: undefined,
      body: { domain: 'example.com', token: 'tok', keyAuth: 'tok.thumb' },
    });
  });

  it('fails on a non-2xx answer, without the password', async () => {
    const e = await endpoint(500);
    const p = createDnsProvider('le', 'httpreq', {
      HTTPREQ_ENDPOINT: e.url,
      HTTPREQ_USERNAME: 'lego',
      HTTPREQ_PASSWORD: 'very-secret-password',
    });
    const err = await rejection(p.present(r));
    expect(err.message).toMatch(/httpreq: POST \/present: HTTP 500/);
    expect(err.message).not.toContain('very-secret-password');
  });
});
