/*
 * lego's `route53` provider, against the Amazon Route 53 API (2013-04-01,
 * REST/XML: https://docs.aws.amazon.com/Route53/latest/APIReference/), with
 * requests signed by AWS Signature Version 4 (sigV4 below, ~40 lines, rather
 * than the AWS SDK's dozens of packages).
 *
 * Credentials from the environment as the SDK reads them: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), AWS_REGION (accepted;
 * Route 53 is global and signs for us-east-1). AWS_HOSTED_ZONE_ID skips the
 * zone lookup; AWS_PRIVATE_ZONE=true looks for a private zone. AWS_TTL (10),
 * AWS_PROPAGATION_TIMEOUT (120), AWS_POLLING_INTERVAL (4),
 * AWS_WAIT_FOR_RECORD_SETS_CHANGED (true: wait until the change is INSYNC).
 * AWS_ENDPOINT_URL_ROUTE_53 or AWS_ENDPOINT_URL (the SDK's override
 * variables) replace https://route53.amazonaws.com.
 *
 * Present UPSERTs the name's TXT RRset with the new value added to what is
 * there; cleanup UPSERTs the rest, or DELETEs the RRset when it was the last
 * value (lego does the same).
 */
import { createHash, createHmac } from 'node:crypto';
import {
  apiRequest,
  candidateZones,
  DnsProviderError,
  joinUrl,
  ProviderEnv,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './provider.js';
import { fqdn as toFqdn, unFqdn } from './wire.js';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else %XX. */
function awsEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/**
 * Signs a request with AWS Signature Version 4
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
 * returns the headers to send (x-amz-date, the session token, Authorization).
 */
export function sigV4(
  req: { method: string; url: URL; headers: Record<string, string>; body: string },
  creds: AwsCredentials,
  region: string,
  service: string,
  now: Date = new Date(),
): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v])),
    host: req.url.host,
    'x-amz-date': amzDate,
    ...(creds.sessionToken ? { 'x-amz-security-token': creds.sessionToken } : {}),
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names
    .map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const query = [...req.url.searchParams.entries()]
    .map(([k, v]) => [awsEncode(k), awsEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = req.url.pathname
    .split('/')
    .map((seg) => awsEncode(decodeURIComponent(seg)))
    .join('/');
  const canonical = [
    req.method,
    path || '/',
    query,
    canonicalHeaders,
    signedHeaders,
    sha256(req.body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, date), region), service),
    'aws4_request',
  );
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const xmlUnescape = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const tags = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
const tag = (xml: string, name: string): string | undefined => tags(xml, name)[0];

