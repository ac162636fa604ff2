/*
 * Client certificates (TLS options' clientAuth) on a server-side TLSSocket,
 * shared by the HTTPS entrypoints (src/tls/handshake.ts) and the TCP routers
 * that terminate TLS (src/server/tcp-serve.ts).
 *
 * Node sets what the CertificateRequest asks for per socket through the
 * handle's verify mode; its own post-handshake rejection is left off
 * (rejectUnauthorized false) and clientAuthType is applied in one place,
 * checkClientCertificate, once the handshake is done.
 */
import type tls from 'node:tls';
import { verifyMode, type TlsOptions } from './options.js';

/** Node's TLSSocket internals used here; present on every Node version Portico supports (20+). */
export type ServerTlsSocket = tls.TLSSocket & {
  _requestCert?: boolean;
  _rejectUnauthorized?: boolean;
  _handle?: {
    setVerifyMode?(request: boolean, reject: boolean): void;
    verifyError?(): Error | null | undefined;
  } | null;
};

/** Makes the handshake ask for (or require) a client certificate, as `options` say. */
export function applyVerifyMode(socket: ServerTlsSocket, options: TlsOptions): void {
  const vm = verifyMode(options.clientAuth.type);
  // Node computes socket.authorized only when _requestCert is set
  socket._requestCert = vm.request;
  socket._rejectUnauthorized = false;
  socket._handle?.setVerifyMode?.(vm.request, vm.require);
}

/**
 * For a TLSSocket made directly (`new tls.TLSSocket(socket, { isServer: true })`), not by a
 * tls.Server: Node sets `authorized` only in the tls.Server's handler of the handshake's end
 * (onServerSocketSecure), so it is done here the same way, from the handle's verify result. Where
 * the handle does not tell, the socket stays unauthorized: the verifying types refuse (fail closed).
 */
export function settleAuthorization(socket: ServerTlsSocket): void {
  if (socket._requestCert !== true) return;
  const verify = socket._handle?.verifyError;
  if (typeof verify !== 'function') return;
  const err = verify.call(socket._handle);
  if (err === null || err === undefined) socket.authorized = true;
}

/** Applies clientAuthType once the handshake is done; false when the connection must be refused. */
export function checkClientCertificate(socket: tls.TLSSocket, options: TlsOptions): boolean {
  const vm = verifyMode(options.clientAuth.type);
  if (!vm.request) return true;
  const cert = socket.getPeerCertificate();
  const given = cert !== null && cert !== undefined && Object.keys(cert).length > 0;
  if (vm.require && !given) return false;
  return !(vm.verify && given && !socket.authorized);
}
