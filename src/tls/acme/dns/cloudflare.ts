/*
 * lego's `cloudflare` provider, against the Cloudflare API v4
 * (https://developers.cloudflare.com/api/resources/dns/subresources/records/).
 *
 * Credentials, as lego reads them (CLOUDFLARE_* names work as well as CF_*):
 * CF_DNS_API_TOKEN (DNS:Edit; "Authorization: Bearer"), optionally
 * CF_ZONE_API_TOKEN (Zone:Read, for finding the zone; defaults to the DNS
 * token), or the legacy global key CF_API_EMAIL + CF_API_KEY (X-Auth-Email,
 * X-Auth-Key), which wins when both are set. CF_TTL (120, the minimum),
 * CF_PROPAGATION_TIMEOUT (120), CF_POLLING_INTERVAL (2), CF_HTTP_TIMEOUT (30).
 * CLOUDFLARE_BASE_URL replaces https://api.cloudflare.com/client/v4.
 */
import {
  apiJson,
  candidateZones,
  DEFAULT_POLLING_INTERVAL_MS,
  DnsProviderError,
  joinUrl,
  ProviderEnv,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './provider.js';
import { unFqdn } from './wire.js';

interface CfResponse<T> {
  success: boolean;
  errors?: { code: number; message: string }[];
  result: T;
}

const alt = (suffix: string, cf = `CF_${suffix}`): string[] => [`CLOUDFLARE_${suffix}`, cf];

export function createCloudflareProvider(env: Env, name = 'cloudflare'): DnsProvider {
  const e = new ProviderEnv(env, name);
  const email = e.get(...alt('EMAIL', 'CF_API_EMAIL'));
  const apiKey = e.get(...alt('API_KEY'));
  let recordAuth: Record<string, string>;
  let zoneAuth: Record<string, string>;
  if (email && apiKey) {
    recordAuth = zoneAuth = { 'x-auth-email': email, 'x-auth-key': apiKey };
  } else {
    const dnsToken = e.get(...alt('DNS_API_TOKEN'));
    if (!dnsToken)
      throw new DnsProviderError(
        `${name}: some credentials information are missing: CF_API_EMAIL,CF_API_KEY or some credentials information are missing: CF_DNS_API_TOKEN,CF_ZONE_API_TOKEN`,
      );
    const zoneToken = e.get(...alt('ZONE_API_TOKEN')) ?? dnsToken;
    recordAuth = { authorization: `Bearer ${dnsToken}` };
    zoneAuth = { authorization: `Bearer ${zoneToken}` };
  }
  const ttl = e.int(alt('TTL'), 120);
  if (ttl < 120)
    throw new DnsProviderError(`${name}: invalid TTL, TTL (${ttl}) must be greater than 120`);
  const timeoutMs = e.seconds(alt('HTTP_TIMEOUT'), 30_000);
  const base = e.url(
    ['CLOUDFLARE_BASE_URL', 'CF_BASE_URL'],
    'https://api.cloudflare.com/client/v4',
  );
  const records = new Map<string, { zoneId: string; recordId: string }>();

  const call = async <T>(
    method: string,
    path: string,
    auth: Record<string, string>,
    body?: unknown,
  ): Promise<T> => {
    const { data } = await apiJson<CfResponse<T>>(name, method, joinUrl(base, path), auth, body, {
      timeoutMs,
    });
    if (!data?.success)
      throw new DnsProviderError(
        `${name}: ${method} ${path.split('?')[0]}: ${(data?.errors ?? []).map((x) => `${x.code}: ${x.message}`).join('; ') || 'unsuccessful'}`,
      );
    return data.result;
  };

  const zoneId = async (fqdn: string): Promise<string> => {
    for (const zone of candidateZones(fqdn)) {
      const zones = await call<{ id: string; name: string }[]>(
        'GET',
        `zones?name=${encodeURIComponent(zone)}&per_page=50`,
        zoneAuth,
      );
      const hit = zones.find((z) => z.name === zone);
      if (hit) return hit.id;
    }
    throw new DnsProviderError(`${name}: no zone found for ${unFqdn(fqdn)}`);
  };

  const key = (r: DnsChallengeRecord): string => `${r.fqdn}\u0000${r.value}`;

  return {
    name,
    propagationTimeoutMs: e.seconds(alt('PROPAGATION_TIMEOUT'), 120_000),
    pollingIntervalMs: e.seconds(alt('POLLING_INTERVAL'), DEFAULT_POLLING_INTERVAL_MS),
    async present(r) {
      const zone = await zoneId(r.fqdn);
      const created = await call<{ id: string }>('POST', `zones/${zone}/dns_records`, recordAuth, {
        type: 'TXT',
        name: unFqdn(r.fqdn),
        // Cloudflare asks for TXT content in quotes (as lego sends it)
        content: `"${r.value}"`,
        ttl,
      });
      records.set(key(r), { zoneId: zone, recordId: created.id });
    },
    async cleanup(r) {
      const rec = records.get(key(r));
      if (!rec) throw new DnsProviderError(`${name}: unknown record ID for '${r.fqdn}'`);
      await call('DELETE', `zones/${rec.zoneId}/dns_records/${rec.recordId}`, recordAuth);
      records.delete(key(r));
    },
  };
}
