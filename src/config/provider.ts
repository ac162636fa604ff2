/*
 * The provider contract: a provider watches one source and hands over its whole
 * dynamic configuration every time it changes (never deltas), so the aggregator
 * can replace a provider's last snapshot wholesale and never has to reconcile.
 */
import type { DynamicConfig, ElementError } from './dynamic.js';

/** Where an element was defined, so errors and the dashboard can point at the source. */
export interface ElementOrigin {
  file: string;
  /** 1-based line of the element's key */
  line: number;
}

export interface ProviderSnapshot {
  /** provider name, e.g. `file`; the aggregator qualifies element names with it */
  provider: string;
  /** names are unqualified here (`auth`, not `auth@file`) */
  config: DynamicConfig;
  /** problems found by the provider itself, e.g. a file that failed to parse */
  errors: ElementError[];
  /**
   * Optional origin per element, keyed `routers/<name>`, `services/<name>`,
   * `middlewares/<name>` or `serversTransports/<name>` (unqualified names).
   */
  origins?: Record<string, ElementOrigin>;
}

export interface Provider {
  readonly name: string;
  /**
   * Emits a first snapshot, then one after each change. Resolves once `signal`
   * aborts (or right after the first snapshot when the provider does not watch);
   * source failures travel as snapshot errors, never as rejections.
   */
  start(emit: (snapshot: ProviderSnapshot) => void, signal: AbortSignal): Promise<void>;
}
