/*
 * The default certificate, presented when no other certificate matches the
 * SNI name (Traefik's "TRAEFIK DEFAULT CERT"). Generated once at start by the
 * primary and handed to the workers, so every worker presents the same one.
 */
import selfsigned from 'selfsigned';
import type { KeyPair } from './store.js';

export async function generateDefaultCertificate(): Promise<KeyPair> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'PORTICO DEFAULT CERT' }], {
    // EC keys make the certificate in milliseconds rather than RSA's few hundred
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'portico.default.invalid' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
