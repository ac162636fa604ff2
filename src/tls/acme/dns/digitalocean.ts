/*
 * lego's `digitalocean` provider, against the DigitalOcean API v2
 * (https://docs.digitalocean.com/reference/api/api-reference/#tag/Domain-Records).
 *
 * DO_AUTH_TOKEN ("Authorization: Bearer"), DO_TTL (30),
 * DO_PROPAGATION_TIMEOUT (60), DO_POLLING_INTERVAL (5), DO_HTTP_TIMEOUT (30);
 * DO_API_URL replaces https://api.digitalocean.com.
 */
import {
  apiJson,
  candidateZones,
  DEFAULT_PROPAGATION_TIMEOUT_MS,
  DnsProviderError,
  joinUrl,
  ProviderEnv,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './provider.js';
import { unFqdn } from './wire.js';

export function createDigitalOceanProvider(env: Env, name = 'digitalocean'): DnsProvider {
  const e = new ProviderEnv(env, name);
  const [token] = e.require(['DO_AUTH_TOKEN']);
  const auth = { authorization: `Bearer ${token}` };
  const ttl = e.int('DO_TTL', 30);
  const timeoutMs = e.seconds('DO_HTTP_TIMEOUT', 30_000);
  const base = e.url('DO_API_URL', 'https://api.digitalocean.com');
  const records = new Map<string, { zone: string; id: number }>();

  /** the longest candidate the account holds (GET /v2/domains/{name} answers 404 otherwise) */
  const findZone = async (fqdn: string): Promise<string> => {
    for (const zone of candidateZones(fqdn)) {
      const { status } = await apiJson(
        name,
        'GET',
        joinUrl(base, `v2/domains/${zone}`),
        auth,
        undefined,
        {
          okStatuses: [404],
          timeoutMs,
        },
      );
      if (status === 200) return zone;
    }
    throw new DnsProviderError(`${name}: no domain found for ${unFqdn(fqdn)}`);
  };

  const key = (r: DnsChallengeRecord): string => `${r.fqdn}\u0000${r.value}`;

  return {
    name,
    propagationTimeoutMs: e.seconds('DO_PROPAGATION_TIMEOUT', DEFAULT_PROPAGATION_TIMEOUT_MS),
    pollingIntervalMs: e.seconds('DO_POLLING_INTERVAL', 5_000),
    async present(r) {
      const zone = await findZone(r.fqdn);
      const { data } = await apiJson<{ domain_record: { id: number } }>(
        name,
        'POST',
        joinUrl(base, `v2/domains/${zone}/records`),
        auth,
        // the full name with its trailing dot, as lego sends it (the API takes FQDNs ending in ".")
        { type: 'TXT', name: r.fqdn, data: r.value, ttl },
        { timeoutMs },
      );
      records.set(key(r), { zone, id: data.domain_record.id });
    },
    async cleanup(r) {
      const rec = records.get(key(r));
      if (!rec) throw new DnsProviderError(`${name}: unknown record ID for '${r.fqdn}'`);
      await apiJson(
        name,
        'DELETE',
        joinUrl(base, `v2/domains/${rec.zone}/records/${rec.id}`),
        auth,
        undefined,
        {
          timeoutMs,
        },
      ).catch((err: unknown) => {
        // 204 No Content has no body
        if (err instanceof Error && /the answer is not JSON$/.test(err.message)) return;
        throw err;
      });
      records.delete(key(r));
    },
  };
}
