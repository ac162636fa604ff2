/*
 * lego's `rfc2136` provider: DNS UPDATE (RFC 2136) to the primary name server,
 * signed with TSIG (RFC 8945) when a key is configured. Works with BIND, Knot,
 * PowerDNS and anything else that takes dynamic updates.
 *
 * Environment (lego's names; the DNSUPDATE_* names of newer lego work too):
 * RFC2136_NAMESERVER (host or host:port, required), RFC2136_TSIG_KEY,
 * RFC2136_TSIG_SECRET (base64), RFC2136_TSIG_ALGORITHM (default hmac-sha1.),
 * RFC2136_TTL (120), RFC2136_PROPAGATION_TIMEOUT (60), RFC2136_POLLING_INTERVAL
 * (2), RFC2136_DNS_TIMEOUT (10), all in seconds. RFC2136_TSIG_FILE names a key
 * file in BIND's format (`key "name" { algorithm hmac-sha256; secret "..."; };`,
 * what tsig-keygen and keymgr write), read as newer lego reads it.
 *
 * Present adds the one TXT record and cleanup deletes that record only (RFC
 * 2136 2.5.1, 2.5.4). lego deletes the whole RRset before adding; Portico
 * does not, so two orders for the same name (a wildcard and its apex as two
 * certificates) never erase each other's answer.
 */
import {
  buildUpdate,
  exchange,
  fqdn,
  newId,
  parseMessage,
  query,
  rcodeName,
  signTsig,
  TSIG_ALGORITHM_NAMES,
  tsigAlgorithm,
  TYPE,
  verifyTsig,
  type TsigKey,
  type TxtChange,
} from './wire.js';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_POLLING_INTERVAL_MS,
  DEFAULT_PROPAGATION_TIMEOUT_MS,
  DEFAULT_TTL,
  DnsProviderError,
  ProviderEnv,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './provider.js';

const names = (suffix: string): string[] => [`RFC2136_${suffix}`, `DNSUPDATE_${suffix}`];

/** The first `key` block of a BIND key file (lego's ReadTSIGFile). */
export function parseTsigFile(text: string): {
  name?: string;
  algorithm?: string;
  secret?: string;
} {
  const unquote = (v: string): string => v.replace(/^"(.*)"$/, '$1');
  const key: { name?: string; algorithm?: string; secret?: string } = {};
  let inKey = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/;$/, '').trim();
    if (!line) continue;
    if (inKey && /^}/.test(line)) break;
    const fields = line.split(/\s+/);
    if (fields[0] === 'key') {
      inKey = true;
      if (fields[1]) key.name = unquote(fields[1]);
    } else if (inKey && fields.length === 2) {
      if (fields[0] === 'algorithm') key.algorithm = unquote(fields[1]!);
      else if (fields[0] === 'secret') key.secret = unquote(fields[1]!);
    }
  }
  return key;
}

export function createRfc2136Provider(env: Env, name = 'rfc2136'): DnsProvider {
  const e = new ProviderEnv(env, name);
  const [rawServer] = e.require(names('NAMESERVER'));
  // lego: a missing port means 53
  const nameserver =
    /:\d+$/.test(rawServer!) || rawServer!.startsWith('[') ? rawServer! : `${rawServer}:53`;
  let keyName = e.get(...names('TSIG_KEY'));
  let secret = e.get(...names('TSIG_SECRET'));
  let algorithm = e.get(...names('TSIG_ALGORITHM')) ?? 'hmac-sha1.';
  // not e.get: RFC2136_TSIG_FILE is itself a file name, not a <NAME>_FILE secret
  const keyFile = env.RFC2136_TSIG_FILE || env.DNSUPDATE_TSIG_FILE;
  if (keyFile) {
    let parsed: ReturnType<typeof parseTsigFile>;
    try {
      parsed = parseTsigFile(readFileSync(keyFile, 'utf8'));
    } catch (err) {
      throw new DnsProviderError(
        `${name}: cannot read RFC2136_TSIG_FILE (${keyFile}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        { cause: err },
      );
    }
    if (!parsed.name || !parsed.secret || !parsed.algorithm)
      throw new DnsProviderError(`${name}: RFC2136_TSIG_FILE (${keyFile}): no complete key block`);
    keyName = parsed.name;
    secret = parsed.secret;
    algorithm = parsed.algorithm;
  }
  let key: TsigKey | undefined;
  if (keyName && secret) {
    if (!tsigAlgorithm(algorithm))
      throw new DnsProviderError(
        `${name}: RFC2136_TSIG_ALGORITHM: unsupported algorithm "${algorithm}" (supported: ${TSIG_ALGORITHM_NAMES.join(', ')})`,
      );
    if (Buffer.from(secret, 'base64').length === 0)
      throw new DnsProviderError(`${name}: RFC2136_TSIG_SECRET is not base64`);
    key = { name: keyName, algorithm, secret };
  }
  const ttl = e.int(names('TTL'), DEFAULT_TTL);
  const timeoutMs = e.seconds(names('DNS_TIMEOUT'), 10_000);

  /** The zone holding `name`: the SOA the primary returns for it (answer or authority section). */
  const findZone = async (recordName: string): Promise<string> => {
    const reply = await query(nameserver, recordName, TYPE.SOA, { recursive: false, timeoutMs });
    const soa = [...reply.answers, ...reply.authority].find((r) => r.type === TYPE.SOA);
    if (!soa)
      throw new DnsProviderError(
        `${name}: ${nameserver} is not authoritative for ${recordName} (${rcodeName(reply.rcode)}, no SOA)`,
      );
    return soa.name;
  };

  const update = async (change: TxtChange): Promise<void> => {
    const zone = await findZone(change.name);
    let msg = buildUpdate(newId(), zone, [change]);
    let mac: Buffer | undefined;
    if (key) ({ message: msg, mac } = signTsig(msg, key));
    let raw: Buffer;
    try {
      raw = await exchange(msg, nameserver, timeoutMs);
    } catch (err) {
      throw new DnsProviderError(`${name}: DNS update failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const reply = parseMessage(raw);
    if (reply.rcode !== 0)
      throw new DnsProviderError(
        `${name}: DNS update failed: server ${nameserver} replied ${rcodeName(reply.rcode)} for ${change.action} in ${zone}`,
      );
    if (key && mac) {
      try {
        verifyTsig(raw, reply, key, mac);
      } catch (err) {
        throw new DnsProviderError(
          `${name}: DNS update to ${nameserver} not confirmed: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  };

  return {
    name,
    propagationTimeoutMs: e.seconds(names('PROPAGATION_TIMEOUT'), DEFAULT_PROPAGATION_TIMEOUT_MS),
    pollingIntervalMs: e.seconds(names('POLLING_INTERVAL'), DEFAULT_POLLING_INTERVAL_MS),
    present: (r: DnsChallengeRecord) =>
      update({ action: 'add', name: fqdn(r.fqdn), value: r.value, ttl }),
    cleanup: (r: DnsChallengeRecord) =>
      update({ action: 'delete', name: fqdn(r.fqdn), value: r.value, ttl }),
  };
}
