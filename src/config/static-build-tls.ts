/*
 * Building the certificate side of the StaticConfig from the merged store:
 * ACME resolvers (certificatesResolvers.<name>.acme, with DNS-01) and the
 * domains of an entry point's TLS (entryPoints.<n>.http.tls.domains).
 */
import { StaticConfigError } from '../kernel/errors.js';
import { absolute, entry, renderFor, valueOf, type Context } from './static-store.js';
import type { DnsChallengeConfig, StaticConfig, TlsDomain } from './static-types.js';

/**
 * A name a certificate can be ordered for, or why not. Only the slips a
 * copied URL or address brings (scheme, port, path, spaces) are caught
 * here; the CA judges the rest, as it does for Traefik.
 */
function domainProblem(name: string): string | undefined {
  return /[\s/:@]/.test(name) ? `${JSON.stringify(name)} is not a domain name` : undefined;
}

/**
 * A list of {main, sans} (Traefik's []types.Domain) from the store: items in
 * index order, gaps closed, as paerser fills a slice of structs from the
 * indexes it finds. `main` is required: Portico orders nothing for an item
 * without it (Traefik would order its sans alone), so it is refused here.
 */
export function buildDomains(ctx: Context, list: string[]): TlsDomain[] {
  return ctx.store.listItems(list.join('.')).map(({ index, fields }) => {
    const item = [...list, `[${index}]`];
    const main = fields.get('main');
    if (main === undefined) {
      const other = [...fields.values()][0]!;
      // a file's items are reported at their line, as every file error is
      const line = other.source.kind === 'file' ? / \(line \d+\)$/.exec(other.origin)?.[0] : '';
      throw new StaticConfigError(
        `${renderFor(other.source, [...item, 'main'])}${line ?? ''}`,
        'required',
      );
    }
    const domain: TlsDomain = { main: String(main.value), sans: [] };
    const sans = fields.get('sans');
    if (sans !== undefined) domain.sans = (sans.value as unknown[]).map(String);
    for (const [e, names] of [
      [main, [domain.main]],
      [sans, domain.sans],
    ] as const) {
      for (const n of names) {
        const problem = domainProblem(n);
        if (problem !== undefined) throw new StaticConfigError(e!.origin, problem);
      }
    }
    return domain;
  });
}

/**
 * certificatesResolvers.<name>.acme.dnsChallenge. Traefik's deprecated
 * delayBeforeCheck and disablePropagationCheck fill in the propagation block
 * with a warning, as Traefik's static_config.go does.
 */
function buildDnsChallenge(
  ctx: Context,
  p: string,
  otherChallenge: boolean,
): DnsChallengeConfig | undefined {
  const d = `${p}.dnsChallenge`;
  if (!valueOf(ctx, d, false)) return undefined;
  const provider = String(entry(ctx, `${d}.provider`)?.value ?? '');
  if (!provider) {
    // Traefik skips a dnsChallenge without provider, and fails the resolver only when no
    // other challenge is set ("ACME challenge not specified, please select TLS or HTTP or DNS Challenge")
    if (!otherChallenge)
      throw new StaticConfigError(`${d}.provider`, 'is required with dnsChallenge');
    ctx.store.warnings.push(`${d} has no provider and is ignored`);
    return undefined;
  }
  const dns: DnsChallengeConfig = {
    provider,
    resolvers: valueOf<unknown[]>(ctx, `${d}.resolvers`, []).map(String),
  };
  const q = `${d}.propagation`;
  let propagation: DnsChallengeConfig['propagation'] = valueOf(ctx, q, false)
    ? {
        delayBeforeChecksMs: valueOf(ctx, `${q}.delayBeforeChecks`, 0),
        disableChecks: valueOf(ctx, `${q}.disableChecks`, false),
        requireAllRNS: valueOf(ctx, `${q}.requireAllRNS`, false),
        disableANSChecks: valueOf(ctx, `${q}.disableANSChecks`, false),
      }
    : undefined;
  const empty = {
    delayBeforeChecksMs: 0,
    disableChecks: false,
    requireAllRNS: false,
    disableANSChecks: false,
  };
  if (valueOf(ctx, `${d}.disablePropagationCheck`, false)) {
    ctx.store.warnings.push(
      `${d}.disablePropagationCheck is now deprecated, please use propagation.disableChecks instead`,
    );
    propagation = { ...(propagation ?? empty), disableChecks: true };
  }
  const delay = valueOf(ctx, `${d}.delayBeforeCheck`, 0);
  if (delay > 0) {
    ctx.store.warnings.push(
      `${d}.delayBeforeCheck is now deprecated, please use propagation.delayBeforeChecks instead`,
    );
    propagation = { ...(propagation ?? empty), delayBeforeChecksMs: delay };
  }
  if (propagation) dns.propagation = propagation;
  return dns;
}

