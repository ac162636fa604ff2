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
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { DynamicConfig } from '../../config/dynamic.js';
import type { ProviderSnapshot } from '../../config/provider.js';
import type { AcmeResolverConfig } from '../../config/static-types.js';
import { parseRule, ruleHosts } from '../../rules/index.js';
import { createAcmeResolver, type AcmeResolver } from './resolver.js';
import { createHttp01Responder, HTTP01_PREFIX } from './challenges.js';
import { FileStorage } from '../storage/file.js';
import { RedisStorage } from '../storage/redis.js';
import type { CertificateStorage, StoredCertificate } from '../storage/types.js';

export const ACME_PROVIDER = 'internal';

export interface AcmeManager {
  /** the challenge router/service and the certificates so far */
  snapshot(): ProviderSnapshot;
  /** look at a new merged configuration: order what routers ask for */
  update(config: DynamicConfig): void;
  status(): ReturnType<AcmeResolver['status']>;
  close(): Promise<void>;
}

function domainsOf(rule: string): string[] {
  try {
    return ruleHosts(parseRule(rule)) ?? [];
  } catch {
    return [];
  }
}

export async function createAcmeManager(opts: {
  resolvers: Record<string, AcmeResolverConfig>;
  logger: Logger;
  /** a new snapshot for the aggregator (certificates changed) */
  emit: (snapshot: ProviderSnapshot) => void;
}): Promise<AcmeManager> {
  const log = opts.logger.child({ component: 'acme' });
  const http01 = createHttp01Responder();
  const challengeServer = http.createServer((req, res) => {
    if (!http01.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => challengeServer.listen(0, '127.0.0.1', resolve));
  const challengePort = (challengeServer.address() as AddressInfo).port;

  const certificates = new Map<string, StoredCertificate>();
  const resolvers = new Map<
    string,
    { resolver: AcmeResolver; config: AcmeResolverConfig; storage: CertificateStorage }
  >();
  const asked = new Set<string>();

  const snapshot = (): ProviderSnapshot => {
    const routers: NonNullable<NonNullable<DynamicConfig['http']>['routers']> = {};
    const services: NonNullable<NonNullable<DynamicConfig['http']>['services']> = {};
    const entryPoints = [
      ...new Set([...resolvers.values()].map((r) => r.config.httpChallenge.entryPoint)),
    ];
    if (entryPoints.length > 0) {
      routers['acme-http'] = {
        rule: `PathPrefix(\`${HTTP01_PREFIX}\`)`,
        service: 'acme-http',
        entryPoints,
        priority: Number.MAX_SAFE_INTEGER,
      };
      services['acme-http'] = {
        loadBalancer: { servers: [{ url: `http://127.0.0.1:${challengePort}` }] },
      };
    }
    return {
      provider: ACME_PROVIDER,
      config: {
        http: { routers, services },
        tls: {
          certificates: [...certificates.values()].map((c) => ({
            certFile: c.certificatePem,
            keyFile: c.keyPem,
          })),
        },
      },
      errors: [],
    };
  };

  const publish = (cert: StoredCertificate): void => {
    const key = cert.domains.main;
    const prev = certificates.get(key);
    if (prev !== undefined && prev.serialNumber === cert.serialNumber) return;
    certificates.set(key, cert);
    log.info(
      { domain: key, sans: cert.domains.sans, notAfter: cert.notAfter, serial: cert.serialNumber },
      'acme: certificate ready',
    );
    opts.emit(snapshot());
  };

  for (const [name, config] of Object.entries(opts.resolvers)) {
    const storage: CertificateStorage = /^rediss?:\/\//.test(config.storage)
      ? new RedisStorage({ url: config.storage })
      : new FileStorage(config.storage);
    const resolver = createAcmeResolver({
      name,
      email: config.email,
      caServer: config.caServer,
      storage,
      keyType: config.keyType,
      challenge: 'http-01',
      http01,
      caCertificates: config.caCertificates.map((c) =>
        c.includes('-----BEGIN') ? c : readFileSync(c, 'utf8'),
      ),
      ...(config.eab ? { eab: config.eab } : {}),
      logger: log.child({ resolver: name }),
      onCertificate: publish,
    });
    resolvers.set(name, { resolver, config, storage });
    resolver
      .start()
      .catch((err: unknown) =>
        log.error({ resolver: name, err: String(err) }, 'acme: start failed'),
      );
  }

  return {
    snapshot,
    status: () => [...resolvers.values()].flatMap((r) => r.resolver.status()),
    update(config) {
      for (const [routerName, r] of Object.entries(config.http?.routers ?? {})) {
        const resolverName = r.tls?.certResolver;
        if (resolverName === undefined) continue;
        const entry = resolvers.get(resolverName);
        if (entry === undefined) {
          log.warn(
            { router: routerName, certResolver: resolverName },
            `acme: router ${routerName}: certificate resolver "${resolverName}" does not exist`,
          );
          continue;
        }
        const wanted =
          r.tls?.domains && r.tls.domains.length > 0
            ? r.tls.domains
                .filter((d) => d.main)
                .map((d) => ({ main: d.main!, sans: d.sans ?? [] }))
            : domainsOf(r.rule).map((main) => ({ main, sans: [] as string[] }));
        for (const d of wanted) {
          const key = `${resolverName}\u0000${d.main}\u0000${d.sans.join(',')}`;
          if (asked.has(key)) continue;
          asked.add(key);
          entry.resolver.obtain(d).then(publish, (err: unknown) =>
            // recorded in the resolver's status with its backoff; say it once here with the router
            log.error(
              { router: routerName, domain: d.main, err: (err as Error).message },
              `acme: ${d.main}: ${(err as Error).message}`,
            ),
          );
        }
      }
    },
    async close() {
      for (const { resolver, storage } of resolvers.values()) {
        await resolver.close().catch(() => undefined);
        await storage.close?.().catch(() => undefined);
      }
      challengeServer.close();
      challengeServer.closeAllConnections();
    },
  };
}
