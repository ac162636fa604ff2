/*
 * What a built service is at runtime, and what building one needs: the
 * contract between the service manager (routing/) and the service kinds
 * (load-balancer.ts, mirroring.ts, build.ts for weighted and failover).
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Handler, RequestContext } from '../kernel/context.js';
import type { StateRegistry } from '../kernel/state.js';
import type { TransportSettings } from '../proxy/transport.js';

export interface ServiceRuntime {
  name: string;
  type: 'loadBalancer' | 'weighted' | 'mirroring' | 'failover';
  handle: Handler;
  /** whether any server can take traffic; parents with a healthCheck skip children that are down */
  isUp(): boolean;
  /** UP/DOWN per server URL, for the API and the dashboard */
  serverStatus(): Record<string, 'UP' | 'DOWN'>;
  /**
   * sends a copy of the request (mirroring); the answer is discarded. The body
   * is null (none), whole, or a stream fed alongside the main request, which
   * the receiver must consume or destroy (`discardMirrorBody`)
   */
  mirror(ctx: RequestContext, body: MirrorBody): void;
}

export type MirrorBody = Buffer | Readable | null;

/** for a mirror that cannot send its copy: a streamed body is released rather than left to fill up */
export function discardMirrorBody(body: MirrorBody): void {
  if (body instanceof Readable) body.destroy();
}

export interface ServiceBuildContext {
  state: StateRegistry;
  logger: Logger;
  /** resolves `serversTransport` names (qualified) to settings; undefined name = default */
  transport(name: string | undefined): TransportSettings;
  /** resolves a child service (qualified name) for composites; throws on unknown or cycles */
  child(name: string): ServiceRuntime;
  entryPointPort(ctx: RequestContext): number;
}
