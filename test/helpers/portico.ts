/*
 * Starts Portico's data plane in this process on 127.0.0.1 port 0 and applies
 * dynamic configurations directly (no provider in between), for proxy and
 * routing tests against real upstream servers.
 */
import { pino } from 'pino';
import type { DynamicConfig } from '../../src/config/dynamic.js';
import { loadStaticConfig } from '../../src/config/static.js';
import type { StaticConfig } from '../../src/config/static-types.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { createRouterServer, type RouterServer } from '../../src/routing/router-server.js';
import type { RoutingTable } from '../../src/table/table.js';
import { createAccessLog, type AccessLogger } from '../../src/observability/access-log.js';

export interface TestRouter {
  url: string;
  port: number;
  router: RouterServer;
  staticConfig: StaticConfig;
  /** applies a file-provider-style configuration (names get `@file`) and returns the new table */
  apply(config: DynamicConfig): RoutingTable;
  close(): Promise<void>;
}

export function testStaticConfig(flags: string[] = []): StaticConfig {
  return loadStaticConfig({
    argv: ['--entryPoints.web.address=127.0.0.1:0', '--workers=0', '--log.level=fatal', ...flags],
    env: {},
    cwd: process.cwd(),
  });
}

export async function startRouter(
  config: DynamicConfig,
  opts: { flags?: string[]; accessLog?: AccessLogger } = {},
): Promise<TestRouter> {
  const staticConfig = testStaticConfig(opts.flags);
  const logger = pino({ level: process.env.PORTICO_TEST_LOG ?? 'silent' });
  const router = createRouterServer({ staticConfig, logger, accessLog: opts.accessLog });
  const addresses = await router.listen();
  const port = addresses.web!.port;
  const apply = (c: DynamicConfig): RoutingTable => {
    const merged = mergeSnapshots([{ provider: 'file', config: c, errors: [] }]);
    return router.applyConfig(merged.config, merged.errors);
  };
  apply(config);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    router,
    staticConfig,
    apply,
    close: () => router.shutdown(100),
  };
}

export { createAccessLog };

/** A one-router, one-service configuration: the common case in tests. */
export function simpleRoute(
  servers: string[],
  extra: { rule?: string; lb?: Record<string, unknown>; middlewares?: string[] } = {},
): DynamicConfig {
  return {
    http: {
      routers: {
        r: {
          rule: extra.rule ?? 'PathPrefix(`/`)',
          service: 's',
          ...(extra.middlewares ? { middlewares: extra.middlewares } : {}),
        },
      },
      services: { s: { loadBalancer: { servers: servers.map((url) => ({ url })), ...extra.lb } } },
    },
  };
}
