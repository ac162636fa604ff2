/*
 * lego's `httpreq` provider: POSTs the record to an HTTP endpoint of your own.
 *
 *   POST <HTTPREQ_ENDPOINT>/present  {"fqdn":"_acme-challenge.example.com.","value":"..."}
 *   POST <HTTPREQ_ENDPOINT>/cleanup  (same body)
 *
 * With HTTPREQ_MODE=RAW the body is {"domain","token","keyAuth"} instead.
 * HTTPREQ_USERNAME and HTTPREQ_PASSWORD (both set) add Basic auth; any 2xx
 * answer is success. HTTPREQ_PROPAGATION_TIMEOUT (60), HTTPREQ_POLLING_INTERVAL
 * (2) and HTTPREQ_HTTP_TIMEOUT (30), in seconds.
 */
import {
  apiJson,
  DEFAULT_POLLING_INTERVAL_MS,
  DEFAULT_PROPAGATION_TIMEOUT_MS,
  joinUrl,
  ProviderEnv,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './provider.js';

export function createHttpReqProvider(env: Env, name = 'httpreq'): DnsProvider {
  const e = new ProviderEnv(env, name);
  e.require(['HTTPREQ_ENDPOINT']);
  const endpoint = e.url('HTTPREQ_ENDPOINT', '');
  const raw = e.get('HTTPREQ_MODE') === 'RAW';
  const user = e.get('HTTPREQ_USERNAME');
  const password = e.get('HTTPREQ_PASSWORD');
  const auth: Record<string, string> =
    user && password
      ? { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }
      : {};

  const timeoutMs = e.seconds('HTTPREQ_HTTP_TIMEOUT', 30_000);

  const post = async (path: '/present' | '/cleanup', r: DnsChallengeRecord): Promise<void> => {
    const body = raw
      ? { domain: r.domain, token: r.token, keyAuth: r.keyAuthorization }
      : { fqdn: r.fqdn, value: r.value };
    await apiJson(name, 'POST', joinUrl(endpoint, path), auth, body, { timeoutMs }).catch(
      (err: unknown) => {
        // a 2xx with a non-JSON body is still success (lego ignores the body)
        if (err instanceof Error && /the answer is not JSON$/.test(err.message)) return;
        throw err;
      },
    );
  };

  return {
    name,
    propagationTimeoutMs: e.seconds('HTTPREQ_PROPAGATION_TIMEOUT', DEFAULT_PROPAGATION_TIMEOUT_MS),
    pollingIntervalMs: e.seconds('HTTPREQ_POLLING_INTERVAL', DEFAULT_POLLING_INTERVAL_MS),
    present: (r) => post('/present', r),
    cleanup: (r) => post('/cleanup', r),
  };
}
