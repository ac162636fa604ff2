/*
 * The middleware builder (Traefik's pkg/server/middleware/middlewares.go):
 * turns a middleware name into the wrappers it stands for. A `chain` is
 * flattened into its members; anything else goes through the registry's
 * factory once and is remembered. A middleware met again while it is being
 * built is a cycle (Traefik: "recursion detected"); a failure is recorded on
 * the middleware (status disabled + reason) and thrown to every user.
 */
import type { Logger } from 'pino';
import type { ElementError, MiddlewareConfig } from '../config/dynamic.js';
import { middlewareDefinition } from '../../middlewares/registry.js';
import type { Middleware } from '../../middlewares/types.js';
import type { ServiceRuntime } from '../services/build.js';
import type { StateRegistry } from '../kernel/state.js';
import type { MiddlewareInfo } from '../table/table.js';
import { buildEach, disableElement, elementView } from './element-views.js';
import { CycleError, errorMessage, providerOf } from './elements.js';

export interface MiddlewareBuilderOptions {
  configs: Record<string, MiddlewareConfig>;
  /** services for middlewares that send requests to one (errors) */
  services: { build(name: string): ServiceRuntime };
  state: StateRegistry;
  logger: Logger;
  /** the table's middleware views, filled in as middlewares are built */
  infos: Map<string, MiddlewareInfo>;
  /** the table's element errors, appended to */
  errors: ElementError[];
}

export class MiddlewareBuilder {
  private readonly built = new Map<string, Middleware[]>();
  private readonly failures = new Map<string, string>();
  /** the middlewares being built right now: meeting one again is a cycle */
  private readonly resolving = new Set<string>();

  constructor(private readonly opts: MiddlewareBuilderOptions) {}

  /** The wrappers for a list of names, outermost first. */
  buildChain(names: readonly string[]): Middleware[] {
    return names.flatMap((m) => this.build(m));
  }

  /** The wrappers `name` stands for (a chain gives several), built once; throws when it cannot be built. */
  build(name: string): Middleware[] {
    const built = this.built.get(name);
    if (built !== undefined) return built;
    const failed = this.failures.get(name);
    if (failed !== undefined) throw new Error(`middleware "${name}": ${failed}`);
    const cfg = this.opts.configs[name];
    if (cfg === undefined) throw new Error(`middleware "${name}" does not exist`);
    if (this.resolving.has(name)) throw new CycleError(`middleware cycle through "${name}"`);
    const types = Object.keys(cfg);
    const type = types[0] ?? '';
    const info = elementView(this.opts.infos, name, type);
    this.resolving.add(name);
    try {
      if (types.length !== 1)
        throw new Error(
          `a middleware must have exactly one type, found: ${types.join(', ') || 'none'}`,
        );
      const list =
        type.toLowerCase() === 'chain'
          ? this.chainMembers(cfg[type])
          : [this.create(name, type, cfg[type])];
      this.built.set(name, list);
      return list;
    } catch (err) {
      const message = errorMessage(err);
      if (!(err instanceof CycleError) || !this.failures.has(name)) {
        this.failures.set(name, message);
        disableElement(info, this.opts.errors, { kind: 'middleware', name, message });
      }
      throw err;
    } finally {
      this.resolving.delete(name);
    }
  }

  /** Builds the middlewares nobody uses too, so that their errors show. */
  buildAll(): void {
    buildEach(Object.keys(this.opts.configs), (name) => this.build(name));
  }

  private chainMembers(options: unknown): Middleware[] {
    const members = (options as { middlewares?: unknown } | null)?.middlewares;
    if (!Array.isArray(members))
      throw new Error('chain.middlewares must be a list of middleware names');
    return members.flatMap((m) => this.build(String(m)));
  }

  /** One middleware through its registered factory; its error is prefixed with the type and field. */
  private create(name: string, type: string, options: unknown): Middleware {
    const def = middlewareDefinition(type, providerOf(name));
    if (def === undefined) throw new Error(`unknown middleware type "${type}"`);
    try {
      return def.create(options, {
        name,
        state: this.opts.state,
        logger: this.opts.logger.child({ middleware: name }),
        // an unqualified service name belongs to the middleware's provider
        service: (svc) =>
          this.opts.services.build(svc.includes('@') ? svc : `${svc}@${providerOf(name)}`),
      });
    } catch (err) {
      const field = (err as { field?: string }).field;
      throw new Error(
        `${type}${field ? '.' + field : ''}: ${errorMessage(err).replace(`${field}: `, '')}`,
        { cause: err },
      );
    }
  }
}
