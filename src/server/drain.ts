/*
 * Requests in flight on an entrypoint, and its graceful shutdown (Traefik's
 * lifeCycle): keep accepting for requestAcceptGraceTimeout while a load
 * balancer in front notices, then stop accepting and close idle connections
 * (GOAWAY for HTTP/2), let in-flight requests finish for up to
 * graceTimeOut, and cut whatever is left.
 */
import type net from 'node:net';

export class InFlight {
  /** requests admitted and not yet closed */
  count = 0;
  /** shutdown has begun: responses ask to close their connection */
  draining = false;
  private drained: (() => void) | null = null;

  /** Called after a request closed (count already lowered): the last one may end a shutdown. */
  settle(): void {
    if (this.draining && this.count === 0) this.drained?.();
  }

  onDrained(fn: () => void): void {
    this.drained = fn;
  }
}

export interface ShutdownOptions {
  /** the listener: close() stops accepting */
  server: net.Server;
  inFlight: InFlight;
  /** requestAcceptGraceTimeout */
  acceptForMs: number;
  /** graceTimeOut */
  graceMs: number;
  /** stop idle connections (HTTP/1 keep-alive, HTTP/2 GOAWAY) */
  closeIdle(): void;
  /** cut every connection left */
  closeAll(): void;
}

/** Resolves once every request finished or the grace period ran out, every connection cut. */
export function shutdown(o: ShutdownOptions): Promise<void> {
  return new Promise<void>((resolve) => {
    const { server, inFlight, acceptForMs: acceptFor, graceMs } = o;
    inFlight.draining = true;
    // requestAcceptGraceTimeout: keep accepting while a load balancer in front notices we are going
    const stopAccepting = (): void => {
      server.close();
      o.closeIdle();
    };
    if (acceptFor > 0) setTimeout(stopAccepting, acceptFor).unref();
    else stopAccepting();
    const done = (): void => {
      clearTimeout(timer);
      o.closeAll();
      resolve();
    };
    const timer = setTimeout(done, acceptFor + graceMs);
    timer.unref();
    if (inFlight.count === 0 && acceptFor === 0) done();
    else
      inFlight.onDrained(() => {
        if (acceptFor === 0 || !server.listening) done();
      });
    if (acceptFor > 0) {
      setTimeout(() => {
        if (inFlight.count === 0) done();
      }, acceptFor).unref();
    }
  });
}
