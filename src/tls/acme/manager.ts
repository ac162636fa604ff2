/*
 * Wires ACME resolvers to the routing configuration. It runs where the
 * providers run (the primary), watches the merged configuration for routers
 * with `tls.certResolver`, obtains their domains (tls.domains, else the Host
 * names of the rule), and hands the certificates back as a provider snapshot
 * (`tls.certificates` with inline PEM), so they reach every worker's
 * certificate store like any other configuration.
 *
 * HTTP-01 challenges are answered by a small loopback server here; an
 * internal router on the httpChallenge entrypoint forwards
 * /.well-known/acme-challenge/ to it, so whichever worker receives the CA's
 * request can answer it.
 *
 * TLS-ALPN-01 challenges are answered by a loopback TLS server here as well;
 * its address travels to the workers as the internal service
 * `acme-tls-alpn`, and a TLS entrypoint that reads a ClientHello offering
 * only `acme-tls/1` relays the connection to it (src/tls/handshake.ts).
 *
 * The default TLS store's defaultGeneratedCert is ordered the same way; its
 * certificate becomes the store's default where the store is built.
 *
 * The pieces: the challenge servers (listenChallengeServers), the resolvers
 * over their storages (startResolvers), what a configuration asks to be
 * ordered (createOrdering), and the snapshot that publishes the certificates.
 */
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { DynamicConfig, TcpRouterConfig } from '../../config/dynamic.js';
import type { ProviderSnapshot } from '../../config/provider.js';
import type { AcmeResolverConfig } from '../../config/static-types.js';
import { parseRule, ruleHosts } from '../../rules/index.js';
import { buildTcpRule } from '../../rules/tcp.js';
import { createAcmeResolver, type AcmeResolver } from './resolver.js';
import {
  ACME_TLS_ALPN,
  ACME_TLS_ALPN_SERVICE,
  createHttp01Responder,
  createTlsAlpnResponder,
  HTTP01_PREFIX,
  type Http01Responder,
  type TlsAlpnResponder,
} from './challenges.js';
import { FileStorage } from '../storage/file.js';
import { RedisStorage } from '../storage/redis.js';
import type { CertificateStorage, StoredCertificate } from '../storage/types.js';
import { pemText } from '../certificate.js';

export const ACME_PROVIDER = 'internal';

export interface AcmeManager {
  /** the challenge router/service and the certificates so far */
  snapshot(): ProviderSnapshot;
  /** look at a new merged configuration: order what routers ask for */
  update(config: DynamicConfig): void;
  status(): ReturnType<AcmeResolver['status']>;
  /** per-domain status by resolver name, for the API */
  statusByResolver(): Record<string, ReturnType<AcmeResolver['status']>>;
  close(): Promise<void>;
}

function domainsOf(rule: string): string[] {
  try {
    return ruleHosts(parseRule(rule)) ?? [];
  } catch {
    return [];
  }
}

type RouterConfig = NonNullable<NonNullable<DynamicConfig['http']>['routers']>[string];

/** The domains a router asks for, as Traefik reads them: tls.domains, else the Host names of its rule. */
export function wantedDomains(r: RouterConfig): { main: string; sans: string[] }[] {
  return r.tls?.domains && r.tls.domains.length > 0
    ? r.tls.domains.filter((d) => d.main).map((d) => ({ main: d.main!, sans: d.sans ?? [] }))
    : domainsOf(r.rule).map((main) => ({ main, sans: [] as string[] }));
}

/*
 * tls.stores.default.defaultGeneratedCert (issue 13 item 2): the resolver
 * obtains the domain as it does a router's, and the certificate is published
 * with the others; the certificate store makes the one covering these domains
 * its default (src/tls/store.ts). As Traefik (pkg/provider/acme/provider.go
 * watchNewDomains): only the `default` store is used, a defaultCertificate
 * takes precedence and nothing is ordered, and an incomplete one orders
 * nothing. Bad values are reported by the store, with the field.
 */
export function defaultGeneratedDomains(
  stores: NonNullable<DynamicConfig['tls']>['stores'],
): { resolver: string; domain: { main: string; sans: string[] } } | undefined {
  const store = stores?.default;
  const generated = store?.defaultGeneratedCert;
  if (generated === undefined || store?.defaultCertificate !== undefined) return undefined;
  const main = generated.domain?.main;
  if (!generated.resolver || !main) return undefined;
  return { resolver: generated.resolver, domain: { main, sans: generated.domain?.sans ?? [] } };
}

