/*
 * The rfc2136 DNS-01 provider against a real Knot DNS server (issue 13 §3):
 * TSIG-signed dynamic updates add and remove exactly the challenge record,
 * bad keys are refused by the server and reported, and the configuration
 * comes from lego's RFC2136_* variables (and their _FILE variants).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsProvider, type DnsChallengeRecord } from '../../src/tls/acme/dns/registry.js';
import { skipKnot, startKnot, txtValues, zoneFile, type KnotServer } from '../helpers/knot.js';

const record = (domain: string, value: string): DnsChallengeRecord => ({
  domain,
  fqdn: `_acme-challenge.${domain}.`,
  value,
  token: 'token',
  keyAuthorization: 'token.thumbprint',
});

describe.skipIf(skipKnot())('rfc2136 provider (real Knot DNS)', () => {
  let knot: KnotServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    knot = await startKnot({ 'example.test': zoneFile('example.test') });
    env = {
      RFC2136_NAMESERVER: knot.address,
      RFC2136_TSIG_KEY: knot.tsig.name,
      RFC2136_TSIG_SECRET: knot.tsig.secret,
      RFC2136_TSIG_ALGORITHM: knot.tsig.algorithm,
    };
  }, 20_000);
  afterAll(async () => knot?.stop());

  it('adds the TXT record, keeps a second value beside it, and removes only its own', async () => {
    const p = createDnsProvider('le', 'rfc2136', env);
    const apex = record('example.test', 'apex-value');
    const wildcard = record('example.test', 'wildcard-value');
    await p.present(apex);
    expect(await txtValues(knot, '_acme-challenge.example.test')).toEqual(['apex-value']);
    await p.present(wildcard);
    expect((await txtValues(knot, '_acme-challenge.example.test')).sort()).toEqual([
      'apex-value',
      'wildcard-value',
    ]);
    await p.cleanup(apex);
    expect(await txtValues(knot, '_acme-challenge.example.test')).toEqual(['wildcard-value']);
    await p.cleanup(wildcard);
    expect(await txtValues(knot, '_acme-challenge.example.test')).toEqual([]);
  });

  it('finds the zone of a deeper name (the SOA in the server answer)', async () => {
    const p = createDnsProvider('le', 'rfc2136', env);
    const r = record('a.b.example.test', 'deep');
    await p.present(r);
    expect(await txtValues(knot, '_acme-challenge.a.b.example.test')).toEqual(['deep']);
    await p.cleanup(r);
    expect(await txtValues(knot, '_acme-challenge.a.b.example.test')).toEqual([]);
  });

  it('reads the secret from RFC2136_TSIG_SECRET_FILE', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-dns-'));
    const file = path.join(dir, 'secret');
    writeFileSync(file, `${knot.tsig.secret}\n`);
    const { RFC2136_TSIG_SECRET: _, ...rest } = env;
    const p = createDnsProvider('le', 'rfc2136', { ...rest, RFC2136_TSIG_SECRET_FILE: file });
    const r = record('file.example.test', 'from-file');
    await p.present(r);
    expect(await txtValues(knot, '_acme-challenge.file.example.test')).toEqual(['from-file']);
    await p.cleanup(r);
  });

  it('reads the key from RFC2136_TSIG_FILE in BIND format', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-dns-'));
    const file = path.join(dir, 'portico.key');
    writeFileSync(
      file,
      `key "${knot.tsig.name}" {\n\talgorithm hmac-sha256;\n\tsecret "${knot.tsig.secret}";\n};\n`,
    );
    const p = createDnsProvider('le', 'rfc2136', {
      RFC2136_NAMESERVER: knot.address,
      RFC2136_TSIG_FILE: file,
    });
    const r = record('keyfile.example.test', 'from-key-file');
    await p.present(r);
    expect(await txtValues(knot, '_acme-challenge.keyfile.example.test')).toEqual([
      'from-key-file',
    ]);
    await p.cleanup(r);
  });

  it.each([
    [
      'a wrong secret',
      { RFC2136_TSIG_SECRET: Buffer.alloc(32, 7).toString('base64') },
      /NOTAUTH|BADSIG/,
    ],
    ['an unknown key', { RFC2136_TSIG_KEY: 'other-key.' }, /NOTAUTH|BADKEY/],
    ['no key at all', { RFC2136_TSIG_KEY: '', RFC2136_TSIG_SECRET: '' }, /REFUSED|NOTAUTH/],
  ])('is refused by the server with %s, and nothing is published', async (_, override, error) => {
    const p = createDnsProvider('le', 'rfc2136', { ...env, ...override });
    await expect(p.present(record('refused.example.test', 'nope'))).rejects.toThrow(error);
    expect(await txtValues(knot, '_acme-challenge.refused.example.test')).toEqual([]);
  });

  it('reports a name outside the server zones', async () => {
    const p = createDnsProvider('le', 'rfc2136', env);
    await expect(p.present(record('elsewhere.invalid', 'x'))).rejects.toThrow(
      /rfc2136: .*(not authoritative|REFUSED|NOTAUTH|NOTZONE)/,
    );
  });

  it('takes lego timings and TTL from the environment, with lego defaults', () => {
    const d = createDnsProvider('le', 'rfc2136', env);
    expect([d.propagationTimeoutMs, d.pollingIntervalMs]).toEqual([60_000, 2_000]);
    const t = createDnsProvider('le', 'rfc2136', {
      ...env,
      RFC2136_PROPAGATION_TIMEOUT: '90',
      RFC2136_POLLING_INTERVAL: '1',
    });
    expect([t.propagationTimeoutMs, t.pollingIntervalMs]).toEqual([90_000, 1_000]);
  });

  it.each([
    [{}, /RFC2136_NAMESERVER/],
    [
      {
        RFC2136_NAMESERVER: '127.0.0.1',
        RFC2136_TSIG_KEY: 'k.',
        RFC2136_TSIG_SECRET: 'c2VjcmV0',
        RFC2136_TSIG_ALGORITHM: 'hmac-sha3.',
      },
      /unsupported algorithm "hmac-sha3\."/,
    ],
  ])(
    'refuses an incomplete configuration, naming the variable and the resolver (%o)',
    (e, error) => {
      expect(() => createDnsProvider('le', 'rfc2136', e)).toThrow(error);
      expect(() => createDnsProvider('le', 'rfc2136', e)).toThrow(
        /certificatesResolvers\.le\.acme\.dnsChallenge\.provider/,
      );
    },
  );
});

/*
 * A server (or anyone on the path) answering NOERROR to an update without a
 * valid TSIG signature must not pass for success: the record may not exist.
 */
