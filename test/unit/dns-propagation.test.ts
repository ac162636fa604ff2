/*
 * The DNS-01 propagation check (issue 13 §3) as lego runs it and Traefik's
 * `propagation` block configures it, against a real Knot DNS server: the
 * record must be answered by the recursive servers (`resolvers`) and/or the
 * zone's authoritative servers; CNAMEs on the challenge name are followed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PROPAGATION,
  effectiveFqdn,
  findZone,
  waitForPropagation,
} from '../../src/tls/acme/dns/propagation.js';
import { createDnsProvider, type DnsChallengeRecord } from '../../src/tls/acme/dns/registry.js';
import { skipKnot, startKnot, zoneFile, type KnotServer } from '../helpers/knot.js';

const rnsOnly = {
  delayBeforeChecksMs: 0,
  disableChecks: false,
  requireAllRNS: true,
  disableANSChecks: true,
};
const quick = { timeoutMs: 1500, intervalMs: 100 };

describe.skipIf(skipKnot())('DNS-01 propagation check (real Knot DNS)', () => {
  let knot: KnotServer;

  beforeAll(async () => {
    knot = await startKnot({
      'example.test': zoneFile('example.test', [
        '_acme-challenge.alias IN CNAME _acme-challenge.target.example.test.',
      ]),
      // a zone whose only name server has an IPv6 address
      'v6.test': [
        '$TTL 60',
        '@ IN SOA ns6.v6.test. hostmaster.v6.test. 1 60 60 600 5',
        '@ IN NS ns6.v6.test.',
        'ns6 IN AAAA ::1',
        '',
      ].join('\n'),
    });
  }, 20_000);
  afterAll(async () => knot?.stop());

  const publish = async (name: string, value: string): Promise<DnsChallengeRecord> => {
    const p = createDnsProvider('le', 'rfc2136', {
      RFC2136_NAMESERVER: knot.address,
      RFC2136_TSIG_KEY: knot.tsig.name,
      RFC2136_TSIG_SECRET: knot.tsig.secret,
      RFC2136_TSIG_ALGORITHM: knot.tsig.algorithm,
    });
    const r = {
      domain: name,
      fqdn: `_acme-challenge.${name}.`,
      value,
      token: 't',
      keyAuthorization: 't.k',
    };
    await p.present(r);
    return r;
  };

  it('passes once the resolvers answer the value', async () => {
    const r = await publish('ok.example.test', 'published');
    await expect(
      waitForPropagation([knot.address], r.fqdn, r.value, rnsOnly, quick),
    ).resolves.toBeUndefined();
  });

  it("fails after the provider's timeout with lego's message and the last reason", async () => {
    await publish('other.example.test', 'some-other-value');
    await expect(
      waitForPropagation(
        [knot.address],
        '_acme-challenge.other.example.test.',
        'expected',
        rnsOnly,
        quick,
      ),
    ).rejects.toThrow(
      /^propagation: time limit exceeded: last error: NS 127\.0\.0\.1:\d+ did not return the expected TXT record \[fqdn: _acme-challenge\.other\.example\.test\., value: expected\]: some-other-value$/,
    );
  });

  it('asks the authoritative servers of the zone (its NS, port 53) unless disableANSChecks', async () => {
    const r = await publish('ans.example.test', 'v');
    // the zone's NS is ns.example.test = 127.0.0.1, port 53, where nothing answers in a test
    await expect(
      waitForPropagation(
        [knot.address],
        r.fqdn,
        r.value,
        { ...rnsOnly, disableANSChecks: false },
        quick,
      ),
    ).rejects.toThrow(/127\.0\.0\.1:53/);
  });

  it('asks an IPv6-only name server at its AAAA address', async () => {
    await expect(
      waitForPropagation(
        [knot.address],
        '_acme-challenge.v6.test.',
        'v',
        { ...rnsOnly, requireAllRNS: false, disableANSChecks: false },
        quick,
      ),
    ).rejects.toThrow(/\[0:0:0:0:0:0:0:1\]:53/);
  });

  it('only waits with disableChecks (the deprecated disablePropagationCheck)', async () => {
    await expect(
      waitForPropagation(
        [knot.address],
        '_acme-challenge.absent.example.test.',
        'never',
        { ...DEFAULT_PROPAGATION, disableChecks: true, delayBeforeChecksMs: 50 },
        quick,
      ),
    ).resolves.toBeUndefined();
  });

  it('finds the zone of a deep name and follows a CNAME on the challenge name', async () => {
    expect(await findZone([knot.address], '_acme-challenge.a.b.example.test.')).toBe(
      'example.test.',
    );
    expect(await effectiveFqdn([knot.address], '_acme-challenge.alias.example.test.')).toBe(
      '_acme-challenge.target.example.test.',
    );
    expect(await effectiveFqdn([knot.address], '_acme-challenge.plain.example.test.')).toBe(
      '_acme-challenge.plain.example.test.',
    );
  });
});
