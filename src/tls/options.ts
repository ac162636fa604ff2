/*
 * TLS options (`tls.options.<name>` in the dynamic configuration), with
 * Traefik's vocabulary translated to what Node/OpenSSL understand: Go's
 * version and cipher-suite names to OpenSSL's, curve names to `ecdhCurve`,
 * and clientAuthType to a verify mode. Parsing is pure; a bad option set is
 * an error naming the set and the field, and never affects the other sets.
 *
 * Semantics follow Traefik (pkg/tls/tlsmanager.go):
 * - `default` applies to TLS routers without `tls.options` and to handshakes
 *   that match no router; it is referred to without a provider.
 * - TLS 1.3 cipher suites are not configurable; TLS 1.3 names in
 *   cipherSuites are accepted and ignored.
 * - caFiles without clientAuthType means RequireAndVerifyClientCert; the two
 *   verifying types need caFiles.
 */
import type { SecureContextOptions, SecureVersion } from 'node:tls';
import { constants, createHash } from 'node:crypto';
import type { ElementError } from '../config/dynamic.js';
import { pemText } from './certificate.js';

export const DEFAULT_TLS_OPTIONS = 'default';

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

/** One option set, ready for secure contexts and handshakes. */
export interface TlsOptions {
  name: string;
  minVersion: SecureVersion;
  maxVersion: SecureVersion | undefined;
  /** OpenSSL cipher list (TLS 1.2 and below, plus the TLS 1.3 suites), undefined: Node's defaults */
  ciphers: string | undefined;
  /** OpenSSL `ecdhCurve` list, undefined: Node's default */
  ecdhCurve: string | undefined;
  sniStrict: boolean;
  disableSessionTickets: boolean;
  /** HTTP protocols offered by ALPN, in preference order */
  alpnProtocols: string[];
  clientAuth: { type: ClientAuthType; ca: string[] | undefined };
  /** identity of the settings, for secure-context caches */
  key: string;
}

const VERSIONS: Record<string, SecureVersion> = {
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};
const VERSION_ORDER: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Go's crypto/tls names (Traefik's cipherSuites values) → OpenSSL names. */
const CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // Go's older spellings
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};
/** Accepted and ignored, as in Traefik: Go does not let TLS 1.3 suites be chosen. */
const TLS13_SUITES = new Set([
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_FALLBACK_SCSV',
]);
/*
 * Node turns TLS 1.3 off when a cipher list names no TLS 1.3 suite, so Go's
 * TLS 1.3 set is always appended: cipherSuites restricts TLS 1.2 and below only.
 */
const TLS13_OPENSSL = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** Traefik's curve names (Go constants and their RFC spellings) → OpenSSL group names. */
const CURVES: Record<string, string> = {
  curvep256: 'P-256',
  secp256r1: 'P-256',
  curvep384: 'P-384',
  secp384r1: 'P-384',
  curvep521: 'P-521',
  secp521r1: 'P-521',
  x25519: 'X25519',
};

/** The HTTP protocols the entrypoints can speak; acme-tls/1 is answered before the handshake reaches them. */
const HTTP_ALPN = new Set(['h2', 'http/1.1']);
const DEFAULT_ALPN = ['h2', 'http/1.1', 'acme-tls/1'];

function fingerprint(o: Omit<TlsOptions, 'key' | 'name'>): string {
  return createHash('sha256').update(JSON.stringify(o)).digest('base64url').slice(0, 22);
}

class OptionError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function version(field: string, value: unknown): SecureVersion | undefined {
  if (value === undefined || value === '') return undefined;
  const v = VERSIONS[String(value)];
  if (v === undefined)
    throw new OptionError(
      field,
      `unknown TLS version "${String(value)}", expected one of: ${Object.keys(VERSIONS).join(', ')}`,
    );
  return v;
}

function stringList(field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OptionError(field, 'expected a list of strings');
  return value.map(String);
}

function ciphersOf(names: string[], minVersion: SecureVersion): string | undefined {
  // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level: asking for them means meaning it
  const legacy = VERSION_ORDER.indexOf(minVersion) < VERSION_ORDER.indexOf('TLSv1.2');
  const list: string[] = [];
  names.forEach((n, i) => {
    if (TLS13_SUITES.has(n)) return;
    const mapped = CIPHERS[n];
    if (mapped === undefined)
      throw new OptionError(`cipherSuites[${i}]`, `unknown cipher suite "${n}"`);
    list.push(mapped);
  });
  if (list.length === 0) return legacy ? `${TLS13_OPENSSL}:DEFAULT:@SECLEVEL=0` : undefined;
  return [TLS13_OPENSSL, ...list].join(':') + (legacy ? ':@SECLEVEL=0' : '');
}

function curvesOf(names: string[]): string | undefined {
  if (names.length === 0) return undefined;
  return names
    .map((n, i) => {
      const c = CURVES[n.toLowerCase()];
      if (c === undefined)
        throw new OptionError(
          `curvePreferences[${i}]`,
          `unknown curve "${n}", expected one of: CurveP256, CurveP384, CurveP521, X25519`,
        );
      return c;
    })
    .join(':');
}

