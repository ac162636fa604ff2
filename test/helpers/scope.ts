/*
 * Per-file test resources: `useCleanups()` registers an afterEach in the
 * calling file that closes, last first, whatever the test started through it.
 */
import { afterEach } from 'vitest';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { startRouter, type TestRouter } from './portico.js';
import { startUpstream, type Upstream, type UpstreamHandler } from './upstream.js';

export type Cleanup = () => unknown;

export interface Scope {
  /** runs `fns` after the current test, after anything deferred later */
  defer(...fns: Cleanup[]): void;
  /** a real upstream (startUpstream) closed after the test */
  upstream(handler?: UpstreamHandler | string): Promise<Upstream>;
  /** a router (startRouter) closed after the test */
  router(config: DynamicConfig, opts?: Parameters<typeof startRouter>[1]): Promise<TestRouter>;
}

export function useCleanups(): Scope {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  const defer = (...fns: Cleanup[]): void => {
    cleanups.push(...fns);
  };
  return {
    defer,
    async upstream(handler) {
      const u = await startUpstream(handler);
      defer(() => u.close());
      return u;
    },
    async router(config, opts) {
      const r = await startRouter(config, opts);
      defer(() => r.close());
      return r;
    },
  };
}
