/*
 * The hosted-API DNS-01 providers (issue 13 §3), each against a loopback fake
 * of its HTTP API that holds the zone's records and refuses requests whose
 * shape differs from the API's documentation: the auth header, the method and
 * path, the JSON or XML body. The base-URL override variables point the
 * providers at the fakes (CLOUDFLARE_BASE_URL, AWS_ENDPOINT_URL_ROUTE_53,
 * DO_API_URL, GANDIV5_API_URL). Credentials come from lego's variable names
 * and their _FILE variants, and never appear in an error.
 */
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsProvider, type DnsChallengeRecord } from '../../src/tls/acme/dns/registry.js';
import { sigV4 } from '../../src/tls/acme/dns/route53.js';

/** The error `p` rejects with (the test fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const record = (domain: string, value: string): DnsChallengeRecord => ({
  domain,
  fqdn: `_acme-challenge.${domain}.`,
  value,
  token: 'tok',
  keyAuthorization: 'tok.thumb',
});

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Seen) => { status: number; body?: unknown; type?: string };

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A loopback HTTP server answering through `handler`; records every request. */
async function fake(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r: Seen = { method: req.method!, path: req.url!, headers: req.headers, body };
      seen.push(r);
      let out: ReturnType<Handler>;
      try {
        out = handler(r);
      } catch (err) {
        out = { status: 400, body: { error: (err as Error).message } };
      }
      const text =
        out.body === undefined
          ? ''
          : typeof out.body === 'string'
            ? out.body
            : JSON.stringify(out.body);
      res.writeHead(out.status, { 'content-type': out.type ?? 'application/json' });
      res.end(text);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function json(r: Seen): Record<string, unknown> {
  if (!String(r.headers['content-type']).startsWith('application/json'))
    throw new Error(`content-type ${r.headers['content-type']}`);
  return JSON.parse(r.body) as Record<string, unknown>;
}

describe('cloudflare (API v4)', () => {
  /** zone example.com (id "023e105f"); tokens: dns-token edits records, zone-token reads zones */
  function cloudflare(auth: { dns: string; zone: string } | { email: string; key: string }) {
    const records = new Map<string, { type: string; name: string; content: string; ttl: number }>();
    let next = 1;
    const authorized = (r: Seen, kind: 'dns' | 'zone'): boolean =>
      'email' in auth
        ? r.headers['x-auth-email'] === auth.email && r.headers['x-auth-key'] === auth.key
        : r.headers.authorization === `Bearer ${kind === 'dns' ? auth.dns : auth.zone}`;
    const denied = {
      status: 403,
      body: { success: false, errors: [{ code: 10000, message: 'Authentication error' }] },
    };
    return {
      records,
      handler: ((r) => {
        const u = new URL(r.path, 'http://x');
        if (r.method === 'GET' && u.pathname === '/client/v4/zones') {
          if (!authorized(r, 'zone')) return denied;
          const name = u.searchParams.get('name');
          const result = name === 'example.com' ? [{ id: '023e105f', name: 'example.com' }] : [];
          return { status: 200, body: { success: true, errors: [], result } };
        }
        if (r.method === 'POST' && u.pathname === '/client/v4/zones/023e105f/dns_records') {
          if (!authorized(r, 'dns')) return denied;
          const b = json(r) as { type: string; name: string; content: string; ttl: number };
          if (b.type !== 'TXT' || !b.name || !/^".*"$/.test(b.content) || !(b.ttl >= 60))
            return {
              status: 400,
              body: { success: false, errors: [{ code: 9000, message: 'bad record' }] },
            };
          const id = `rec${next++}`;
          records.set(id, b);
          return { status: 200, body: { success: true, errors: [], result: { id, ...b } } };
        }
        const del = /^\/client\/v4\/zones\/023e105f\/dns_records\/(\w+)$/.exec(u.pathname);
        if (r.method === 'DELETE' && del) {
          if (!authorized(r, 'dns')) return denied;
          if (!records.delete(del[1]!))
            return {
              status: 404,
              body: { success: false, errors: [{ code: 81044, message: 'Record not found' }] },
            };
          return { status: 200, body: { success: true, errors: [], result: { id: del[1] } } };
        }
        return {
          status: 404,
          body: { success: false, errors: [{ code: 7003, message: 'No route' }] },
        };
      }) as Handler,
    };
  }

  it('publishes a quoted TXT record with the DNS token, finds the zone with the zone token, and deletes it', async () => {
    const cf = cloudflare({ dns: 'dns-token', zone: 'zone-token' });
    const api = await fake(cf.handler);
    const p = createDnsProvider('le', 'cloudflare', {
      CF_DNS_API_TOKEN: 'dns-token',
      CF_ZONE_API_TOKEN: 'zone-token',
      CLOUDFLARE_BASE_URL: `${api.url}/client/v4`,
    });
    const r = record('www.example.com', 'value-1');
    await p.present(r);
    expect([...cf.records.values()]).toEqual([
      { type: 'TXT', name: '_acme-challenge.www.example.com', content: '"value-1"', ttl: 120 },
    ]);
    // the zone is looked up from the longest candidate down
    expect(api.seen.filter((s) => s.method === 'GET').map((s) => s.path)).toEqual([
      '/client/v4/zones?name=www.example.com&per_page=50',
      '/client/v4/zones?name=example.com&per_page=50',
    ]);
    await p.cleanup(r);
    expect(cf.records.size).toBe(0);
    expect([p.propagationTimeoutMs, p.pollingIntervalMs]).toEqual([120_000, 2_000]);
  });

  it('uses the global API key (X-Auth-Email, X-Auth-Key) from _FILE variables', async () => {
    const cf = cloudflare({ email: 'ops@example.com', key: 'global-key' });
    const api = await fake(cf.handler);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-cf-'));
    writeFileSync(path.join(dir, 'key'), 'global-key\n');
    const p = createDnsProvider('le', 'cloudflare', {
      CF_API_EMAIL: 'ops@example.com',
      CF_API_KEY_FILE: path.join(dir, 'key'),
      CLOUDFLARE_BASE_URL: `${api.url}/client/v4`,
    });
    await p.present(record('example.com', 'v'));
    expect(cf.records.size).toBe(1);
  });

  it("reports the API's refusal without the token", async () => {
    const cf = cloudflare({ dns: 'right', zone: 'right' });
    const api = await fake(cf.handler);
    const p = createDnsProvider('le', 'cloudflare', {
      CF_DNS_API_TOKEN: 'wrong-secret-token',
      CLOUDFLARE_BASE_URL: `${api.url}/client/v4`,
    });
    const err = await rejection(p.present(record('example.com', 'v')));
    expect(err.message).toMatch(/cloudflare: GET \/client\/v4\/zones: HTTP 403/);
    expect(err.message).not.toContain('wrong-secret-token');
  });
});

describe('route53 (REST/XML 2013-04-01, SigV4)', () => {
  const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'route53-secret' };
  function route53() {
    const sets = new Map<string, { ttl: number; values: string[] }>();
    let changes = 0;
    const xml = (body: string) => ({
      status: 200,
      type: 'text/xml',
      body: `<?xml version="1.0"?>\n${body}`,
    });
    const error = (status: number, code: string, message: string) => ({
      status,
      type: 'text/xml',
      body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error></ErrorResponse>`,
    });
    let base = '';
    return {
      sets,
      setBase: (b: string) => (base = b),
      handler: ((r) => {
        // the signature must verify with the account's secret (sigV4 matches AWS's worked example)
        const auth = String(r.headers.authorization ?? '');
        const m =
          /^AWS4-HMAC-SHA256 Credential=(\w+)\/(\d{8})\/us-east-1\/route53\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/.exec(
            auth,
          );
        if (!m || m[1] !== creds.accessKeyId)
          return error(403, 'IncompleteSignature', 'bad authorization header');
        const signed = m[3]!.split(';');
        const amzDate = String(r.headers['x-amz-date']);
        const date = new Date(
          `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
        );
        const headers: Record<string, string> = {};
        for (const h of signed)
          if (h !== 'host' && h !== 'x-amz-date') headers[h] = String(r.headers[h]);
        const expected = sigV4(
          { method: r.method, url: new URL(r.path, base), headers, body: r.body },
          creds,
          'us-east-1',
          'route53',
          date,
        ).authorization;
        if (expected !== auth)
          return error(403, 'SignatureDoesNotMatch', 'The request signature does not match');
        const u = new URL(r.path, 'http://x');
        if (r.method === 'GET' && u.pathname === '/2013-04-01/hostedzonesbyname')
          return xml(
            '<ListHostedZonesByNameResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HostedZones>' +
              '<HostedZone><Id>/hostedzone/Z0EXAMPLE</Id><Name>example.com.</Name><CallerReference>x</CallerReference><Config><PrivateZone>false</PrivateZone></Config></HostedZone>' +
              `</HostedZones><DNSName>${u.searchParams.get('dnsname')}</DNSName><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems></ListHostedZonesByNameResponse>`,
          );
        if (r.method === 'GET' && u.pathname === '/2013-04-01/hostedzone/Z0EXAMPLE/rrset') {
          const name = u.searchParams.get('name')!;
          const set = sets.get(name);
          return xml(
            '<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceRecordSets>' +
              (set
                ? `<ResourceRecordSet><Name>${name}</Name><Type>TXT</Type><TTL>${set.ttl}</TTL><ResourceRecords>${set.values.map((v) => `<ResourceRecord><Value>${v.replace(/"/g, '&quot;')}</Value></ResourceRecord>`).join('')}</ResourceRecords></ResourceRecordSet>`
                : '') +
              '</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems></ListResourceRecordSetsResponse>',
          );
        }
        if (r.method === 'POST' && u.pathname === '/2013-04-01/hostedzone/Z0EXAMPLE/rrset/') {
          if (
            !r.body.includes(
              '<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">',
            )
          )
            return error(400, 'InvalidInput', 'bad namespace');
          const action = /<Action>(\w+)<\/Action>/.exec(r.body)?.[1];
          const name = /<Name>([^<]+)<\/Name>/.exec(r.body)?.[1];
          const type = /<Type>([^<]+)<\/Type>/.exec(r.body)?.[1];
          const ttl = Number(/<TTL>(\d+)<\/TTL>/.exec(r.body)?.[1]);
          const values = [...r.body.matchAll(/<Value>([^<]*)<\/Value>/g)].map((x) =>
            x[1]!.replace(/&quot;/g, '"'),
          );
          if (!name || type !== 'TXT' || !values.length || values.some((v) => !/^".*"$/.test(v)))
            return error(400, 'InvalidChangeBatch', 'bad record set');
          if (action === 'UPSERT') sets.set(name, { ttl, values });
          else if (action === 'DELETE') {
            const cur = sets.get(name);
            if (!cur || cur.ttl !== ttl || cur.values.join() !== values.join())
              return error(
                400,
                'InvalidChangeBatch',
                'Tried to delete resource record set but values do not match',
              );
            sets.delete(name);
          } else return error(400, 'InvalidInput', `action ${action}`);
          changes++;
          return xml(
            `<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C${changes}</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`,
          );
        }
        const change = /^\/2013-04-01\/change\/(C\d+)$/.exec(u.pathname);
        if (r.method === 'GET' && change)
          return xml(
            `<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/${change[1]}</Id><Status>INSYNC</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>`,
          );
        return error(404, 'NoSuchResource', u.pathname);
      }) as Handler,
    };
  }

  const env = (url: string) => ({
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL_ROUTE_53: url,
    AWS_POLLING_INTERVAL: '0',
  });

  it('UPSERTs the value into the TXT set, waits for INSYNC, and removes only its own value', async () => {
    const r53 = route53();
    const api = await fake(r53.handler);
    r53.setBase(api.url);
    const p = createDnsProvider('le', 'route53', env(api.url));
    const a = record('example.com', 'apex');
    const b = record('example.com', 'wildcard');
    await p.present(a);
    await p.present(b);
    expect(r53.sets.get('_acme-challenge.example.com.')).toEqual({
      ttl: 10,
      values: ['"apex"', '"wildcard"'],
    });
    expect(api.seen.some((s) => s.path === '/2013-04-01/change/C1')).toBe(true);
    await p.cleanup(a);
    expect(r53.sets.get('_acme-challenge.example.com.')?.values).toEqual(['"wildcard"']);
    await p.cleanup(b);
    expect(r53.sets.has('_acme-challenge.example.com.')).toBe(false);
  });

  it('uses AWS_HOSTED_ZONE_ID without looking the zone up, and the secret from _FILE', async () => {
    const r53 = route53();
    const api = await fake(r53.handler);
    r53.setBase(api.url);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-r53-'));
    writeFileSync(path.join(dir, 'secret'), creds.secretAccessKey);
    const { AWS_SECRET_ACCESS_KEY: _, ...rest } = env(api.url);
    const p = createDnsProvider('le', 'route53', {
      ...rest,
      AWS_SECRET_ACCESS_KEY_FILE: path.join(dir, 'secret'),
      AWS_HOSTED_ZONE_ID: 'Z0EXAMPLE',
    });
    await p.present(record('www.example.com', 'v'));
    expect(api.seen.some((s) => s.path.startsWith('/2013-04-01/hostedzonesbyname'))).toBe(false);
    expect(r53.sets.get('_acme-challenge.www.example.com.')?.values).toEqual(['"v"']);
  });

  it('reports a signature the API refuses, without the secret', async () => {
    const r53 = route53();
    const api = await fake(r53.handler);
    r53.setBase(api.url);
    const p = createDnsProvider('le', 'route53', {
      ...env(api.url),
      AWS_SECRET_ACCESS_KEY: 'not-the-secret',
    });
    const err = await rejection(p.present(record('example.com', 'v')));
    expect(err.message).toMatch(/route53: GET .*HTTP 403: SignatureDoesNotMatch/);
    expect(err.message).not.toContain('not-the-secret');
  });
});

