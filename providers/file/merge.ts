/*
 * Merging the files of one directory into one configuration. As in Traefik's
 * provider merge, an element defined identically in several files is fine, but
 * the same name with different definitions is ambiguous: it is left out and
 * reported with every file involved, so no file silently wins by sort order.
 */
import type { DynamicConfig, ElementError } from '../../src/config/dynamic.js';
import { isPlainObject, setKey, stableKey } from '../../src/config/objects.js';
import type { ElementOrigin } from '../../src/config/provider.js';

export interface FileContribution {
  file: string;
  config: DynamicConfig;
  /** 1-based line per element, keyed `<root>.<section>/<name>` */
  lines: Record<string, number>;
}

export interface MergeResult {
  config: DynamicConfig;
  errors: ElementError[];
  /** http elements only, keyed `routers/<name>`, `services/<name>`, ... */
  origins: Record<string, ElementOrigin>;
}

const KINDS: Record<string, { kind: ElementError['kind']; noun: string }> = {
  'http.routers': { kind: 'router', noun: 'router' },
  'http.services': { kind: 'service', noun: 'service' },
  'http.middlewares': { kind: 'middleware', noun: 'middleware' },
  'http.serversTransports': { kind: 'serversTransport', noun: 'servers transport' },
  'tcp.routers': { kind: 'tcpRouter', noun: 'tcp router' },
  'tcp.services': { kind: 'tcpService', noun: 'tcp service' },
  'tcp.middlewares': { kind: 'tcpMiddleware', noun: 'tcp middleware' },
  'tcp.serversTransports': { kind: 'tcpServersTransport', noun: 'tcp servers transport' },
  'udp.routers': { kind: 'udpRouter', noun: 'udp router' },
  'udp.services': { kind: 'udpService', noun: 'udp service' },
  'tls.options': { kind: 'tls', noun: 'tls options' },
  'tls.stores': { kind: 'tls', noun: 'tls store' },
};

interface Definition {
  file: string;
  line: number | undefined;
  value: unknown;
  key: string;
}

/** Merges per-file configurations; `contributions` should be in a stable (sorted) order. */
export function mergeContributions(contributions: readonly FileContribution[]): MergeResult {
  const errors: ElementError[] = [];
  const origins: Record<string, ElementOrigin> = {};
  const out: Record<string, unknown> = {};

  // root → section → name → definitions, in file order
  const named = new Map<string, Map<string, Map<string, Definition[]>>>();
  const lists = new Map<string, Map<string, { value: unknown; key: string }[]>>();

  for (const { file, config, lines } of contributions) {
    for (const [root, rootValue] of Object.entries(config as Record<string, unknown>)) {
      if (!isPlainObject(rootValue)) {
        // not a mapping: nothing to merge, the first one reaches the validator
        if (!(root in out)) setKey(out, root, rootValue);
        continue;
      }
      if (!(root in out) || !isPlainObject(out[root])) setKey(out, root, {});
      for (const [section, sectionValue] of Object.entries(rootValue)) {
        if (Array.isArray(sectionValue)) {
          const byRoot = lists.get(root) ?? new Map<string, { value: unknown; key: string }[]>();
          lists.set(root, byRoot);
          const items = byRoot.get(section) ?? [];
          byRoot.set(section, items);
          for (const value of sectionValue) items.push({ value, key: stableKey(value) });
          continue;
        }
        if (!isPlainObject(sectionValue)) {
          const target = out[root] as Record<string, unknown>;
          if (!(section in target)) setKey(target, section, sectionValue);
          continue;
        }
        const byRoot = named.get(root) ?? new Map<string, Map<string, Definition[]>>();
        named.set(root, byRoot);
        const byName = byRoot.get(section) ?? new Map<string, Definition[]>();
        byRoot.set(section, byName);
        for (const [name, value] of Object.entries(sectionValue)) {
          const defs = byName.get(name) ?? [];
          byName.set(name, defs);
          defs.push({
            file,
            line: lines[`${root}.${section}/${name}`],
            value,
            key: stableKey(value),
          });
        }
      }
    }
  }

  for (const [root, sections] of named) {
    const target = out[root] as Record<string, unknown>;
    for (const [section, byName] of sections) {
      const merged: Record<string, unknown> = {};
      const meta = KINDS[`${root}.${section}`] ?? {
        kind: 'provider' as const,
        noun: `${root} ${section}`,
      };
      for (const [name, defs] of byName) {
        const first = defs[0]!;
        const where = (d: Definition) => (d.line === undefined ? d.file : `${d.file}:${d.line}`);
        if (defs.every((d) => d.key === first.key)) {
          setKey(merged, name, first.value);
          if (root === 'http' && first.line !== undefined) {
            origins[`${section}/${name}`] = { file: first.file, line: first.line };
          }
          continue;
        }
        errors.push({
          kind: meta.kind,
          name: meta.kind === 'provider' ? 'file' : `${name}@file`,
          message: `${meta.noun} "${name}" is defined differently in ${defs.map(where).join(' and ')}; it is left out until the definitions agree`,
        });
      }
      setKey(target, section, merged);
    }
  }

  // lists (tls.certificates): concatenated, exact duplicates kept once
  for (const [root, sections] of lists) {
    const target = out[root] as Record<string, unknown>;
    for (const [section, items] of sections) {
      const seen = new Set<string>();
      const unique: unknown[] = [];
      for (const item of items) {
        if (seen.has(item.key)) continue;
        seen.add(item.key);
        unique.push(item.value);
      }
      setKey(target, section, unique);
    }
  }

  return { config: out as DynamicConfig, errors, origins };
}
