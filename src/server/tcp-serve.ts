/*
 * Hands a connection to the TCP router the connection layer picked: gives
 * back the bytes read while deciding, terminates TLS when the router does
 * (with the certificate and options of the SNI name, from the table in force,
 * client certificates included), and passes the client stream to the router's middlewares and service.
 * Passthrough routers get the connection as it came, ClientHello included.
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TcpConnInfo } from '../rules/tcp.js';
import type { RoutingTable } from '../table/table.js';
import type { PeekResult } from '../tls/client-hello.js';
import { BUILTIN_DEFAULT_OPTIONS, verifyMode } from '../tls/options.js';
import {
  applyVerifyMode,
  checkClientCertificate,
  settleAuthorization,
  type ServerTlsSocket,
} from '../tls/client-auth.js';
import type { TcpConnection, TcpRoute } from '../tcp/types.js';
import { isPostgresStartTls, postgresPassthroughStream } from '../tcp/postgres.js';
import { plainIp } from './connection.js';
import { clientAddressOf, localAddressOf } from '../kernel/client-address.js';

export function serveTcp(opts: {
  entryPoint: string;
  table: RoutingTable;
  route: TcpRoute;
  socket: Socket;
  info: TcpConnInfo;
  peek: PeekResult | undefined;
  handshakeTimeoutMs: number;
  log: Logger;
}): void {
  const { socket, info, route, table } = opts;
  const connection = (stream: Duplex): TcpConnection => ({
    info,
    stream,
    source: { address: info.clientIp, port: clientAddressOf(socket).port },
    destination: (({ address, port }) => ({ address: plainIp(address), port }))(
      localAddressOf(socket),
    ),
    entryPoint: opts.entryPoint,
  });
  if (opts.peek !== undefined && opts.peek.bytes.length > 0) socket.unshift(opts.peek.bytes);
  let stream: Duplex = socket;
  // Postgres STARTTLS passed through: the server is asked with the SSLRequest (src/tcp/postgres.ts)
  if (route.tls?.mode === 'passthrough' && isPostgresStartTls(opts.peek))
    stream = postgresPassthroughStream(socket);
  if (route.tls?.mode === 'terminate') {
    const store = table.certificates;
    if (store === undefined) {
      socket.destroy();
      return;
    }
    const options =
      table.tls?.optionsFor(opts.entryPoint, info.sni) ??
      table.tls?.defaultOptions ??
      BUILTIN_DEFAULT_OPTIONS;
    if (options.sniStrict && (info.sni === undefined || !store.covers(info.sni))) {
      opts.log.debug({ router: route.name, sni: info.sni }, 'tcp: sniStrict: no certificate');
      socket.destroy();
      return;
    }
    const secure: ServerTlsSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: store.select(info.sni, options),
    });
    // clientAuth of the options, as on the HTTPS side (one tls.Config per options in Traefik)
    const askCertificate = verifyMode(options.clientAuth.type).request;
    if (askCertificate) applyVerifyMode(secure, options);
    secure.on('error', (err) => {
      opts.log.debug({ router: route.name, err: err.message }, 'tcp: tls handshake failed');
      socket.destroy();
    });
    // a client that stalls in the handshake is cut, as the TLS server's handshakeTimeout does
    const timer = setTimeout(() => {
      if (secure.getPeerFinished() === undefined) secure.destroy();
    }, opts.handshakeTimeoutMs);
    timer.unref();
    secure.once('close', () => clearTimeout(timer));
    if (askCertificate) {
      // the certificate is judged once the handshake is done; a refused client never reaches
      // the service (no server is dialled for it)
      secure.once('secure', () => {
        settleAuthorization(secure);
        if (!checkClientCertificate(secure, options)) {
          opts.log.debug(
            { router: route.name, sni: info.sni, clientAuthType: options.clientAuth.type },
            'tcp: client certificate refused',
          );
          secure.destroy();
          socket.destroy();
          return;
        }
        route.handler(connection(secure));
      });
      return;
    }
    stream = secure;
  }
  route.handler(connection(stream));
}
