/*
 * The DNS-01 propagation check: before the CA is asked to validate, the TXT
 * record must be visible, or the CA fails the order and the resolver backs
 * off. Same checks as lego's dns01 pre-check, which Traefik configures from
 * `dnsChallenge.resolvers` and `dnsChallenge.propagation`:
 *
 * - the challenge name's CNAME chain is followed through the recursive
 *   nameservers (lego's "effective FQDN", where delegated setups put the record);
 * - recursive check: every recursive nameserver (`resolvers`, else the
 *   system's) answers the value, RD=1;
 * - authoritative check: every name server of the zone (NS records, port 53)
 *   answers the value, RD=0.
 *
 * With no `propagation` block both checks run (lego's default). With one, as
 * Traefik maps it: `disableANSChecks` drops the authoritative check,
 * `requireAllRNS` keeps the recursive one (off otherwise), `delayBeforeChecks`
 * waits first, `disableChecks` only waits. The provider's lego timeout and
 * polling interval bound the loop.
 */
import dns from 'node:dns';
import { fqdn as toFqdn, query, rcodeName, TYPE, unFqdn } from './wire.js';

export interface PropagationOptions {
  delayBeforeChecksMs: number;
  disableChecks: boolean;
  requireAllRNS: boolean;
  disableANSChecks: boolean;
}

/** lego's defaults when Traefik's `propagation` block is absent */
export const DEFAULT_PROPAGATION: PropagationOptions = {
  delayBeforeChecksMs: 0,
  disableChecks: false,
  requireAllRNS: true,
  disableANSChecks: false,
};

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const QUERY_TIMEOUT_MS = 5_000;
const AUTHORITATIVE_PORT = 53;

/** `resolvers`, else the system's nameservers (lego reads /etc/resolv.conf), as host:port. */
export function recursiveNameservers(resolvers: readonly string[]): string[] {
  const list = resolvers.length ? [...resolvers] : dns.getServers();
  return list.length ? list : ['8.8.8.8:53', '8.8.4.4:53'];
}

/** Asks each server in turn until one answers (any rcode). */
async function ask(servers: readonly string[], name: string, type: number, recursive: boolean) {
  let last: unknown;
  for (const s of servers) {
    try {
      return await query(s, name, type, { recursive, timeoutMs: QUERY_TIMEOUT_MS });
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no nameserver answered for ${name}: ${errorMessage(last)}`);
}

/** The end of the CNAME chain from `name` (lego: GetChallengeInfo's effective FQDN). */
export async function effectiveFqdn(servers: readonly string[], name: string): Promise<string> {
  let current = toFqdn(name);
  for (let i = 0; i < 50; i++) {
    const reply = await ask(servers, current, TYPE.CNAME, true);
    const cname = reply.answers.find((r) => r.type === TYPE.CNAME && r.name === current);
    if (!cname) return current;
    current = toFqdn(cname.data);
  }
  return current;
}

/** The zone holding `name`: the owner of the SOA in the answer or authority section. */
export async function findZone(servers: readonly string[], name: string): Promise<string> {
  const labels = unFqdn(toFqdn(name)).split('.');
  for (let i = 0; i < labels.length; i++) {
    const candidate = `${labels.slice(i).join('.')}.`;
    const reply = await ask(servers, candidate, TYPE.SOA, true);
    const soa = [...reply.answers, ...reply.authority].find((r) => r.type === TYPE.SOA);
    if (soa && (reply.rcode === 0 || reply.rcode === 3)) return soa.name;
  }
  throw new Error(`could not find the zone for ${name}`);
}

/** Every server answers `value` among the TXT records of `name`; throws what is wrong otherwise. */
async function checkServers(
  servers: readonly string[],
  name: string,
  value: string,
  recursive: boolean,
): Promise<void> {
  for (const server of servers) {
    const reply = await query(server, name, TYPE.TXT, { recursive, timeoutMs: QUERY_TIMEOUT_MS });
    if (reply.rcode !== 0)
      throw new Error(`NS ${server} returned ${rcodeName(reply.rcode)} for ${name}`);
    const values = reply.answers.filter((r) => r.type === TYPE.TXT).map((r) => r.data);
    if (!values.includes(value))
      throw new Error(
        `NS ${server} did not return the expected TXT record [fqdn: ${name}, value: ${value}]: ${values.join(', ')}`,
      );
  }
}

async function authoritativeServers(recursive: readonly string[], name: string): Promise<string[]> {
  const zone = await findZone(recursive, name);
  const reply = await ask(recursive, zone, TYPE.NS, true);
  const hosts = reply.answers.filter((r) => r.type === TYPE.NS).map((r) => r.data);
  if (!hosts.length) throw new Error(`could not determine authoritative nameservers for ${zone}`);
  const out: string[] = [];
  for (const host of hosts) {
    const a = await ask(recursive, host, TYPE.A, true);
    const v4 = a.answers.filter((r) => r.type === TYPE.A && r.data);
    for (const r of v4) out.push(`${r.data}:${AUTHORITATIVE_PORT}`);
    if (v4.length) continue;
    // an IPv6-only name server
    const aaaa = await ask(recursive, host, TYPE.AAAA, true);
    for (const r of aaaa.answers)
      if (r.type === TYPE.AAAA && r.data) out.push(`[${r.data}]:${AUTHORITATIVE_PORT}`);
  }
  if (!out.length)
    throw new Error(`could not resolve the nameservers of ${zone}: ${hosts.join(', ')}`);
  return out;
}

/** One round of the checks; throws the first failure. */
export async function checkPropagation(
  resolvers: readonly string[],
  name: string,
  value: string,
  opts: PropagationOptions,
): Promise<void> {
  const recursive = recursiveNameservers(resolvers);
  if (opts.requireAllRNS) await checkServers(recursive, name, value, true);
  if (!opts.disableANSChecks)
    await checkServers(await authoritativeServers(recursive, name), name, value, false);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the record is visible (or only waits, with disableChecks); throws
 * after `timeoutMs` with the last reason, as lego's "time limit exceeded".
 */
export async function waitForPropagation(
  resolvers: readonly string[],
  name: string,
  value: string,
  opts: PropagationOptions,
  timing: { timeoutMs: number; intervalMs: number },
  isClosed: () => boolean = () => false,
): Promise<void> {
  if (opts.delayBeforeChecksMs > 0) await sleep(opts.delayBeforeChecksMs);
  if (opts.disableChecks) return;
  const deadline = Date.now() + timing.timeoutMs;
  for (;;) {
    try {
      await checkPropagation(resolvers, name, value, opts);
      return;
    } catch (err) {
      if (Date.now() + timing.intervalMs > deadline || isClosed())
        throw new Error(`propagation: time limit exceeded: last error: ${errorMessage(err)}`, {
          cause: err,
        });
    }
    await sleep(timing.intervalMs);
  }
}