describe('digitalocean (API v2)', () => {
  function digitalocean(token: string) {
    const records = new Map<number, { type: string; name: string; data: string; ttl: number }>();
    let next = 100;
    const unauthorized = {
      status: 401,
      body: { id: 'unauthorized', message: 'Unable to authenticate you.' },
    };
    return {
      records,
      handler: ((r) => {
        if (r.headers.authorization !== `Bearer ${token}`) return unauthorized;
        if (r.method === 'GET' && r.path === '/v2/domains/example.com')
          return { status: 200, body: { domain: { name: 'example.com', ttl: 1800 } } };
        if (r.method === 'GET' && r.path.startsWith('/v2/domains/'))
          return {
            status: 404,
            body: {
              id: 'not_found',
              message: 'The resource you were accessing could not be found.',
            },
          };
        if (r.method === 'POST' && r.path === '/v2/domains/example.com/records') {
          const b = json(r) as { type: string; name: string; data: string; ttl: number };
          if (b.type !== 'TXT' || !b.name || !b.data || !(b.ttl >= 30))
            return { status: 422, body: { id: 'unprocessable_entity', message: 'bad record' } };
          const id = next++;
          records.set(id, b);
          return { status: 201, body: { domain_record: { id, ...b } } };
        }
        const del = /^\/v2\/domains\/example\.com\/records\/(\d+)$/.exec(r.path);
        if (r.method === 'DELETE' && del && records.delete(Number(del[1]))) return { status: 204 };
        return { status: 404, body: { id: 'not_found', message: 'not found' } };
      }) as Handler,
    };
  }

  it('creates the TXT record in the account domain and deletes it by id', async () => {
    const d = digitalocean('do-token');
    const api = await fake(d.handler);
    const p = createDnsProvider('le', 'digitalocean', {
      DO_AUTH_TOKEN: 'do-token',
      DO_API_URL: api.url,
    });
    const r = record('app.example.com', 'v1');
    await p.present(r);
    expect([...d.records.values()]).toEqual([
      { type: 'TXT', name: '_acme-challenge.app.example.com.', data: 'v1', ttl: 30 },
    ]);
    await p.cleanup(r);
    expect(d.records.size).toBe(0);
    expect([p.propagationTimeoutMs, p.pollingIntervalMs]).toEqual([60_000, 5_000]);
  });

  it('reads DO_AUTH_TOKEN_FILE and DO_TTL', async () => {
    const d = digitalocean('file-token');
    const api = await fake(d.handler);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-do-'));
    writeFileSync(path.join(dir, 'token'), 'file-token\n');
    const p = createDnsProvider('le', 'digitalocean', {
      DO_AUTH_TOKEN_FILE: path.join(dir, 'token'),
      DO_API_URL: api.url,
      DO_TTL: '60',
    });
    await p.present(record('example.com', 'v'));
    expect([...d.records.values()][0]?.ttl).toBe(60);
  });

  it('reports an unknown domain', async () => {
    const api = await fake(digitalocean('t').handler);
    const p = createDnsProvider('le', 'digitalocean', { DO_AUTH_TOKEN: 't', DO_API_URL: api.url });
    await expect(p.present(record('example.org', 'v'))).rejects.toThrow(
      /digitalocean: no domain found for _acme-challenge\.example\.org/,
    );
  });
});

