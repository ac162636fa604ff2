/*
 * The difference between two merged configurations, element by element:
 * which routers, services and middlewares (HTTP, and TCP/UDP under `tcp` and
 * `udp` when they changed) were added, removed or changed, and
 * for a changed one which top-level fields differ. This is what the event
 * stream and the dashboard's timeline show for each swap.
 */
import type { DynamicConfig } from '../config/dynamic.js';
import { stableKey } from '../config/objects.js';

export interface ChangedElement {
  name: string;
  /** top-level fields whose value differs (`rule`, `loadBalancer`, `stripPrefix`, ...) */
  fields: string[];
}

export interface ElementDiff {
  added: string[];
  removed: string[];
  changed: ChangedElement[];
}

export interface ConfigDiff {
  routers: ElementDiff;
  services: ElementDiff;
  middlewares: ElementDiff;
  /** tcp.* elements, only when one of them changed (issue 13 item 8) */
  tcp?: { routers: ElementDiff; services: ElementDiff; middlewares: ElementDiff };
  /** udp.* elements, only when one of them changed */
  udp?: { routers: ElementDiff; services: ElementDiff };
}

function diffElements(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): ElementDiff {
  const a = before ?? {};
  const b = after ?? {};
  const out: ElementDiff = { added: [], removed: [], changed: [] };
  for (const name of Object.keys(b).sort()) {
    if (!(name in a)) {
      out.added.push(name);
      continue;
    }
    const x = a[name] as Record<string, unknown>;
    const y = b[name] as Record<string, unknown>;
    if (stableKey(x) === stableKey(y)) continue;
    const fields = [...new Set([...Object.keys(x ?? {}), ...Object.keys(y ?? {})])]
      .filter((f) => stableKey(x?.[f]) !== stableKey(y?.[f]))
      .sort();
    out.changed.push({ name, fields });
  }
  for (const name of Object.keys(a).sort()) if (!(name in b)) out.removed.push(name);
  return out;
}

function unchanged(parts: ElementDiff[]): boolean {
  return parts.every(
    (e) => e.added.length === 0 && e.removed.length === 0 && e.changed.length === 0,
  );
}

export function diffConfigs(before: DynamicConfig, after: DynamicConfig): ConfigDiff {
  const tcp = {
    routers: diffElements(before.tcp?.routers, after.tcp?.routers),
    services: diffElements(before.tcp?.services, after.tcp?.services),
    middlewares: diffElements(before.tcp?.middlewares, after.tcp?.middlewares),
  };
  const udp = {
    routers: diffElements(before.udp?.routers, after.udp?.routers),
    services: diffElements(before.udp?.services, after.udp?.services),
  };
  return {
    routers: diffElements(before.http?.routers, after.http?.routers),
    services: diffElements(before.http?.services, after.http?.services),
    middlewares: diffElements(before.http?.middlewares, after.http?.middlewares),
    ...(unchanged(Object.values(tcp)) ? {} : { tcp }),
    ...(unchanged(Object.values(udp)) ? {} : { udp }),
  };
}

export function isEmptyDiff(d: ConfigDiff): boolean {
  return unchanged([
    d.routers,
    d.services,
    d.middlewares,
    ...Object.values(d.tcp ?? {}),
    ...Object.values(d.udp ?? {}),
  ]);
}
