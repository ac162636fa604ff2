/*
 * The fallback of settleAuthorization (src/tls/client-auth.ts): when a Node version does not
 * offer the TLS handle's verify result (an internal), a TLSSocket made without a tls.Server is
 * never marked authorized, so the verifying clientAuth types refuse every client certificate
 * (fail closed) while the non-verifying ones are unaffected. Listed in docs/architecture.md.
 */
import type tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  checkClientCertificate,
  settleAuthorization,
  type ServerTlsSocket,
} from '../../src/tls/client-auth.js';
import { BUILTIN_DEFAULT_OPTIONS, type TlsOptions } from '../../src/tls/options.js';

function socket(handle: ServerTlsSocket['_handle']): ServerTlsSocket {
  return {
    _requestCert: true,
    _handle: handle,
    authorized: false,
    getPeerCertificate: () => ({ subject: { CN: 'client' } }) as unknown as tls.PeerCertificate,
  } as unknown as ServerTlsSocket;
}

const withType = (type: TlsOptions['clientAuth']['type']): TlsOptions => ({
  ...BUILTIN_DEFAULT_OPTIONS,
  clientAuth: { type, ca: undefined },
});

describe('settleAuthorization without the handle internals', () => {
  it('leaves the socket unauthorized: verifying types refuse, the others accept', () => {
    for (const handle of [undefined, {}] as ServerTlsSocket['_handle'][]) {
      const s = socket(handle);
      settleAuthorization(s);
      expect(s.authorized).toBe(false);
      expect(checkClientCertificate(s, withType('RequireAndVerifyClientCert'))).toBe(false);
      expect(checkClientCertificate(s, withType('VerifyClientCertIfGiven'))).toBe(false);
      expect(checkClientCertificate(s, withType('RequireAnyClientCert'))).toBe(true);
      expect(checkClientCertificate(s, withType('RequestClientCert'))).toBe(true);
    }
  });

  it('with the handle, a verified chain authorizes and a failed one does not', () => {
    const ok = socket({ verifyError: () => null });
    settleAuthorization(ok);
    expect(ok.authorized).toBe(true);
    const bad = socket({ verifyError: () => new Error('unable to get local issuer certificate') });
    settleAuthorization(bad);
    expect(bad.authorized).toBe(false);
  });
});
