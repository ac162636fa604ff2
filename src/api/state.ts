/*
 * What the API and the dashboard read: the routing table in force, the merged
 * configuration it came from, each provider's state and diagnostics, the ACME
 * resolvers' status, the event history (each configuration swap with its diff,
 * provider errors) and, when metrics are on, the traffic store.
 *
 * One ControlState lives where the providers run: the single process, or the
 * cluster primary (which compiles every configuration too, without listening,
 * so that status, errors and server health are known there; workers forward
 * API requests to it, see control.ts).
 */
import type { Logger } from 'pino';
import type { MergedConfig } from '../config/aggregate.js';
import type { DynamicConfig, ElementError } from '../config/dynamic.js';
import type { ProviderSnapshot } from '../config/provider.js';
import type { StaticConfig } from '../config/static-types.js';
import type { RoutingTable } from '../table/table.js';
import type { DomainStatus } from '../tls/acme/resolver.js';
import { diffConfigs, isEmptyDiff, type ConfigDiff } from './diff.js';

/** Per-object findings a provider reports beyond element errors (e.g. Docker's bad labels). */
export interface ProviderDiagnostic {
  /** the source object: a container, a file, a Kubernetes resource */
  object: string;
  /** the label key, file field or resource field */
  field: string;
  value?: string;
  message: string;
  level: 'error' | 'warning';
}

/** Live hooks a provider may offer the API (the Docker provider has both). */
export interface ProviderProbe {
  diagnostics?(): ProviderDiagnostic[];
  connected?(): boolean;
}

export interface ProviderState {
  name: string;
  /** ISO time of the last snapshot received */
  lastUpdate: string | undefined;
  /** ISO time of the last snapshot that changed the provider's configuration */
  lastChange: string | undefined;
  snapshots: number;
  /** HTTP elements */
  routers: number;
  services: number;
  middlewares: number;
  /** tcp.* and udp.* elements (issue 13 item 8) */
  tcp: { routers: number; services: number; middlewares: number };
  udp: { routers: number; services: number };
  errors: ElementError[];
  probe: ProviderProbe | undefined;
  configKey: string;
}

export type ApiEvent =
  | {
      id: number;
      type: 'configuration';
      time: string;
      version: number;
      diff: ConfigDiff;
      /** element errors in the new table */
      errors: number;
      compileMs: number;
    }
  | {
      id: number;
      type: 'provider';
      time: string;
      provider: string;
      /** the provider's element errors after this snapshot (empty: they cleared) */
      errors: ElementError[];
    };

type Listener = (event: ApiEvent) => void;

const HISTORY = 200;

/** What the traffic store (metrics) offers the API; see src/observability/metrics.ts. */
export interface TrafficSource {
  traffic(windowSeconds?: number): unknown;
  onSample?(listener: (sample: unknown) => void): () => void;
}

export interface ControlStateOptions {
  staticConfig: StaticConfig;
  logger?: Logger;
  version: string;
  /** the routing table in force where the API runs */
  table(): RoutingTable;
  /** every ACME resolver's per-domain status, by resolver name */
  acmeStatus?: () => Record<string, DomainStatus[]>;
  now?: () => Date;
}

export class ControlState {
  readonly startDate: Date;
  readonly providers = new Map<string, ProviderState>();
  private readonly history: ApiEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private nextId = 1;
  private merged: MergedConfig | undefined;
  private appliedVersion = 0;
  traffic: TrafficSource | undefined;

  constructor(readonly opts: ControlStateOptions) {
    this.startDate = this.now();
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  table(): RoutingTable {
    return this.opts.table();
  }

  /** the merged dynamic configuration last applied (qualified names) */
  config(): DynamicConfig {
    return this.merged?.config ?? {};
  }

  ready(): boolean {
    return this.appliedVersion > 0;
  }

  acmeStatus(): Record<string, DomainStatus[]> {
    return this.opts.acmeStatus?.() ?? {};
  }

  /** a provider's hooks (diagnostics, connection) become visible before its first snapshot */
  registerProvider(name: string, probe?: ProviderProbe): void {
    const p = this.providerState(name);
    p.probe = probe;
  }

  private providerState(name: string): ProviderState {
    let p = this.providers.get(name);
    if (p === undefined) {
      p = {
        name,
        lastUpdate: undefined,
        lastChange: undefined,
        snapshots: 0,
        routers: 0,
        services: 0,
        middlewares: 0,
        tcp: { routers: 0, services: 0, middlewares: 0 },
        udp: { routers: 0, services: 0 },
        errors: [],
        probe: undefined,
        configKey: '',
      };
      this.providers.set(name, p);
    }
    return p;
  }

  /** every snapshot a provider emits passes here before the aggregator */
  onSnapshot(snap: ProviderSnapshot): void {
    const p = this.providerState(snap.provider);
    const time = this.now().toISOString();
    p.snapshots++;
    p.lastUpdate = time;
    const http = snap.config.http ?? {};
    const key = JSON.stringify(snap.config);
    if (key !== p.configKey) {
      p.configKey = key;
      p.lastChange = time;
    }
    p.routers = Object.keys(http.routers ?? {}).length;
    p.services = Object.keys(http.services ?? {}).length;
    p.middlewares = Object.keys(http.middlewares ?? {}).length;
    const count = (elements: object | undefined): number => Object.keys(elements ?? {}).length;
    const { tcp, udp } = snap.config;
    p.tcp = {
      routers: count(tcp?.routers),
      services: count(tcp?.services),
      middlewares: count(tcp?.middlewares),
    };
    p.udp = { routers: count(udp?.routers), services: count(udp?.services) };
    const before = JSON.stringify(p.errors);
    p.errors = snap.errors;
    if (JSON.stringify(snap.errors) !== before) {
      this.emit({
        id: 0,
        type: 'provider',
        time,
        provider: snap.provider,
        errors: snap.errors,
      });
    }
  }

  /** a merged configuration was compiled into `table` and is now in force */
  onApplied(merged: MergedConfig, table: RoutingTable): void {
    const prev = this.merged?.config;
    this.merged = merged;
    this.appliedVersion = table.version;
    const diff = diffConfigs(prev ?? {}, merged.config);
    // the first configuration is a diff too (everything added); later no-op swaps are not news
    if (prev !== undefined && isEmptyDiff(diff)) return;
    this.emit({
      id: 0,
      type: 'configuration',
      time: this.now().toISOString(),
      version: table.version,
      diff,
      errors: table.errors.length,
      compileMs: Math.round(table.compileMs * 10) / 10,
    });
  }

  private emit(event: ApiEvent): void {
    event.id = this.nextId++;
    this.history.push(event);
    if (this.history.length > HISTORY) this.history.shift();
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.opts.logger?.warn({ err }, 'event listener failed');
      }
    }
  }

  /** events after `afterId` (all kept history when 0) */
  events(afterId = 0): ApiEvent[] {
    return this.history.filter((e) => e.id > afterId);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
