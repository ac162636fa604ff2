/* The `tls` section of the dynamic configuration: certificates, options, stores. */
import { Bool, Obj, Str, StrList, type Static } from './core.js';
import { CertFiles } from './http.js';

const certificateFields = {
  certFile: Str({ description: 'certificate (PEM file path or content)' }),
  keyFile: Str({ description: 'private key (PEM file path or content)' }),
  stores: StrList({ description: 'stores the certificate goes to (default: default)' }),
};

export const TlsCertificate = Obj(certificateFields, {
  required: ['certFile', 'keyFile'],
  description: 'a certificate served by SNI',
});

/** The ACME manager's certificates (provider `internal`) also say which resolver issued them. */
export const TlsInternalCertificate = Obj(
  {
    ...certificateFields,
    resolver: Str({ description: 'the certificate resolver that issued the certificate' }),
  },
  { required: ['certFile', 'keyFile'] },
);

export const TlsOptions = Obj(
  {
    minVersion: Str({
      description: 'lowest TLS version, e.g. VersionTLS12',
      default: 'VersionTLS12',
    }),
    maxVersion: Str({ description: 'highest TLS version' }),
    cipherSuites: StrList({ description: 'cipher suites for TLS 1.2 and lower, by Go name' }),
    curvePreferences: StrList({ description: 'elliptic curves, by Go name' }),
    clientAuth: Obj(
      {
        caFiles: StrList({ description: 'CAs that verify client certificates' }),
        clientAuthType: Str({
          description:
            'NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert',
        }),
      },
      { description: 'client certificate authentication' },
    ),
    sniStrict: Bool({
      description: 'refuse handshakes without a matching certificate',
      default: false,
    }),
    alpnProtocols: StrList({
      description: 'ALPN protocols offered',
      default: ['h2', 'http/1.1', 'acme-tls/1'],
    }),
    disableSessionTickets: Bool({ description: 'no TLS session tickets', default: false }),
    preferServerCipherSuites: Bool({ description: 'deprecated in Go; accepted and ignored' }),
  },
  { description: 'TLS options a router can refer to by name' },
);

export const TlsStore = Obj(
  {
    defaultCertificate: CertFiles,
    defaultGeneratedCert: Obj(
      {
        resolver: Str({ description: 'certificate resolver that obtains the default certificate' }),
        domain: Obj({ main: Str(), sans: StrList() }),
      },
      { description: 'obtain the default certificate from a resolver' },
    ),
  },
  { description: 'a certificate store' },
);

export type TlsCertificateConfig = Static<typeof TlsInternalCertificate>;
export type TlsOptionsConfig = Static<typeof TlsOptions>;
export type TlsStoreConfig = Static<typeof TlsStore>;