describe('gandiv5 (LiveDNS)', () => {
  function gandi(auth: string) {
    const rrsets = new Map<string, { rrset_ttl: number; rrset_values: string[] }>();
    return {
      rrsets,
      handler: ((r) => {
        if (r.headers.authorization !== auth)
          return {
            status: 401,
            body: {
              code: 401,
              message: 'Unauthorized',
              object: 'HTTPUnauthorized',
              cause: 'Unauthorized',
            },
          };
        if (r.method === 'GET' && r.path === '/v5/livedns/domains/example.com')
          return { status: 200, body: { fqdn: 'example.com', automatic_snapshots: true } };
        if (r.method === 'GET' && /^\/v5\/livedns\/domains\/[^/]+$/.test(r.path))
          return {
            status: 404,
            body: {
              code: 404,
              message: 'The resource could not be found.',
              object: 'HTTPNotFound',
              cause: 'Not Found',
            },
          };
        const m = /^\/v5\/livedns\/domains\/example\.com\/records\/([^/]+)\/TXT$/.exec(r.path);
        if (!m) return { status: 404, body: { code: 404, message: 'not found' } };
        const name = decodeURIComponent(m[1]!);
        if (r.method === 'GET') {
          const set = rrsets.get(name);
          if (!set) return { status: 404, body: { code: 404, message: 'not found' } };
          // LiveDNS answers TXT values in quotes
          return {
            status: 200,
            body: {
              rrset_name: name,
              rrset_type: 'TXT',
              rrset_ttl: set.rrset_ttl,
              rrset_values: set.rrset_values.map((v) => (v.startsWith('"') ? v : `"${v}"`)),
            },
          };
        }
        if (r.method === 'PUT') {
          const b = json(r) as { rrset_ttl: number; rrset_values: string[] };
          if (!(b.rrset_ttl >= 300) || !Array.isArray(b.rrset_values) || !b.rrset_values.length)
            return { status: 400, body: { code: 400, message: 'bad rrset' } };
          rrsets.set(name, b);
          return { status: 201, body: { message: 'DNS Record Created' } };
        }
        if (r.method === 'DELETE') {
          rrsets.delete(name);
          return { status: 204 };
        }
        return { status: 405, body: { code: 405, message: 'method' } };
      }) as Handler,
    };
  }

  it('puts the value into the TXT RRset (Bearer personal access token) and takes it out again', async () => {
    const g = gandi('Bearer pat-123');
    const api = await fake(g.handler);
    const p = createDnsProvider('le', 'gandiv5', {
      GANDIV5_PERSONAL_ACCESS_TOKEN: 'pat-123',
      GANDIV5_API_URL: `${api.url}/v5/livedns`,
    });
    const a = record('www.example.com', 'one');
    const b = record('www.example.com', 'two');
    await p.present(a);
    await p.present(b);
    expect(g.rrsets.get('_acme-challenge.www')).toEqual({
      rrset_ttl: 300,
      rrset_values: ['two', '"one"'],
    });
    await p.cleanup(a);
    expect(g.rrsets.get('_acme-challenge.www')?.rrset_values).toEqual(['"two"']);
    await p.cleanup(b);
    expect(g.rrsets.has('_acme-challenge.www')).toBe(false);
    expect([p.propagationTimeoutMs, p.pollingIntervalMs]).toEqual([1_200_000, 20_000]);
  });

  it('falls back to the deprecated API key (Apikey scheme)', async () => {
    const g = gandi('Apikey legacy');
    const api = await fake(g.handler);
    const p = createDnsProvider('le', 'gandiv5', {
      GANDIV5_API_KEY: 'legacy',
      GANDIV5_API_URL: `${api.url}/v5/livedns`,
    });
    await p.present(record('example.com', 'v'));
    expect(g.rrsets.get('_acme-challenge')?.rrset_values).toEqual(['v']);
  });

  it('refuses a TTL under the API minimum, as lego does', () => {
    expect(() =>
      createDnsProvider('le', 'gandiv5', { GANDIV5_PERSONAL_ACCESS_TOKEN: 'x', GANDIV5_TTL: '60' }),
    ).toThrow(/invalid TTL, TTL \(60\) must be greater than 300/);
  });
});