export function createRoute53Provider(env: Env, name = 'route53'): DnsProvider {
  const e = new ProviderEnv(env, name);
  const [accessKeyId, secretAccessKey] = e.require(
    ['AWS_ACCESS_KEY_ID'],
    ['AWS_SECRET_ACCESS_KEY'],
  );
  const creds: AwsCredentials = {
    accessKeyId: accessKeyId!,
    secretAccessKey: secretAccessKey!,
    sessionToken: e.get('AWS_SESSION_TOKEN'),
  };
  const hostedZoneId = e.get('AWS_HOSTED_ZONE_ID');
  const privateZone = e.get('AWS_PRIVATE_ZONE') === 'true';
  const waitInSync = e.get('AWS_WAIT_FOR_RECORD_SETS_CHANGED') !== 'false';
  const ttl = e.int('AWS_TTL', 10);
  const base = e.url(
    ['AWS_ENDPOINT_URL_ROUTE_53', 'AWS_ENDPOINT_URL'],
    'https://route53.amazonaws.com',
  );
  const propagationTimeoutMs = e.seconds('AWS_PROPAGATION_TIMEOUT', 120_000);
  const pollingIntervalMs = e.seconds('AWS_POLLING_INTERVAL', 4_000);

  const call = async (method: 'GET' | 'POST', path: string, body = ''): Promise<string> => {
    const url = joinUrl(base, path);
    const headers = sigV4(
      { method, url, headers: body ? { 'content-type': 'application/xml' } : {}, body },
      creds,
      'us-east-1',
      'route53',
    );
    let res;
    try {
      res = await apiRequest(method, url, headers, body || undefined);
    } catch (err) {
      throw new DnsProviderError(`${name}: ${method} ${url.pathname}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (res.status < 200 || res.status > 299) {
      const code = tag(res.body, 'Code');
      const message = tag(res.body, 'Message');
      throw new DnsProviderError(
        `${name}: ${method} ${url.pathname}: HTTP ${res.status}${code ? `: ${code}` : ''}${message ? `: ${xmlUnescape(message)}` : ''}`,
      );
    }
    return res.body;
  };

  const findZone = async (fqdn: string): Promise<string> => {
    if (hostedZoneId) return hostedZoneId.replace(/^\/?hostedzone\//, '');
    for (const zone of candidateZones(fqdn)) {
      const xml = await call(
        'GET',
        `2013-04-01/hostedzonesbyname?dnsname=${encodeURIComponent(zone)}&maxitems=1`,
      );
      for (const hz of tags(xml, 'HostedZone')) {
        const isPrivate = tag(hz, 'PrivateZone') === 'true';
        if (tag(hz, 'Name') === `${zone}.` && isPrivate === privateZone)
          return tag(hz, 'Id')!.replace(/^\/hostedzone\//, '');
      }
    }
    throw new DnsProviderError(`${name}: no hosted zone found for ${unFqdn(fqdn)}`);
  };

  const existing = async (
    zoneId: string,
    fqdn: string,
  ): Promise<{ values: string[]; ttl: number }> => {
    const xml = await call(
      'GET',
      `2013-04-01/hostedzone/${zoneId}/rrset?name=${encodeURIComponent(fqdn)}&type=TXT&maxitems=1`,
    );
    const set = tags(xml, 'ResourceRecordSet').find(
      (s) => toFqdn(xmlUnescape(tag(s, 'Name') ?? '')) === toFqdn(fqdn) && tag(s, 'Type') === 'TXT',
    );
    return set
      ? { values: tags(set, 'Value').map(xmlUnescape), ttl: Number(tag(set, 'TTL') ?? ttl) }
      : { values: [], ttl };
  };

  const change = async (
    zoneId: string,
    action: 'UPSERT' | 'DELETE',
    fqdn: string,
    values: string[],
    setTtl: number,
  ): Promise<void> => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
      '<ChangeBatch><Comment>Managed by Portico</Comment><Changes><Change>' +
      `<Action>${action}</Action><ResourceRecordSet><Name>${xmlEscape(fqdn)}</Name><Type>TXT</Type><TTL>${setTtl}</TTL>` +
      `<ResourceRecords>${values.map((v) => `<ResourceRecord><Value>${xmlEscape(v)}</Value></ResourceRecord>`).join('')}</ResourceRecords>` +
      '</ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>';
    const xml = await call('POST', `2013-04-01/hostedzone/${zoneId}/rrset/`, body);
    if (!waitInSync) return;
    const id = tag(xml, 'Id')?.replace(/^\/change\//, '');
    if (!id) return;
    const deadline = Date.now() + propagationTimeoutMs;
    for (let status = tag(xml, 'Status'); status !== 'INSYNC';) {
      if (Date.now() > deadline)
        throw new DnsProviderError(`${name}: change ${id} not INSYNC in time (${status})`);
      await new Promise((r) => setTimeout(r, pollingIntervalMs));
      status = tag(await call('GET', `2013-04-01/change/${id}`), 'Status');
    }
  };

  // TXT values go to Route 53 in quotes (a character-string in master-file syntax)
  const quoted = (r: DnsChallengeRecord): string => `"${r.value}"`;

  return {
    name,
    propagationTimeoutMs,
    pollingIntervalMs,
    async present(r) {
      const zoneId = await findZone(r.fqdn);
      const values = (await existing(zoneId, r.fqdn)).values.filter((v) => v !== quoted(r));
      await change(zoneId, 'UPSERT', r.fqdn, [...values, quoted(r)], ttl);
    },
    async cleanup(r) {
      const zoneId = await findZone(r.fqdn);
      const { values, ttl: setTtl } = await existing(zoneId, r.fqdn);
      const rest = values.filter((v) => v !== quoted(r));
      if (rest.length === values.length) return;
      if (rest.length) await change(zoneId, 'UPSERT', r.fqdn, rest, ttl);
      // a DELETE must match the RRset exactly, values and TTL
      else await change(zoneId, 'DELETE', r.fqdn, values, setTtl);
    },
  };
}