/**
 * The domains a TCP router asks for: tls.domains, else each name of its HostSNI matchers
 * (one certificate per name, as Traefik's resolveDomains), the catch-all `*` left out.
 */
export function wantedTcpDomains(r: TcpRouterConfig): { main: string; sans: string[] }[] {
  if (r.tls?.domains && r.tls.domains.length > 0)
    return r.tls.domains.filter((d) => d.main).map((d) => ({ main: d.main!, sans: d.sans ?? [] }));
  let names: string[];
  try {
    names = buildTcpRule(r.rule).hostSNIs;
  } catch {
    // the router is reported by compile; nothing to order
    return [];
  }
  return [...new Set(names.filter((n) => n !== '*'))].map((main) => ({ main, sans: [] }));
}

/** The loopback servers that answer HTTP-01 and TLS-ALPN-01 challenges. */
interface ChallengeServers {
  http01: Http01Responder;
  tlsAlpn: TlsAlpnResponder;
  httpPort: number;
  /** only when a resolver uses the TLS-ALPN-01 challenge */
  tlsAlpnPort: number | undefined;
  close(): void;
}

async function listenChallengeServers(usesTlsAlpn: boolean): Promise<ChallengeServers> {
  const http01 = createHttp01Responder();
  const challengeServer = http.createServer((req, res) => {
    if (!http01.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => challengeServer.listen(0, '127.0.0.1', resolve));
  const httpPort = (challengeServer.address() as AddressInfo).port;
  const tlsAlpn = createTlsAlpnResponder();
  let tlsAlpnServer: tls.Server | undefined;
  if (usesTlsAlpn) {
    // no certificate of its own: a handshake for a name without a pending challenge just fails
    tlsAlpnServer = tls.createServer({
      SNICallback: (name, cb) => tlsAlpn.sniCallback(name, cb),
      ALPNProtocols: [ACME_TLS_ALPN],
      handshakeTimeout: 10_000,
    });
    tlsAlpnServer.on('tlsClientError', () => undefined);
    // the CA's validator only needs the handshake; close what it leaves open
    tlsAlpnServer.on('secureConnection', (socket: tls.TLSSocket) => socket.end());
    await new Promise<void>((resolve) => tlsAlpnServer!.listen(0, '127.0.0.1', resolve));
  }
  return {
    http01,
    tlsAlpn,
    httpPort,
    tlsAlpnPort:
      tlsAlpnServer === undefined ? undefined : (tlsAlpnServer.address() as AddressInfo).port,
    close() {
      challengeServer.close();
      challengeServer.closeAllConnections();
      tlsAlpnServer?.close();
    },
  };
}

/**
 * The manager's provider snapshot: the challenge router and services, and the
 * certificates obtained so far (inline PEM), so they reach every worker.
 */
export function acmeSnapshot(
  httpChallengeEntryPoints: readonly string[],
  httpPort: number,
  tlsAlpnPort: number | undefined,
  certificates: Iterable<{ cert: StoredCertificate; resolver: string }>,
): ProviderSnapshot {
  const routers: NonNullable<NonNullable<DynamicConfig['http']>['routers']> = {};
  const services: NonNullable<NonNullable<DynamicConfig['http']>['services']> = {};
  const entryPoints = [...new Set(httpChallengeEntryPoints)];
  if (entryPoints.length > 0) {
    routers['acme-http'] = {
      rule: `PathPrefix(\`${HTTP01_PREFIX}\`)`,
      service: 'acme-http',
      entryPoints,
      priority: Number.MAX_SAFE_INTEGER,
    };
    services['acme-http'] = {
      loadBalancer: { servers: [{ url: `http://127.0.0.1:${httpPort}` }] },
    };
  }
  if (tlsAlpnPort !== undefined) {
    services[ACME_TLS_ALPN_SERVICE] = {
      loadBalancer: { servers: [{ url: `https://127.0.0.1:${tlsAlpnPort}` }] },
    };
  }
  return {
    provider: ACME_PROVIDER,
    config: {
      http: { routers, services },
      tls: {
        certificates: [...certificates].map(({ cert, resolver }) => ({
          certFile: cert.certificatePem,
          keyFile: cert.keyPem,
          resolver,
        })),
      },
    },
    errors: [],
  };
}

/** `redis://` or `rediss://` stores in Redis (shared by a cluster), anything else is a file path. */
function openStorage(location: string): CertificateStorage {
  return /^rediss?:\/\//.test(location)
    ? new RedisStorage({ url: location })
    : new FileStorage(location);
}

/**
 * One storage per location: resolvers commonly share one acme.json (Traefik
 * keys it by resolver name), and a FileStorage serialises its read-modify-write
 * cycles only within itself, so two over one file would lose each other's
 * certificates when they save at once.
 */
function storageOpener(): {
  open(location: string): CertificateStorage;
  close(): Promise<void>;
} {
  const opened = new Map<string, CertificateStorage>();
  return {
    open(location) {
      const key = /^rediss?:\/\//.test(location) ? location : path.resolve(location);
      let s = opened.get(key);
      if (s === undefined) opened.set(key, (s = openStorage(location)));
      return s;
    },
    async close() {
      for (const s of opened.values()) await s.close?.().catch(() => undefined);
    },
  };
}

interface ResolverEntry {
  resolver: AcmeResolver;
  config: AcmeResolverConfig;
}

export interface AcmeManagerOptions {
  resolvers: Record<string, AcmeResolverConfig>;
  logger: Logger;
  /** a new snapshot for the aggregator (certificates changed) */
  emit: (snapshot: ProviderSnapshot) => void;
  /**
   * Resolves once the entrypoints can answer challenges (in a cluster: a worker
   * listens and routes with the challenge routers). Orders and renewals wait for
   * it: a CA that validates too early fails the order and backs off for a minute.
   */
  whenReady?: Promise<void>;
}

/**
 * One resolver per configured name into `resolvers`, over the storage of its
 * location, started (renewals, stored certificates) once `whenReady` resolves.
 */
function startResolvers(
  configs: Record<string, AcmeResolverConfig>,
  resolvers: Map<string, ResolverEntry>,
  c: {
    challenges: ChallengeServers;
    storages: ReturnType<typeof storageOpener>;
    whenReady: Promise<void>;
    log: Logger;
    publish: (resolver: string, cert: StoredCertificate) => void;
  },
): void {
  const { challenges, log } = c;
  for (const [name, config] of Object.entries(configs)) {
    const storage = c.storages.open(config.storage);
    const resolver = createAcmeResolver({
      name,
      email: config.email,
      caServer: config.caServer,
      storage,
      keyType: config.keyType,
      // both challenges configured: HTTP-01, as before tlsChallenge existed; DNS-01 also
      // answers what these cannot (wildcards)
      challenge: config.httpChallenge ? 'http-01' : config.tlsChallenge ? 'tls-alpn-01' : 'dns-01',
      ...(config.dnsChallenge ? { dnsChallenge: config.dnsChallenge } : {}),
      http01: challenges.http01,
      tlsAlpn: challenges.tlsAlpn,
      caCertificates: config.caCertificates.map(pemText),
      ...(config.eab ? { eab: config.eab } : {}),
      logger: log.child({ resolver: name }),
      onCertificate: (cert) => c.publish(name, cert),
    });
    resolvers.set(name, { resolver, config });
    resolver
      .start(c.whenReady)
      .catch((err: unknown) =>
        log.error({ resolver: name, err: String(err) }, 'acme: start failed'),
      );
  }
}

type Who = { router: string } | { tcpRouter: string } | { tlsStore: string };

/**
 * Orders what a merged configuration asks for: the domains of HTTP routers and
 * TCP routers with `tls.certResolver`, and the default store's
 * defaultGeneratedCert. Each domain set is ordered once per resolver.
 */
function createOrdering(c: {
  resolvers: ReadonlyMap<string, ResolverEntry>;
  whenReady: Promise<void>;
  log: Logger;
  publish: (resolver: string, cert: StoredCertificate) => void;
}): (config: DynamicConfig) => void {
  const { resolvers, whenReady, log } = c;
  const asked = new Set<string>();

  /** `who` (the router, or the TLS store) goes with the error when an order fails */
  const order = (
    who: Who,
    resolverName: string,
    entry: ResolverEntry,
    domains: readonly { main: string; sans: string[] }[],
  ) => {
    for (const d of domains) {
      const key = `${resolverName}\u0000${d.main}\u0000${d.sans.join(',')}`;
      if (asked.has(key)) continue;
      asked.add(key);
      whenReady
        .then(() => entry.resolver.obtain(d))
        .then(
          (cert) => c.publish(resolverName, cert),
          (err: unknown) =>
            // recorded in the resolver's status with its backoff; say it once here with the router
            log.error(
              { ...who, domain: d.main, err: (err as Error).message },
              `acme: ${d.main}: ${(err as Error).message}`,
            ),
        );
    }
  };

  /** a router's resolver, or undefined (with a warning) when it names none that exists */
  const resolverOf = (who: Who, what: string, resolverName: string): ResolverEntry | undefined => {
    const entry = resolvers.get(resolverName);
    if (entry === undefined)
      log.warn(
        { ...who, certResolver: resolverName },
        `acme: ${what}: certificate resolver "${resolverName}" does not exist`,
      );
    return entry;
  };

  const orderDefault = (stores: NonNullable<DynamicConfig['tls']>['stores']): void => {
    const wanted = defaultGeneratedDomains(stores);
    if (wanted === undefined) return;
    // the certificate store reports a missing resolver too, as tls.stores.default's error
    const entry = resolverOf({ tlsStore: 'default' }, 'tls store default', wanted.resolver);
    if (entry !== undefined)
      order({ tlsStore: 'default' }, wanted.resolver, entry, [wanted.domain]);
  };

  return (config) => {
    for (const [routerName, r] of Object.entries(config.http?.routers ?? {})) {
      const resolverName = r.tls?.certResolver;
      if (resolverName === undefined) continue;
      const who = { router: routerName };
      const entry = resolverOf(who, `router ${routerName}`, resolverName);
      if (entry !== undefined) order(who, resolverName, entry, wantedDomains(r));
    }
    // TCP routers that terminate TLS with a resolver, as Traefik's provider orders them
    for (const [routerName, r] of Object.entries(config.tcp?.routers ?? {})) {
      const resolverName = r.tls?.certResolver;
      if (resolverName === undefined) continue;
      const who = { tcpRouter: routerName };
      const entry = resolverOf(who, `tcp router ${routerName}`, resolverName);
      if (entry !== undefined) order(who, resolverName, entry, wantedTcpDomains(r));
    }
    orderDefault(config.tls?.stores);
  };
}

export async function createAcmeManager(opts: AcmeManagerOptions): Promise<AcmeManager> {
  const whenReady = opts.whenReady ?? Promise.resolve();
  const log = opts.logger.child({ component: 'acme' });
  const challenges = await listenChallengeServers(
    Object.values(opts.resolvers).some((r) => r.tlsChallenge !== undefined),
  );
  const certificates = new Map<string, { cert: StoredCertificate; resolver: string }>();
  const resolvers = new Map<string, ResolverEntry>();

  const snapshot = (): ProviderSnapshot =>
    acmeSnapshot(
      [...resolvers.values()].flatMap((r) =>
        r.config.httpChallenge ? [r.config.httpChallenge.entryPoint] : [],
      ),
      challenges.httpPort,
      challenges.tlsAlpnPort,
      certificates.values(),
    );

  const publish = (resolver: string, cert: StoredCertificate): void => {
    const key = cert.domains.main;
    const prev = certificates.get(key);
    if (prev !== undefined && prev.cert.serialNumber === cert.serialNumber) return;
    certificates.set(key, { cert, resolver });
    log.info(
      { domain: key, sans: cert.domains.sans, notAfter: cert.notAfter, serial: cert.serialNumber },
      'acme: certificate ready',
    );
    opts.emit(snapshot());
  };

  const storages = storageOpener();
  startResolvers(opts.resolvers, resolvers, { challenges, storages, whenReady, log, publish });
  const update = createOrdering({ resolvers, whenReady, log, publish });

  return {
    snapshot,
    status: () => [...resolvers.values()].flatMap((r) => r.resolver.status()),
    statusByResolver: () =>
      Object.fromEntries([...resolvers].map(([name, r]) => [name, r.resolver.status()])),
    update,
    async close() {
      for (const { resolver } of resolvers.values()) await resolver.close().catch(() => undefined);
      await storages.close();
      challenges.close();
    },
  };
}
