/*
 * The TLS side of a TLS entrypoint: per-SNI certificate and options, per-SNI
 * ALPN, client certificates by clientAuthType, and the ClientHello peek that
 * sends TLS-ALPN-01 validations to the ACME challenge responder.
 *
 * Node configures client-certificate requests per server, but Traefik's
 * options are per SNI name. The SNICallback runs with the TLSSocket as
 * `this`, before OpenSSL writes the server's flight, so it can still set the
 * socket's verify mode (what the CertificateRequest asks for) and the secure
 * context carries the client CAs. Node's own post-handshake check is left off
 * (rejectUnauthorized false) and the policy is applied in one place,
 * checkClientCertificate, before the HTTP server sees the connection.
 */
import net, { type Socket } from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { CertificateStore, KeyPair } from './store.js';
import { BUILTIN_DEFAULT_OPTIONS, contextOptions, verifyMode, type TlsOptions } from './options.js';
import type { TlsSelection } from './selection.js';
import { peekClientHello, type ClientHello, type PeekResult } from './client-hello.js';
import { applyVerifyMode, checkClientCertificate, type ServerTlsSocket } from './client-auth.js';
import { ACME_TLS_ALPN } from './acme/challenges.js';

export interface TlsTableView {
  certificates: CertificateStore | undefined;
  tls?: TlsSelection | undefined;
}

/** The options a socket was given in the SNICallback (absent: no SNI, the defaults apply). */
const kOptions = Symbol('portico.tlsOptions');

type ServerSocket = ServerTlsSocket & { [kOptions]?: TlsOptions };

type TlsServerInternals = tls.Server & {
  /** the context Node's connection listener gives each new TLSSocket */
  _sharedCreds?: tls.SecureContext;
  ALPNProtocols?: Buffer | undefined;
  ALPNCallback?: (arg: { servername: string; protocols: string[] }) => string | undefined;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
};

/** Bounds for reading a ClientHello: a hello fits in a few records; slow clients do not hold us. */
const PEEK_LIMITS = { maxBytes: 64 * 1024, timeoutMs: 10_000 };
/** A TLS-ALPN-01 validation is one handshake; the relay never lives longer than this. */
const ACME_RELAY_TIMEOUT_MS = 30_000;

export interface TlsHandshake {
  /** for the server's constructor (Node takes the SNICallback only there) */
  sniCallback(
    this: tls.TLSSocket,
    servername: string,
    cb: (err: Error | null, ctx?: tls.SecureContext) => void,
  ): void;
  /**
   * Installs ALPN selection, the ClientHello peek and the client-certificate check. Returns the
   * connection handler: it takes a socket with its ClientHello already peeked (the bytes read and
   * the hello, src/server/connection.ts) or peeks itself when that matters.
   */
  attach(server: tls.Server): (socket: Socket, peeked?: PeekResult) => void;
}

function relayToResponder(socket: Socket, bytes: Buffer, to: { host: string; port: number }): void {
  const upstream = net.connect(to.port, to.host);
  const close = (): void => {
    socket.destroy();
    upstream.destroy();
  };
  upstream.on('error', close);
  socket.on('error', close);
  upstream.setTimeout(ACME_RELAY_TIMEOUT_MS, close);
  upstream.write(bytes);
  socket.pipe(upstream);
  upstream.pipe(socket);
}

/** RFC 8737 3: the validation's ClientHello offers exactly one protocol, acme-tls/1. */
function isAcmeValidation(hello: ClientHello | undefined): boolean {
  return hello?.alpn?.length === 1 && hello.alpn[0] === ACME_TLS_ALPN;
}

