/*
 * Answers the CA's validation requests while an order is pending.
 *
 * HTTP-01 (RFC 8555 8.3): GET /.well-known/acme-challenge/<token> on port 80
 * returns the key authorization. The future HTTP entrypoint calls handle()
 * before routing; it returns false for anything it does not know, so a user
 * router can still serve other paths under /.well-known/.
 *
 * TLS-ALPN-01 (RFC 8737): a TLS handshake on port 443 with SNI <domain> and
 * ALPN `acme-tls/1` must present a self-signed certificate carrying the
 * acmeIdentifier extension. getCertificate() hands that SecureContext to the
 * TLS entrypoint's SNICallback, only while the challenge is pending.
 *
 * DNS-01 (RFC 8555 8.4): a TXT record `_acme-challenge.<domain>` holding
 * base64url(SHA-256(keyAuthorization)), published through a DNS provider
 * (dns/), checked for propagation, then validated. The only challenge for
 * wildcard names. Nothing is shared between replicas: DNS is shared already.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import tls, { type SecureContext } from 'node:tls';
import type * as acme from 'acme-client';
import type { DnsChallengeConfig } from '../../config/static-types.js';
import { errorMessage, type AcmeLogger } from './errors.js';
import {
  createDnsProvider,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './dns/registry.js';
import {
  DEFAULT_PROPAGATION,
  effectiveFqdn,
  recursiveNameservers,
  waitForPropagation,
} from './dns/propagation.js';

export const HTTP01_PREFIX = '/.well-known/acme-challenge/';
export const ACME_TLS_ALPN = 'acme-tls/1';
/**
 * The internal service naming the loopback TLS-ALPN-01 responder of the process
 * running the resolvers; its address reaches the workers with the configuration.
 */
export const ACME_TLS_ALPN_SERVICE = 'acme-tls-alpn';

export interface Http01Responder {
  /** Answers a challenge request it knows; false (nothing written) otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Publishes `keyAuthorization` for `token`; with `domain`, only for requests to that host. */
  set(token: string, keyAuthorization: string, domain?: string): void;
  delete(token: string): void;
  /** number of pending tokens */
  readonly size: number;
}

function hostname(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (!host) return undefined;
  // strip the port, keep IPv6 literals intact
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(host.trim());
  return m?.[1]?.toLowerCase();
}

export function createHttp01Responder(): Http01Responder {
  const tokens = new Map<string, { keyAuthorization: string; domain: string | undefined }>();
  return {
    handle(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const url = req.url ?? '';
      const pathname = url.split('?', 1)[0]!;
      if (!pathname.startsWith(HTTP01_PREFIX)) return false;
      const token = pathname.slice(HTTP01_PREFIX.length);
      const entry = tokens.get(token);
      if (!entry) return false;
      const host = hostname(req);
      if (entry.domain && host && host !== entry.domain) return false;
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(entry.keyAuthorization),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : entry.keyAuthorization);
      return true;
    },
    set(token, keyAuthorization, domain) {
      tokens.set(token, { keyAuthorization, domain: domain?.toLowerCase() });
    },
    delete(token) {
      tokens.delete(token);
    },
    get size() {
      return tokens.size;
    },
  };
}

