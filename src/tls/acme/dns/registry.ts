/*
 * DNS-01 providers by their lego name (Traefik's dnsChallenge.provider). An
 * unknown name is an error naming the resolver and the option, with the
 * closest known name; the resolver that named it fails its orders with that
 * error while the other resolvers carry on (Traefik logs lego's
 * "unrecognized DNS provider" for that resolver only).
 */
import { suggest } from '../../../kernel/suggest.js';
import { createCloudflareProvider } from './cloudflare.js';
import { createDigitalOceanProvider } from './digitalocean.js';
import { createExecProvider } from './exec.js';
import { createGandiV5Provider } from './gandiv5.js';
import { createHttpReqProvider } from './httpreq.js';
import { DnsProviderError, type DnsProvider, type Env } from './provider.js';
import { createRoute53Provider } from './route53.js';
import { createRfc2136Provider } from './rfc2136.js';

export type { DnsChallengeRecord, DnsProvider, Env } from './provider.js';
export { DnsProviderError } from './provider.js';

const PROVIDERS: Record<string, (env: Env, name: string) => DnsProvider> = {
  cloudflare: createCloudflareProvider,
  digitalocean: createDigitalOceanProvider,
  exec: createExecProvider,
  gandiv5: createGandiV5Provider,
  httpreq: createHttpReqProvider,
  rfc2136: createRfc2136Provider,
  // lego's newer name for rfc2136
  dnsupdate: createRfc2136Provider,
  route53: createRoute53Provider,
};

export const DNS_PROVIDER_NAMES = Object.keys(PROVIDERS).sort();

/**
 * The provider `name` configured from `env`; throws a DnsProviderError naming
 * `certificatesResolvers.<resolver>.acme.dnsChallenge.provider` when the name
 * is unknown, or the provider's own message when its configuration is incomplete.
 */
export function createDnsProvider(resolver: string, name: string, env: Env): DnsProvider {
  const field = `certificatesResolvers.${resolver}.acme.dnsChallenge.provider`;
  const factory = Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
  if (!factory) {
    const hint = suggest(name, DNS_PROVIDER_NAMES);
    throw new DnsProviderError(
      `resolver ${resolver}: ${field}: unknown DNS provider "${name}"` +
        (hint ? `, did you mean "${hint}"?` : ` (known: ${DNS_PROVIDER_NAMES.join(', ')})`),
    );
  }
  try {
    return factory(env, name);
  } catch (err) {
    throw new DnsProviderError(`resolver ${resolver}: ${field}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