function clientAuthOf(raw: unknown): TlsOptions['clientAuth'] {
  const ca = (raw ?? {}) as { caFiles?: unknown; clientAuthType?: unknown };
  const files = stringList('clientAuth.caFiles', ca.caFiles);
  const pems = files.map((f, i) => {
    try {
      const pem = pemText(f);
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
      return pem;
    } catch (err) {
      throw new OptionError(
        `clientAuth.caFiles[${i}]`,
        `cannot read CA ${f.includes('-----BEGIN') ? '(inline PEM)' : f}: ${(err as Error).message}`,
      );
    }
  });
  const given = ca.clientAuthType === undefined ? '' : String(ca.clientAuthType);
  let type: ClientAuthType;
  if (given === '') type = pems.length > 0 ? 'RequireAndVerifyClientCert' : 'NoClientCert';
  else {
    const known = CLIENT_AUTH_TYPES.find((t) => t.toLowerCase() === given.toLowerCase());
    if (known === undefined)
      throw new OptionError(
        'clientAuth.clientAuthType',
        `unknown client auth type "${given}", expected one of: ${CLIENT_AUTH_TYPES.join(', ')}`,
      );
    type = known;
  }
  if (
    pems.length === 0 &&
    (type === 'VerifyClientCertIfGiven' || type === 'RequireAndVerifyClientCert')
  )
    throw new OptionError(
      'clientAuth.caFiles',
      `${type} needs caFiles to verify client certificates`,
    );
  return { type, ca: pems.length > 0 ? pems : undefined };
}

/** Builds one option set; throws OptionError (with its field) for the first problem. */
function buildOne(name: string, raw: Record<string, unknown>): TlsOptions {
  const minVersion = version('minVersion', raw.minVersion) ?? 'TLSv1.2';
  const maxVersion = version('maxVersion', raw.maxVersion);
  if (
    maxVersion !== undefined &&
    VERSION_ORDER.indexOf(maxVersion) < VERSION_ORDER.indexOf(minVersion)
  )
    throw new OptionError(
      'maxVersion',
      `maxVersion ${String(raw.maxVersion)} is lower than minVersion ${String(raw.minVersion ?? 'VersionTLS12')}`,
    );
  const alpnGiven = raw.alpnProtocols !== undefined;
  const alpn = alpnGiven ? stringList('alpnProtocols', raw.alpnProtocols) : DEFAULT_ALPN;
  const settings = {
    minVersion,
    maxVersion,
    ciphers: ciphersOf(stringList('cipherSuites', raw.cipherSuites), minVersion),
    ecdhCurve: curvesOf(stringList('curvePreferences', raw.curvePreferences)),
    sniStrict: raw.sniStrict === true,
    disableSessionTickets: raw.disableSessionTickets === true,
    // acme-tls/1 and other non-HTTP names are never negotiated by an HTTP entrypoint
    alpnProtocols: alpn.filter((p) => HTTP_ALPN.has(p)),
    clientAuth: clientAuthOf(raw.clientAuth),
  };
  if (alpnGiven && settings.alpnProtocols.length === 0 && alpn.length > 0)
    throw new OptionError(
      'alpnProtocols',
      `none of ${alpn.join(', ')} is an HTTP protocol this entrypoint speaks (h2, http/1.1)`,
    );
  return { name, ...settings, key: fingerprint(settings) };
}

/** Traefik's defaults: TLS 1.2 minimum, Node's ciphers and curves, no client certificates. */
export const BUILTIN_DEFAULT_OPTIONS: TlsOptions = buildOne(DEFAULT_TLS_OPTIONS, {});

export interface TlsOptionsSet {
  /** every valid set by qualified name; `default` is always there */
  options: Map<string, TlsOptions>;
  /** the sets that failed, with the reason (routers referring to them are disabled) */
  invalid: Map<string, string>;
  errors: ElementError[];
}

/** Builds every option set of `tls.options`; one bad set never affects the others. */
export function buildTlsOptions(raw: Record<string, unknown> | undefined): TlsOptionsSet {
  const options = new Map<string, TlsOptions>();
  const invalid = new Map<string, string>();
  const errors: ElementError[] = [];
  for (const [name, value] of Object.entries(raw ?? {})) {
    try {
      options.set(name, buildOne(name, (value ?? {}) as Record<string, unknown>));
    } catch (err) {
      const field = err instanceof OptionError ? err.field : undefined;
      const message = (err as Error).message;
      invalid.set(name, field ? `${field}: ${message}` : message);
      errors.push({
        kind: 'tls',
        name: `tls.options.${name}`,
        ...(field ? { field } : {}),
        message:
          name === DEFAULT_TLS_OPTIONS
            ? `${message} (the built-in default options are used instead)`
            : message,
      });
    }
  }
  if (!options.has(DEFAULT_TLS_OPTIONS)) options.set(DEFAULT_TLS_OPTIONS, BUILTIN_DEFAULT_OPTIONS);
  return { options, invalid, errors };
}

/** The secure-context fields an option set controls (certificate and key come from the store). */
export function contextOptions(o: TlsOptions): SecureContextOptions {
  return {
    minVersion: o.minVersion,
    ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
    ...(o.ciphers ? { ciphers: o.ciphers } : {}),
    ...(o.ecdhCurve ? { ecdhCurve: o.ecdhCurve } : {}),
    // the CA list also goes out in the CertificateRequest, so clients pick a matching certificate
    ...(o.clientAuth.ca ? { ca: o.clientAuth.ca } : {}),
    ...(o.disableSessionTickets ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
  };
}

/** How OpenSSL should ask for a client certificate, and whether Node rejects a failed verification. */
export function verifyMode(type: ClientAuthType): {
  request: boolean;
  /** handshake fails without a certificate (OpenSSL's FAIL_IF_NO_PEER_CERT) */
  require: boolean;
  /** a certificate that does not chain to caFiles ends the connection */
  verify: boolean;
} {
  switch (type) {
    case 'NoClientCert':
      return { request: false, require: false, verify: false };
    case 'RequestClientCert':
      return { request: true, require: false, verify: false };
    case 'RequireAnyClientCert':
      return { request: true, require: true, verify: false };
    case 'VerifyClientCertIfGiven':
      return { request: true, require: false, verify: true };
    case 'RequireAndVerifyClientCert':
      return { request: true, require: true, verify: true };
  }
}