export interface TlsAlpnResponder {
  /**
   * The `acme-tls/1` certificate for `servername` while its challenge is
   * pending. Pass the client's offered ALPN protocols when known: the
   * challenge certificate is only for handshakes that offer `acme-tls/1`.
   */
  getCertificate(
    servername: string,
    offeredProtocols?: readonly string[],
  ): SecureContext | undefined;
  /** A ready SNICallback for a TLS server dedicated to challenges. */
  sniCallback(servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void;
  /** Publishes the challenge certificate (from acme-client's crypto.createAlpnCertificate). */
  set(servername: string, keyPem: string | Buffer, certPem: string | Buffer): void;
  delete(servername: string): void;
  readonly size: number;
}

export function createTlsAlpnResponder(): TlsAlpnResponder {
  const contexts = new Map<string, SecureContext>();
  const getCertificate = (
    servername: string,
    offered?: readonly string[],
  ): SecureContext | undefined => {
    if (offered && !offered.includes(ACME_TLS_ALPN)) return undefined;
    return contexts.get(servername.toLowerCase());
  };
  return {
    getCertificate,
    sniCallback(servername, cb) {
      cb(null, getCertificate(servername));
    },
    set(servername, keyPem, certPem) {
      contexts.set(
        servername.toLowerCase(),
        tls.createSecureContext({ key: keyPem, cert: certPem }),
      );
    },
    delete(servername) {
      contexts.delete(servername.toLowerCase());
    },
    get size() {
      return contexts.size;
    },
  };
}

type Challenge = acme.Authorization['challenges'][number];

export interface Dns01Solver {
  readonly provider: DnsProvider;
  /**
   * Answers the DNS-01 challenges of `authzs` as lego's parallelSolve does:
   * publish every record, then for each one wait for propagation and have the
   * CA validate it, then withdraw them all (whatever the outcome).
   */
  solveAll(client: acme.Client, authzs: readonly acme.Authorization[]): Promise<void>;
}

/** The record of a DNS-01 challenge (RFC 8555 8.4): name and value. */
export function dns01Record(
  domain: string,
  token: string,
  keyAuthorization: string,
): DnsChallengeRecord {
  const bare = domain.replace(/^\*\./, '').toLowerCase().replace(/\.$/, '');
  return {
    domain: bare,
    fqdn: `_acme-challenge.${bare}.`,
    value: createHash('sha256').update(keyAuthorization).digest('base64url'),
    token,
    keyAuthorization,
  };
}

/**
 * The DNS-01 solver of resolver `resolver`: its provider from the environment
 * (lego's variables), its propagation checks from the static configuration.
 * Throws a DnsProviderError for an unknown provider or missing credentials.
 */
export function createDns01Solver(opts: {
  resolver: string;
  config: DnsChallengeConfig;
  env?: Env;
  log: AcmeLogger;
  isClosed?: () => boolean;
}): Dns01Solver {
  const { resolver, config, log } = opts;
  const provider = createDnsProvider(resolver, config.provider, opts.env ?? process.env);
  const propagation = config.propagation ?? DEFAULT_PROPAGATION;
  // lego's LEGO_DISABLE_CNAME_SUPPORT: publish at _acme-challenge.<domain> even if it is a CNAME
  const followCname = (opts.env ?? process.env).LEGO_DISABLE_CNAME_SUPPORT !== 'true';
  const publish = async (
    client: acme.Client,
    authz: acme.Authorization,
  ): Promise<{ challenge: Challenge; record: DnsChallengeRecord }> => {
    const challenge = authz.challenges.find((c) => c.type === 'dns-01');
    if (!challenge)
      throw new Error(`the CA offers no dns-01 challenge for ${authz.identifier.value}`);
    // the raw key authorization: acme-client digests it for dns-01, and lego's RAW modes pass it on
    const keyAuthorization = await client.getChallengeKeyAuthorization({
      ...challenge,
      type: 'http-01',
    } as Challenge);
    const record = dns01Record(authz.identifier.value, challenge.token, keyAuthorization);
    if (followCname) {
      try {
        record.fqdn = await effectiveFqdn(recursiveNameservers(config.resolvers), record.fqdn);
      } catch (err) {
        log.debug(
          { resolver, domain: record.domain, err: errorMessage(err) },
          'dns-01: cannot look for a CNAME, using the challenge name',
        );
      }
    }
    log.info(
      { resolver, domain: record.domain, fqdn: record.fqdn, provider: provider.name },
      'dns-01: publishing the challenge record',
    );
    await provider.present(record);
    return { challenge, record };
  };

  return {
    provider,
    async solveAll(client, authzs) {
      const published: { challenge: Challenge; record: DnsChallengeRecord }[] = [];
      try {
        for (const authz of authzs) published.push(await publish(client, authz));
        for (const { challenge, record } of published) {
          await waitForPropagation(
            config.resolvers,
            record.fqdn,
            record.value,
            propagation,
            { timeoutMs: provider.propagationTimeoutMs, intervalMs: provider.pollingIntervalMs },
            opts.isClosed,
          );
          await client.completeChallenge(challenge);
          await client.waitForValidStatus(challenge);
        }
      } finally {
        for (const { record } of published)
          await provider
            .cleanup(record)
            .catch((err: unknown) =>
              log.warn(
                { resolver, domain: record.domain, err: errorMessage(err) },
                'dns-01: cannot remove the challenge record',
              ),
            );
      }
    },
  };
}
