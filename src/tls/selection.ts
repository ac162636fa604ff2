/*
 * Which TLS options a handshake gets. As in Traefik, options are chosen per
 * SNI name from the Host rules of the TLS routers of the entrypoint: a host
 * whose routers agree on one option set gets it; a host whose routers
 * disagree, a router without a Host rule, and a name no router claims get
 * `default`. Built by compile with the routing table, read by the
 * entrypoints' SNI and ALPN callbacks.
 */
import { BUILTIN_DEFAULT_OPTIONS, DEFAULT_TLS_OPTIONS, type TlsOptions } from './options.js';

export interface TlsSelection {
  /** the `default` option set (or the built-in defaults when it is missing or invalid) */
  readonly defaultOptions: TlsOptions;
  /** options for a handshake on `entryPoint` with SNI `servername` */
  optionsFor(entryPoint: string, servername: string | undefined): TlsOptions;
  /** whether some host of the entrypoint has options other than `default` */
  hasHostOptions(entryPoint: string): boolean;
  /**
   * Domain fronting guard (Traefik answers 421): a request whose Host has other
   * TLS options than the SNI name it was negotiated under, e.g. a client
   * certificate required for Host but not asked for under SNI.
   */
  misdirected(entryPoint: string, servername: string | undefined, host: string): boolean;
  /** where TLS-ALPN-01 handshakes go (the ACME manager's loopback responder) */
  readonly acmeTlsAlpn: { host: string; port: number } | undefined;
}

/** One router's claim: on this entrypoint, these hosts use this option set. */
export interface HostClaim {
  entryPoint: string;
  router: string;
  hosts: readonly string[];
  options: string;
}

export interface SelectionResult {
  selection: TlsSelection;
  /** router name → warnings (conflicting options on a host) */
  warnings: Map<string, string[]>;
}

export function buildTlsSelection(
  options: ReadonlyMap<string, TlsOptions>,
  claims: readonly HostClaim[],
  acmeTlsAlpn: { host: string; port: number } | undefined,
): SelectionResult {
  const defaultOptions = options.get(DEFAULT_TLS_OPTIONS) ?? BUILTIN_DEFAULT_OPTIONS;
  // entrypoint → host → option set name → routers
  const byEp = new Map<string, Map<string, Map<string, string[]>>>();
  for (const c of claims) {
    let hosts = byEp.get(c.entryPoint);
    if (hosts === undefined) byEp.set(c.entryPoint, (hosts = new Map()));
    for (const h of c.hosts) {
      const host = h.toLowerCase();
      let sets = hosts.get(host);
      if (sets === undefined) hosts.set(host, (sets = new Map()));
      const routers = sets.get(c.options) ?? [];
      routers.push(c.router);
      sets.set(c.options, routers);
    }
  }
  const warnings = new Map<string, string[]>();
  const resolved = new Map<string, Map<string, TlsOptions>>();
  for (const [ep, hosts] of byEp) {
    const out = new Map<string, TlsOptions>();
    for (const [host, sets] of hosts) {
      if (sets.size > 1) {
        const message = `found different TLS options for routers on the same host ${host} (${[...sets.keys()].sort().join(', ')}), so using the default TLS options instead`;
        for (const routers of sets.values())
          for (const r of routers) warnings.set(r, [...(warnings.get(r) ?? []), message]);
        continue;
      }
      const name = sets.keys().next().value!;
      const o = options.get(name);
      if (o !== undefined && o.key !== defaultOptions.key) out.set(host, o);
    }
    if (out.size > 0) resolved.set(ep, out);
  }
  const optionsFor = (ep: string, servername: string | undefined): TlsOptions => {
    if (servername === undefined || servername === '') return defaultOptions;
    return resolved.get(ep)?.get(servername.toLowerCase()) ?? defaultOptions;
  };
  return {
    warnings,
    selection: {
      defaultOptions,
      acmeTlsAlpn,
      optionsFor,
      hasHostOptions: (ep) => resolved.has(ep),
      misdirected(ep, servername, host) {
        if (!resolved.has(ep)) return false;
        if (servername !== undefined && servername.toLowerCase() === host) return false;
        return optionsFor(ep, servername).key !== optionsFor(ep, host).key;
      },
    },
  };
}
