/*
 * lego's `gandiv5` provider, against Gandi's LiveDNS API
 * (https://api.gandi.net/docs/livedns/).
 *
 * GANDIV5_PERSONAL_ACCESS_TOKEN ("Authorization: Bearer"), or the deprecated
 * GANDIV5_API_KEY ("Authorization: Apikey"). GANDIV5_TTL (300, the minimum),
 * GANDIV5_PROPAGATION_TIMEOUT (1200), GANDIV5_POLLING_INTERVAL (20),
 * GANDIV5_HTTP_TIMEOUT (10). GANDIV5_API_URL (Portico's, for tests) replaces
 * https://api.gandi.net/v5/livedns.
 *
 * Present adds the value to the name's TXT RRset (PUT with the existing
 * values, as lego does); cleanup puts back the others, or deletes the RRset
 * when none are left (lego deletes the RRset whatever it holds).
 */
import {
  apiJson,
  candidateZones,
  DnsProviderError,
  joinUrl,
  ProviderEnv,
  relativeName,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './provider.js';
import { unFqdn } from './wire.js';

interface RRSet {
  rrset_ttl?: number;
  rrset_values?: string[];
}

export function createGandiV5Provider(env: Env, name = 'gandiv5'): DnsProvider {
  const e = new ProviderEnv(env, name);
  const pat = e.get('GANDIV5_PERSONAL_ACCESS_TOKEN');
  const apiKey = e.get('GANDIV5_API_KEY');
  if (!pat && !apiKey)
    throw new DnsProviderError(
      `${name}: some credentials information are missing: GANDIV5_PERSONAL_ACCESS_TOKEN`,
    );
  const auth = { authorization: pat ? `Bearer ${pat}` : `Apikey ${apiKey}` };
  const ttl = e.int('GANDIV5_TTL', 300);
  if (ttl < 300)
    throw new DnsProviderError(`${name}: invalid TTL, TTL (${ttl}) must be greater than 300`);
  const timeoutMs = e.seconds('GANDIV5_HTTP_TIMEOUT', 10_000);
  const base = e.url('GANDIV5_API_URL', 'https://api.gandi.net/v5/livedns');

  const findZone = async (fqdn: string): Promise<string> => {
    for (const zone of candidateZones(fqdn)) {
      const { status } = await apiJson(
        name,
        'GET',
        joinUrl(base, `domains/${zone}`),
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

  const rrsetUrl = (zone: string, r: DnsChallengeRecord): URL =>
    joinUrl(base, `domains/${zone}/records/${relativeName(r.fqdn, zone)}/TXT`);

  const current = async (url: URL): Promise<string[]> => {
    const { status, data } = await apiJson<RRSet>(name, 'GET', url, auth, undefined, {
      okStatuses: [404],
      timeoutMs,
    });
    return status === 404 ? [] : (data?.rrset_values ?? []);
  };

  const write = async (method: 'PUT' | 'DELETE', url: URL, body?: RRSet): Promise<void> => {
    await apiJson(name, method, url, auth, body, { timeoutMs }).catch((err: unknown) => {
      if (err instanceof Error && /the answer is not JSON$/.test(err.message)) return;
      throw err;
    });
  };

  return {
    name,
    propagationTimeoutMs: e.seconds('GANDIV5_PROPAGATION_TIMEOUT', 20 * 60_000),
    pollingIntervalMs: e.seconds('GANDIV5_POLLING_INTERVAL', 20_000),
    async present(r) {
      const url = rrsetUrl(await findZone(r.fqdn), r);
      const values = await current(url);
      await write('PUT', url, {
        rrset_ttl: ttl,
        rrset_values: [r.value, ...values.filter((v) => v !== r.value)],
      });
    },
    async cleanup(r) {
      const url = rrsetUrl(await findZone(r.fqdn), r);
      // the API returns TXT values in quotes; compare without them
      const rest = (await current(url)).filter((v) => v.replace(/^"|"$/g, '') !== r.value);
      if (rest.length) await write('PUT', url, { rrset_ttl: ttl, rrset_values: rest });
      else await write('DELETE', url);
    },
  };
}
