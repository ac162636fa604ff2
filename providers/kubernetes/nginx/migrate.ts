/*
 * `portico migrate ingress-nginx` (issue 15 item 5): before switching a
 * cluster from ingress-nginx, which annotations of which nginx-class
 * Ingress Portico honours as written, approximates, ignores or refuses.
 * The answers are the translator's own (translate.ts runs on the same
 * objects), so the report cannot drift from what would be served.
 */
import type { ClusterView } from '../objects.js';
import type { Support } from './annotations.js';
import { translateNginxDetailed, type NginxProviderOptions } from './translate.js';

export interface MigrateReport {
  ingresses: {
    namespace: string;
    name: string;
    /** false when an annotation (or its value) keeps Portico from serving the Ingress */
    served: boolean;
    annotations: { name: string; value: string; support: Support; note: string }[];
    /** what else keeps parts of it from being served (a missing Service, a PCRE-only path) */
    problems: string[];
  }[];
}

export function migrateReport(view: ClusterView, opts: NginxProviderOptions = {}): MigrateReport {
  const t = translateNginxDetailed(view, opts);
  return {
    ingresses: t.outcomes.map((o) => ({
      namespace: o.namespace,
      name: o.name,
      served: o.served,
      annotations: [...o.annotations].sort((a, b) => (a.name < b.name ? -1 : 1)),
      problems: [...o.problems],
    })),
  };
}

const ORDER: Support[] = ['refused', 'unsupported', 'approximated', 'supported'];

/** One value on one line, cut short: annotation values can be long scripts. */
function oneLine(v: string): string {
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}..."` : s;
}

/** The report as text: per Ingress, its annotations grouped by answer, then totals. */
export function formatMigrateReport(report: MigrateReport): string {
  const lines: string[] = [];
  const totals: Record<Support, number> = {
    supported: 0,
    approximated: 0,
    unsupported: 0,
    refused: 0,
  };
  if (report.ingresses.length === 0) return 'no Ingress of the nginx class found\n';
  for (const ing of report.ingresses) {
    lines.push(
      `Ingress ${ing.namespace}/${ing.name}: ${ing.served ? 'served' : 'NOT SERVED by Portico as it stands'}`,
    );
    if (ing.annotations.length === 0) lines.push('  (no nginx.ingress.kubernetes.io annotations)');
    for (const support of ORDER) {
      for (const a of ing.annotations.filter((x) => x.support === support)) {
        totals[support]++;
        lines.push(`  ${support.padEnd(12)} ${a.name}=${oneLine(a.value)}`);
        lines.push(`               ${a.note}`);
      }
    }
    for (const p of ing.problems) lines.push(`  problem      ${p}`);
    lines.push('');
  }
  const notServed = report.ingresses.filter((i) => !i.served).length;
  lines.push(
    `${report.ingresses.length} Ingress(es), ${notServed} not served; annotations: ` +
      ORDER.map((s) => `${totals[s]} ${s}`).join(', '),
  );
  return lines.join('\n') + '\n';
}
