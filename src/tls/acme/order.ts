/*
 * One certificate order (RFC 8555 section 7.4) through acme-client: create the
 * order, answer each authorization's challenge through the responders (and
 * tell the other replicas, who may receive the CA's validation request),
 * finalize with a new key, download the chain. No locking and no retries
 * here: the resolver decides when to order and what a failure means.
 */
import * as acme from 'acme-client';
import {
  storedCertificateFrom,
  type CertificateDomains,
  type KeyType,
  type SharedChallenge,
  type StoredCertificate,
} from '../storage/types.js';
import type { Dns01Solver, Http01Responder, TlsAlpnResponder } from './challenges.js';
import type { AcmeLogger } from './errors.js';

export type AcmeChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';

export async function createKey(type: KeyType): Promise<string> {
  switch (type) {
    case 'EC256':
      return (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    case 'EC384':
      return (await acme.crypto.createPrivateEcdsaKey('P-384')).toString();
    case 'RSA2048':
      return (await acme.crypto.createPrivateRsaKey(2048)).toString();
    case 'RSA4096':
      return (await acme.crypto.createPrivateRsaKey(4096)).toString();
  }
}

export interface ChallengeResponders {
  http01?: Http01Responder | undefined;
  tlsAlpn?: TlsAlpnResponder | undefined;
  /** DNS-01 (dnsChallenge): the resolver's challenge, or for names the others cannot answer */
  dns01?: Dns01Solver | undefined;
}

/** Publishes or withdraws a challenge answer on this process's responders (ours or a replica's). */
export async function applyChallenge(
  responders: ChallengeResponders,
  c: SharedChallenge,
): Promise<void> {
  if (c.type === 'http-01') {
    if (!responders.http01) return;
    if (c.action === 'add') responders.http01.set(c.token, c.keyAuthorization, c.domain);
    else responders.http01.delete(c.token);
  } else {
    if (!responders.tlsAlpn) return;
    if (c.action === 'add') {
      const authz = { identifier: { type: 'dns', value: c.domain } } as acme.Authorization;
      const [key, cert] = await acme.crypto.createAlpnCertificate(
        authz,
        c.keyAuthorization,
        await acme.crypto.createPrivateEcdsaKey(),
      );
      responders.tlsAlpn.set(c.domain, key, cert);
    } else responders.tlsAlpn.delete(c.domain);
  }
}

export interface OrderOptions extends ChallengeResponders {
  resolver: string;
  challenge: AcmeChallengeType;
  keyType: KeyType;
  preferredChain?: string | undefined;
  /** wait between publishing a challenge and asking the CA to validate it */
  challengeDelayMs: number;
  /** the account's client; asked for once the order is known to be possible */
  client(): Promise<acme.Client>;
  /** tells the other replicas about a challenge (never throws) */
  share(c: SharedChallenge): Promise<void>;
  log: AcmeLogger;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Answers one authorization's challenge and waits for the CA to validate it. */
async function solve(
  client: acme.Client,
  authz: acme.Authorization,
  opts: OrderOptions,
): Promise<void> {
  if (authz.status === 'valid') return;
  const domain = authz.identifier.value;
  // as lego picks: DNS-01 when it is the only challenge configured, or when the
  // configured one is not offered (a wildcard's authorization offers only DNS-01)
  const dns = authz.challenges.find((c) => c.type === 'dns-01');
  if (
    opts.dns01 &&
    dns &&
    (opts.challenge === 'dns-01' || !authz.challenges.some((c) => c.type === opts.challenge))
  )
    return opts.dns01.solve(client, authz, dns);
  if (opts.challenge === 'dns-01')
    throw new Error(`the CA offers no dns-01 challenge for ${domain}, or no DNS provider is ready`);
  const challenge = authz.challenges.find((c) => c.type === opts.challenge);
  if (!challenge)
    throw new Error(
      `the CA offers no ${opts.challenge} challenge for ${domain} (offered: ${authz.challenges.map((c) => c.type).join(', ')})`,
    );
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
  const shared: SharedChallenge = {
    type: opts.challenge,
    action: 'add',
    domain,
    token: challenge.token,
    keyAuthorization,
  };
  await applyChallenge(opts, shared);
  await opts.share(shared);
  try {
    if (opts.challengeDelayMs > 0) await sleep(opts.challengeDelayMs);
    // no client-side pre-check (verifyChallenge): it would resolve the name
    // through the host's resolver and port 80/443; the CA's validation decides
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
  } finally {
    const removal: SharedChallenge = { ...shared, action: 'remove' };
    await applyChallenge(opts, removal).catch(() => undefined);
    await opts.share(removal);
  }
}

/** Orders, validates and downloads a certificate for `domains`; throws on any failure. */
export async function orderCertificate(
  domains: CertificateDomains,
  opts: OrderOptions,
): Promise<StoredCertificate> {
  const names = [domains.main, ...domains.sans];
  const wildcard = names.find((n) => n.startsWith('*.'));
  if (wildcard && !opts.dns01)
    throw new Error(`${wildcard}: wildcard certificates need the DNS-01 challenge (dnsChallenge)`);
  const client = await opts.client();
  opts.log.info(
    { resolver: opts.resolver, domain: domains.main, sans: domains.sans },
    'ordering certificate',
  );
  const created = await client.createOrder({
    identifiers: names.map((value) => ({ type: 'dns', value })),
  });
  const authzs = await client.getAuthorizations(created);
  for (const authz of authzs) await solve(client, authz, opts);
  const keyPem = await createKey(opts.keyType);
  const [, csr] = await acme.crypto.createCsr(
    { commonName: domains.main, altNames: names },
    keyPem,
  );
  const finalized = await client.finalizeOrder(created, csr);
  const chain = await client.getCertificate(finalized, opts.preferredChain);
  return storedCertificateFrom(domains, chain, keyPem);
}