describe('rfc2136 provider against a server that does not sign its answers', () => {
  it('refuses an unsigned NOERROR answer to a signed update', async () => {
    const dgram = await import('node:dgram');
    const server = dgram.createSocket('udp4');
    server.on('message', (msg, rinfo) => {
      const reply = Buffer.from(msg.subarray(0, 12));
      const opcode = (msg.readUInt16BE(2) >> 11) & 0x0f;
      reply.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400, 2); // QR, same opcode, AA, NOERROR
      reply.writeUInt16BE(0, 6);
      reply.writeUInt16BE(0, 8);
      reply.writeUInt16BE(0, 10);
      if (opcode === 0) {
        // a SOA query: the question, and example.test's SOA in the answer
        const qEnd = msg.indexOf(0, 12) + 5;
        const soa = Buffer.concat([
          Buffer.from([0x07, ...Buffer.from('example'), 0x04, ...Buffer.from('test'), 0x00]),
          Buffer.from([0, 6, 0, 1, 0, 0, 0, 60]),
        ]);
        const rdata = Buffer.concat([Buffer.from([0, 0]), Buffer.alloc(20, 1)]);
        const rr = Buffer.concat([soa, Buffer.from([0, rdata.length]), rdata]);
        reply.writeUInt16BE(1, 6);
        server.send(Buffer.concat([reply, msg.subarray(12, qEnd), rr]), rinfo.port, rinfo.address);
      } else {
        reply.writeUInt16BE(0, 4);
        server.send(reply, rinfo.port, rinfo.address);
      }
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    try {
      const p = createDnsProvider('le', 'rfc2136', {
        RFC2136_NAMESERVER: `127.0.0.1:${server.address().port}`,
        RFC2136_TSIG_KEY: 'k.',
        RFC2136_TSIG_SECRET: Buffer.alloc(32, 1).toString('base64'),
        RFC2136_TSIG_ALGORITHM: 'hmac-sha256.',
      });
      await expect(p.present(record('example.test', 'v'))).rejects.toThrow(
        /rfc2136: DNS update to 127\.0\.0\.1:\d+ not confirmed: dns: the response is not signed \(TSIG\)/,
      );
    } finally {
      server.close();
    }
  });
});
