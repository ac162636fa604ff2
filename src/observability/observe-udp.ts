/*
 * A UDP router's sessions in the metrics and the access log (issue 13 item
 * 8): wraps the route handler (built in src/routing/udp-manager.ts) so that
 * each session is counted open, its datagrams and bytes counted each way
 * (the client's as the listener hands them to the service, the server's as
 * they are sent back), and it is reported once when it closes.
 */
import { createStreamRecord } from './metrics-tcp.js';
import { reportStream, type StreamSinks } from './observe-tcp.js';
import type { UdpHandler, UdpSession } from '../udp/types.js';

export function observeUdp(
  handler: UdpHandler,
  route: { router: string; service: string },
  sinks: StreamSinks | undefined,
): UdpHandler {
  if (sinks === undefined) return handler;
  return (session) => {
    const r = createStreamRecord('UDP', {
      entryPoint: session.entryPoint,
      router: route.router,
      service: route.service,
      client: session.client,
    });
    sinks.metrics?.streamOpened(r);
    // the listener closes an idle session without saying so: no other reason set means that
    session.onClose(() => reportStream(sinks, r, 'timeout'));
    // the service sees this session; the listener keeps calling the outer one's onDatagram
    const inner: UdpSession = {
      entryPoint: session.entryPoint,
      client: session.client,
      onDatagram: undefined,
      reply(datagram) {
        if (!session.closed) {
          r.toClient += datagram.length;
          r.datagramsToClient++;
        }
        session.reply(datagram);
      },
      onClose: (fn) => session.onClose(fn),
      close: () => session.close(),
      get closed() {
        return session.closed;
      },
      observed: r,
    };
    session.onDatagram = (datagram) => {
      const take = inner.onDatagram;
      if (take === undefined) return;
      r.toServer += datagram.length;
      r.datagramsToServer++;
      take(datagram);
    };
    handler(inner);
  };
}
