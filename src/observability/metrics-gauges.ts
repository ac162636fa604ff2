/*
 * What only a routing table knows, for the gauges: server health per
 * load-balancer service (service_server_up) and the certificates served
 * (tls_certs_not_after). A worker sends these with a scrape when the primary
 * has no table of its own.
 */
import type { RoutingTable } from '../table/table.js';

export interface TableGauges {
  servers: { service: string; url: string; up: boolean }[];
  certificates: { cn: string; sans: string; serial: string; notAfter: number }[];
}

/**
 * What the certificate store lists. The TLS engineer's `list()` returns
 * `{domains, issuer, notBefore, notAfter, source, resolver?}`; the older
 * `certificates` array has `names` and `subject`. Both are read.
 */
interface ListedCertificate {
  domains?: readonly string[];
  names?: readonly string[];
  subject?: string;
  serial?: string;
  serialNumber?: string;
  notAfter: string | number | Date;
}

function listCertificates(store: unknown): readonly ListedCertificate[] {
  const s = store as {
    list?: () => readonly ListedCertificate[];
    certificates?: readonly ListedCertificate[];
  };
  if (typeof s.list === 'function') return s.list();
  return s.certificates ?? [];
}

function unixSeconds(v: string | number | Date): number {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

export function tableGauges(table: RoutingTable | undefined, addInternals = false): TableGauges {
  const out: TableGauges = { servers: [], certificates: [] };
  if (table === undefined) return out;
  for (const [name, rt] of table.serviceRuntimes) {
    // composite services report their children's servers, which appear under the children's names
    if (rt.type !== 'loadBalancer') continue;
    if (!addInternals && name.endsWith('@internal')) continue;
    for (const [url, status] of Object.entries(rt.serverStatus()))
      out.servers.push({ service: name, url, up: status === 'UP' });
  }
  if (table.certificates !== undefined) {
    for (const c of listCertificates(table.certificates)) {
      const names = c.domains ?? c.names ?? [];
      const cn = /(?:^|\n|,\s*)CN=([^\n,]+)/.exec(c.subject ?? '')?.[1] ?? names[0] ?? '';
      out.certificates.push({
        cn,
        sans: names.join(','),
        serial: c.serial ?? c.serialNumber ?? '',
        notAfter: unixSeconds(c.notAfter),
      });
    }
  }
  return out;
}
