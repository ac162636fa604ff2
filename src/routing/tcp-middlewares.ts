/*
 * The TCP middleware builder (Traefik's pkg/server/middleware/tcp): turns a
 * `tcp.middlewares` name into the connection wrapper it stands for, once.
 * A failure is recorded on the middleware (status disabled + reason) and
 * thrown to every router that uses it, prefixed with the middleware's name.
 */
import type { ElementError, TcpMiddlewareConfig } from '../config/dynamic.js';
import { compileIpMatcher } from '../kernel/ip-match.js';
import type { MiddlewareInfo } from '../table/table.js';
import { tcpInFlightConn, tcpIpAllowList, type TcpMiddleware } from '../tcp/service.js';
import { buildEach, disableElement, elementView } from './element-views.js';
import { errorMessage } from './elements.js';

export interface TcpMiddlewareBuilderOptions {
  configs: Record<string, TcpMiddlewareConfig>;
  /** the table's TCP middleware views, filled in as middlewares are built */
  infos: Map<string, MiddlewareInfo>;
  /** the table's element errors, appended to */
  errors: ElementError[];
}

/** The wrapper a middleware's configuration describes; throws for an unknown type. */
function createTcpMiddleware(c: TcpMiddlewareConfig, type: string): TcpMiddleware {
  const allow = c.ipAllowList ?? c.ipWhiteList;
  if (allow !== undefined) return tcpIpAllowList(compileIpMatcher(allow.sourceRange ?? []));
  if (c.inFlightConn !== undefined) return tcpInFlightConn(c.inFlightConn.amount ?? 0);
  throw new Error(`unknown tcp middleware type "${type}"`);
}

export class TcpMiddlewareBuilder {
  private readonly built = new Map<string, TcpMiddleware | Error>();

  constructor(private readonly opts: TcpMiddlewareBuilderOptions) {}

  /** The wrapper `name` stands for, built once; throws when it cannot be built. */
  build(name: string): TcpMiddleware {
    const done = this.built.get(name);
    if (done instanceof Error) throw new Error(`middleware "${name}": ${done.message}`);
    if (done !== undefined) return done;
    const c: TcpMiddlewareConfig | undefined = this.opts.configs[name];
    if (c === undefined) throw new Error(`middleware "${name}" does not exist`);
    const type = Object.keys(c)[0] ?? '';
    const info = elementView(this.opts.infos, name, type);
    try {
      const m = createTcpMiddleware(c, type);
      this.built.set(name, m);
      return m;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(errorMessage(err));
      this.built.set(name, e);
      disableElement(info, this.opts.errors, { kind: 'tcpMiddleware', name, message: e.message });
      throw new Error(`middleware "${name}": ${e.message}`);
    }
  }

  /** Builds the middlewares nobody uses too, so that their errors show. */
  buildAll(): void {
    buildEach(Object.keys(this.opts.configs), (name) => this.build(name));
  }
}