export function createTlsHandshake(opts: {
  entryPoint: string;
  holder: { current: TlsTableView };
  defaultCertificate: KeyPair | undefined;
  log: Logger;
}): TlsHandshake {
  const ep = opts.entryPoint;
  const log = opts.log;
  // Node hands ALPNCallback `false` for a handshake without SNI
  const optionsFor = (servername: string | false | undefined): TlsOptions =>
    opts.holder.current.tls?.optionsFor(ep, servername || undefined) ?? BUILTIN_DEFAULT_OPTIONS;

  return {
    sniCallback(servername, cb) {
      const store = opts.holder.current.certificates;
      if (store === undefined) {
        cb(new Error('no certificate store'));
        return;
      }
      const options = optionsFor(servername);
      if (options.sniStrict && !store.covers(servername)) {
        cb(new Error(`sniStrict: no certificate for "${servername}"`));
        return;
      }
      const socket = this as ServerSocket;
      socket[kOptions] = options;
      applyVerifyMode(socket, options);
      cb(null, store.select(servername, options));
    },

    attach(server) {
      const s = server as TlsServerInternals;
      // ALPN follows the options of the SNI name (Node: ALPNProtocols and ALPNCallback exclude each other)
      s.ALPNProtocols = undefined;
      s.ALPNCallback = ({ servername, protocols }) => {
        const offered = optionsFor(servername).alpnProtocols;
        if (offered.length === 0) return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
        return offered.find((p) => protocols.includes(p));
      };

      /*
       * Handshakes without SNI use the server's own context: keep it in step
       * with the `default` options and with the store's default certificate
       * (tls.stores.default may replace the generated one, issue 13 item 2).
       * The store's mixedKeyTypes compares its certificates with that same
       * default, so what the server presents and what the peek decision
       * assumes cannot drift apart.
       */
      let appliedOptions = '';
      let appliedCertificate = '';
      const syncDefaults = (): TlsOptions => {
        const current = opts.holder.current;
        const def = current.tls?.defaultOptions ?? BUILTIN_DEFAULT_OPTIONS;
        const cert =
          current.certificates?.defaultCertificate ??
          (opts.defaultCertificate === undefined
            ? undefined
            : { pair: opts.defaultCertificate, fingerprint: 'generated' });
        if (cert === undefined) return def;
        if (def.key !== appliedOptions || cert.fingerprint !== appliedCertificate) {
          s.setSecureContext({ ...cert.pair, ...contextOptions(def) });
          s.requestCert = verifyMode(def.clientAuth.type).request;
          s.rejectUnauthorized = false;
          appliedOptions = def.key;
          appliedCertificate = cert.fingerprint;
        }
        return def;
      };

      server.prependListener('secureConnection', (socket: ServerSocket) => {
        const options = socket[kOptions] ?? syncDefaults();
        if (!checkClientCertificate(socket, options)) {
          log.debug(
            { servername: socket.servername, clientAuthType: options.clientAuth.type },
            'tls: client certificate refused',
          );
          socket.destroy();
        }
      });

      const listeners = server.listeners('connection') as ((s: Socket) => void)[];
      const tlsListener = listeners.find((l) => l.name === 'tlsConnectionListener') ?? listeners[0];
      if (tlsListener === undefined) return (socket) => server.emit('connection', socket);
      server.removeListener('connection', tlsListener);
      /*
       * OpenSSL takes protocol versions, ciphers and groups from the context
       * the connection starts with; the SNICallback's context only swaps the
       * certificate and the client CAs. So a peeked connection starts with the
       * context of its SNI name's options: Node's listener reads _sharedCreds
       * synchronously when it makes the TLSSocket.
       */
      const handOver = (socket: Socket, bytes?: Buffer, hello?: ClientHello): void => {
        if (socket.destroyed) return;
        if (bytes !== undefined && bytes.length > 0) socket.unshift(bytes);
        const store = opts.holder.current.certificates;
        const shared = s._sharedCreds;
        if (hello !== undefined && store !== undefined && shared !== undefined) {
          s._sharedCreds = store.select(hello.servername, optionsFor(hello.servername));
          try {
            tlsListener.call(server, socket);
          } finally {
            s._sharedCreds = shared;
          }
          return;
        }
        tlsListener.call(server, socket);
      };
      const afterPeek = (socket: Socket, { bytes, hello }: PeekResult, def: TlsOptions): void => {
        if (socket.destroyed) return;
        const acme = opts.holder.current.tls?.acmeTlsAlpn;
        if (acme !== undefined && isAcmeValidation(hello)) {
          relayToResponder(socket, bytes, acme);
          return;
        }
        if (hello !== undefined && hello.servername === undefined && def.sniStrict) {
          log.debug('tls: sniStrict: handshake without SNI refused');
          socket.destroy();
          return;
        }
        handOver(socket, bytes, hello?.servername === undefined ? undefined : hello);
      };
      const accept = (socket: Socket, peeked?: PeekResult): void => {
        socket.on('error', () => undefined);
        const def = syncDefaults();
        if (peeked !== undefined) {
          afterPeek(socket, peeked, def);
          return;
        }
        const selection = opts.holder.current.tls;
        // the peek costs one buffer hop: only when something depends on the ClientHello
        // (mixedKeyTypes: an SNI certificate of another key type than the default, see store.ts)
        if (
          selection?.acmeTlsAlpn === undefined &&
          !def.sniStrict &&
          selection?.hasHostOptions(ep) !== true &&
          opts.holder.current.certificates?.mixedKeyTypes !== true
        ) {
          handOver(socket);
          return;
        }
        void peekClientHello(socket, PEEK_LIMITS).then((p) => afterPeek(socket, p, def));
      };
      server.on('connection', (socket: Socket) => accept(socket));
      return accept;
    },
  };
}