/** certificatesResolvers.<name>.acme: a challenge is required; key type checked */
export function buildResolvers(ctx: Context): NonNullable<StaticConfig['certificatesResolvers']> {
  const { store } = ctx;
  const certificatesResolvers: StaticConfig['certificatesResolvers'] = {};
  for (const { name } of store.resolverNames.values()) {
    const p = `certificatesResolvers.${name}.acme`;
    if (!valueOf(ctx, p, false)) continue;
    const httpEp = entry(ctx, `${p}.httpChallenge.entryPoint`);
    const http = Boolean(valueOf(ctx, `${p}.httpChallenge`, false)) || httpEp !== undefined;
    const tlsCh = valueOf(ctx, `${p}.tlsChallenge`, false);
    const dns = buildDnsChallenge(ctx, p, http || Boolean(tlsCh));
    if (!http && !tlsCh && !dns) {
      throw new StaticConfigError(
        `${p}.httpChallenge.entryPoint`,
        'an ACME resolver needs httpChallenge, tlsChallenge or dnsChallenge',
      );
    }
    if (http && !httpEp)
      throw new StaticConfigError(
        `${p}.httpChallenge.entryPoint`,
        'is required with httpChallenge',
      );
    const epName = httpEp ? (store.knownName(String(httpEp.value)) ?? String(httpEp.value)) : '';
    const keyTypeEntry = entry(ctx, `${p}.keyType`);
    const keyType = String(keyTypeEntry?.value ?? 'RSA4096').toUpperCase();
    if (!['EC256', 'EC384', 'RSA2048', 'RSA4096', 'RSA8192'].includes(keyType)) {
      throw new StaticConfigError(
        keyTypeEntry!.origin,
        'must be EC256, EC384, RSA2048, RSA4096 or RSA8192',
      );
    }
    const storage = valueOf(ctx, `${p}.storage`, 'acme.json');
    const kid = entry(ctx, `${p}.eab.kid`);
    const hmac = entry(ctx, `${p}.eab.hmacEncoded`);
    certificatesResolvers[name] = {
      email: valueOf(ctx, `${p}.email`, ''),
      caServer: valueOf(ctx, `${p}.caServer`, 'https://acme-v02.api.letsencrypt.org/directory'),
      storage: /^rediss?:\/\//.test(storage) ? storage : absolute(ctx, storage),
      keyType: keyType as 'EC256' | 'EC384' | 'RSA2048' | 'RSA4096' | 'RSA8192',
      caCertificates: valueOf<string[]>(ctx, `${p}.caCertificates`, []).map((c) =>
        c.includes('-----BEGIN') ? c : absolute(ctx, c),
      ),
      ...(http ? { httpChallenge: { entryPoint: epName } } : {}),
      ...(tlsCh ? { tlsChallenge: {} } : {}),
      ...(dns ? { dnsChallenge: dns } : {}),
      ...(kid && hmac ? { eab: { kid: String(kid.value), hmacEncoded: String(hmac.value) } } : {}),
    };
  }
  return certificatesResolvers;
}
