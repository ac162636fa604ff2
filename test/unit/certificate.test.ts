/* Parsing PEM chains: names, validity, issuer (node:crypto X509Certificate underneath). */
import { describe, expect, it } from 'vitest';
import {
  coversAll,
  dnsNames,
  nameMatches,
  parseCertificateChain,
  splitPemChain,
} from '../../src/tls/certificate.js';
import { storedCertificateFrom } from '../../src/tls/storage/types.js';

// openssl: leaf CN=app.test, SAN DNS:app.test, DNS:www.app.test, IP:127.0.0.1,
// serial 0x1234AB, signed by "Portico Test CA" (EC P-256); then the CA itself
const CHAIN = `-----BEGIN CERTIFICATE-----
MIIBijCCAS+gAwIBAgIDEjSrMAoGCCqGSM49BAMCMBoxGDAWBgNVBAMMD1BvcnRp
Y28gVGVzdCBDQTAeFw0yNjExMjgwMzA1MjJaFw0yOTAzMDIwMzA1MjJaMBMxETAP
BgNVBAMMCGFwcC50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIBCUJF0h
pspaKp/fQGHPzv7vGEKG3Q4iLySh5RaGGK2oHf7zvcbsTeiMHpMwdP3he8rrwGeW
QVLqcbqkFlDfD6NrMGkwJwYDVR0RBCAwHoIIYXBwLnRlc3SCDHd3dy5hcHAudGVz
dIcEfwAAATAdBgNVHQ4EFgQUsO00VNpJpIyxDQQYK96RAuxtM24wHwYDVR0jBBgw
FoAUp1/iPRLZwygcDO9o151XPtSvyLswCgYIKoZIzj0EAwIDSQAwRgIhAO+XRddu
PvUQ5bs1OHyM+f7Vw1ry5A2wEHIXTsBFgbQjAiEApFoyfMhD7oeUJXNmIyYYDOkq
QgKGobpisxhmpW9LyII=
-----END CERTIFICATE-----
-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIUH6nXQRHixf+d/o7nWDzb4rbikzEwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPUG9ydGljbyBUZXN0IENBMB4XDTI2MTEyODAzMDUyMVoXDTM2
MTEyNTAzMDUyMVowGjEYMBYGA1UEAwwPUG9ydGljbyBUZXN0IENBMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEzg+HvvjoTIUGO4WvHzLvt6nBFLwnE/tv6oWd/nxf
J/YXEh51BOSZqhrmUluhhWamCGIMLrb0FWK9Ik9y+ne906NTMFEwHQYDVR0OBBYE
FKdf4j0S2cMoHAzvaNedVz7Ur8i7MB8GA1UdIwQYMBaAFKdf4j0S2cMoHAzvaNed
Vz7Ur8i7MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgIVjJD4Ee
1BOC1XNdPJfILt8tKG2iSVhUe0rtaHIJ6KoCIAVr0MlbX8vhali4bACP16y8wH4e
J8CRlIKIwzJzaXkY
-----END CERTIFICATE-----
`;
const LEAF_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgV3gA/IiUAL5E8Bsj
+b4Z0dV5dTAqHDA5ZkdDewCuuZ6hRANCAAQgEJQkXSGmyloqn99AYc/O/u8YQobd
DiIvJKHlFoYYragd/vO9xuxN6IwekzB0/eF7yuvAZ5ZBUupxuqQWUN8P
-----END PRIVATE KEY-----
`;

describe('parseCertificateChain', () => {
  it('reads names, validity, issuer and serial of the leaf', () => {
    const info = parseCertificateChain(CHAIN);
    expect(info).toMatchObject({
      commonName: 'app.test',
      sans: ['app.test', 'www.app.test'],
      domains: ['app.test', 'www.app.test'],
      issuerCommonName: 'Portico Test CA',
      serialNumber: '1234AB',
      chainLength: 2,
    });
    expect(info.issuer).toContain('CN=Portico Test CA');
    expect(info.notBefore.toISOString()).toBe('2026-11-28T03:05:22.000Z');
    expect(info.notAfter.toISOString()).toBe('2029-03-02T03:05:22.000Z');
    expect(info.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('accepts a Buffer and ignores non-certificate blocks', () => {
    expect(parseCertificateChain(Buffer.from(LEAF_KEY + CHAIN)).commonName).toBe('app.test');
  });

  it.each([
    ['empty input', ''],
    ['a key only', LEAF_KEY],
    ['a damaged certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
  ])('throws PORTICO_ERR_CERTIFICATE for %s', (_name, pem) => {
    expect(() => parseCertificateChain(pem)).toThrow(
      expect.objectContaining({ code: 'PORTICO_ERR_CERTIFICATE' }),
    );
  });

  it('builds the stored form from a chain', () => {
    const stored = storedCertificateFrom(
      { main: 'APP.test', sans: ['www.app.test', 'app.test'] },
      CHAIN,
      LEAF_KEY,
    );
    expect(stored).toMatchObject({
      domains: { main: 'app.test', sans: ['www.app.test'] },
      serialNumber: '1234AB',
      store: 'default',
    });
    expect(stored.notAfter.toISOString()).toBe('2029-03-02T03:05:22.000Z');
  });
});

describe('splitPemChain', () => {
  it('splits leaf first', () => {
    const parts = splitPemChain(CHAIN);
    expect(parts).toHaveLength(2);
    expect(parts.join('')).toBe(CHAIN);
  });
});

describe('dnsNames', () => {
  it.each([
    [undefined, []],
    ['DNS:a.test', ['a.test']],
    ['DNS:A.test, DNS:*.b.test, IP Address:127.0.0.1', ['a.test', '*.b.test']],
    ['DNS:"x,y.test", DNS:z.test', ['x,y.test', 'z.test']],
    ['email:me@a.test, URI:https://a.test/', []],
  ])('%s', (san, names) => {
    expect(dnsNames(san)).toEqual(names);
  });
});

describe('name matching', () => {
  it.each([
    ['app.test', 'app.test', true],
    ['APP.test', 'app.TEST', true],
    ['*.app.test', 'www.app.test', true],
    ['*.app.test', 'app.test', false],
    ['*.app.test', 'a.b.app.test', false],
    ['www.app.test', 'app.test', false],
  ])('%s covers %s: %s', (pattern, name, expected) => {
    expect(nameMatches(pattern, name)).toBe(expected);
  });

  it('coversAll needs every name', () => {
    expect(coversAll(['app.test', '*.app.test'], ['app.test', 'www.app.test'])).toBe(true);
    expect(coversAll(['app.test'], ['app.test', 'www.app.test'])).toBe(false);
  });
});
