/*
 * The service manager (Traefik's pkg/server/service/service.go): builds a
 * service's runtime the first time something asks for it (a router, a
 * middleware, a parent service), remembers the result or the failure, and
 * detects services that refer back to themselves. A failure is recorded on
 * the service (status disabled + reason) once; every caller gets the error.
 */
import type { Logger } from 'pino';
import type { ElementError, ServiceConfig } from '../config/dynamic.js';
import type { EntryPointConfig } from '../config/static-types.js';
import type { Handler } from '../kernel/context.js';
import { buildService, discardMirrorBody, type ServiceRuntime } from '../services/build.js';
import type { StateRegistry } from '../kernel/state.js';
import type { ServiceInfo } from '../table/table.js';
import type { TransportSet } from './transports.js';
import { buildEach, disableElement, elementView } from './element-views.js';
import { CycleError, errorMessage, providerOf } from './elements.js';

export interface ServiceManagerOptions {
  configs: Record<string, ServiceConfig>;
  /** handlers for `name@internal` services (api, dashboard, ping, noop) */
  internal?: ReadonlyMap<string, Handler> | undefined;
  transports: TransportSet;
  entryPoints: Record<string, EntryPointConfig>;
  state: StateRegistry;
  logger: Logger;
  /** the table's service views, filled in as services are built */
  infos: Map<string, ServiceInfo>;
  /** the table's element errors, appended to */
  errors: ElementError[];
}

/** Services the validator already threw out still show up, disabled, with their reason. */
export function recordRejectedServices(
  rejected: readonly ElementError[],
  infos: Map<string, ServiceInfo>,
): void {
  for (const e of rejected) {
    if (e.kind !== 'service') continue;
    if (!infos.has(e.name)) {
      infos.set(e.name, {
        name: e.name,
        provider: providerOf(e.name),
        type: 'unknown',
        status: 'disabled',
        errors: [],
        usedBy: [],
      });
    }
    infos.get(e.name)!.errors.push(e.field ? `${e.field}: ${e.message}` : e.message);
  }
}

/** An internal service: a handler with no servers to check and no copies to take. */
function internalRuntime(name: string, handle: Handler): ServiceRuntime {
  return {
    name,
    type: 'loadBalancer',
    handle,
    isUp: () => true,
    serverStatus: () => ({}),
    // internal services take no copies; a streamed copy is released at once
    mirror: (_rc, body) => discardMirrorBody(body),
  };
}

export class ServiceManager {
  /** every runtime built so far, by qualified name */
  readonly runtimes = new Map<string, ServiceRuntime>();
  private readonly failures = new Map<string, string>();
  /** the services being built right now: meeting one again is a cycle */
  private readonly building = new Set<string>();

  constructor(private readonly opts: ServiceManagerOptions) {}

  /** The runtime of `name`, built once; throws (a CycleError for loops) when it cannot be built. */
  build(name: string): ServiceRuntime {
    const built = this.runtimes.get(name);
    if (built !== undefined) return built;
    const failed = this.failures.get(name);
    if (failed !== undefined) throw new Error(failed);
    const internal = this.opts.internal?.get(name);
    if (internal !== undefined) {
      const rt = internalRuntime(name, internal);
      this.runtimes.set(name, rt);
      return rt;
    }
    const cfg = this.opts.configs[name];
    if (cfg === undefined) throw new Error(`the service "${name}" does not exist`);
    if (this.building.has(name)) throw new CycleError(`service cycle through "${name}"`);
    this.building.add(name);
    const info = elementView(this.opts.infos, name, Object.keys(cfg)[0] ?? 'unknown');
    try {
      const rt = this.create(name, cfg);
      this.runtimes.set(name, rt);
      return rt;
    } catch (err) {
      const message = errorMessage(err);
      this.failures.set(name, message);
      const field = (err as { field?: string }).field;
      disableElement(info, this.opts.errors, { kind: 'service', name, field, message });
      throw err;
    } finally {
      this.building.delete(name);
    }
  }

  /** Builds the services nobody uses too, so that their errors and health show. */
  buildAll(): void {
    buildEach(Object.keys(this.opts.configs), (name) => this.build(name));
  }

  private create(name: string, cfg: ServiceConfig): ServiceRuntime {
    const { state, logger, entryPoints, transports } = this.opts;
    return buildService(name, cfg, {
      state,
      logger,
      entryPointPort: (ctx) => entryPoints[ctx.entryPoint]?.port ?? 0,
      transport: (t) => transports.resolve(t),
      child: (childName) => {
        try {
          return this.build(childName);
        } catch (err) {
          if (err instanceof CycleError) throw err;
          throw new Error(`child service "${childName}": ${errorMessage(err)}`, { cause: err });
        }
      },
    });
  }
}
