/*
 * The header, body and response middlewares. Options as in Traefik v3; each
 * factory in middlewares/ imports its decoded type and schema from here.
 */
import { Bool, Int, Map, NumText, Obj, Str, StrList, type Static } from '../core.js';
import { middleware } from './define.js';

/** A size in bytes: a whole number, 0 or more. */
const bytes = (description: string) => Int({ description, min: 0 });

/** buffering's memRequestBodyBytes / memResponseBodyBytes: Traefik spills to disk over them */
const MEMORY_THRESHOLD =
  "Traefik's in-memory threshold (1 MiB); accepted, bodies stay in memory here";

export const headers = middleware(
  'headers',
  'sets request and response headers, answers CORS preflights, adds security headers',
  Obj(
    {
      customRequestHeaders: Map(Str(), {
        description: 'headers set on the request sent upstream; an empty value removes the header',
        nullAsEmpty: true,
      }),
      customResponseHeaders: Map(Str(), {
        description: 'headers set on the response; an empty value removes the header',
        nullAsEmpty: true,
      }),
      accessControlAllowCredentials: Bool({
        description: 'CORS: Access-Control-Allow-Credentials: true',
      }),
      accessControlAllowHeaders: StrList({
        description: 'CORS: request headers allowed in a preflight answer',
      }),
      accessControlAllowMethods: StrList({
        description: 'CORS: methods allowed in a preflight answer',
      }),
      accessControlAllowOriginList: StrList({
        description: 'CORS: allowed origins (exact match, or * for any)',
      }),
      accessControlAllowOriginListRegex: StrList({
        description: 'CORS: allowed origins as RE2 regular expressions',
      }),
      accessControlExposeHeaders: StrList({
        description: 'CORS: response headers the browser may expose',
      }),
      accessControlMaxAge: Int({ description: 'CORS: seconds a preflight answer may be cached' }),
      addVaryHeader: Bool({ description: 'CORS: add Origin to the Vary header' }),
      allowedHosts: StrList({
        description: 'host names accepted (as in the Host header); others get 500 Bad Host',
      }),
      hostsProxyHeaders: StrList({
        description: 'headers that may carry the proxied host name, checked before Host',
      }),
      sslProxyHeaders: Map(Str(), {
        description:
          'header/value pairs that mark a request as HTTPS (e.g. X-Forwarded-Proto: https)',
        nullAsEmpty: true,
      }),
      stsSeconds: Int({
        description: 'max-age of Strict-Transport-Security; 0 leaves it out',
        min: 0,
      }),
      stsIncludeSubdomains: Bool({ description: 'adds includeSubDomains to the STS header' }),
      stsPreload: Bool({ description: 'adds preload to the STS header' }),
      forceSTSHeader: Bool({ description: 'sends the STS header on plain HTTP too' }),
      frameDeny: Bool({ description: 'X-Frame-Options: DENY' }),
      customFrameOptionsValue: Str({ description: 'X-Frame-Options value; overrides frameDeny' }),
      contentTypeNosniff: Bool({ description: 'X-Content-Type-Options: nosniff' }),
      browserXssFilter: Bool({ description: 'X-XSS-Protection: 1; mode=block' }),
      customBrowserXSSValue: Str({
        description: 'X-XSS-Protection value; overrides browserXssFilter',
      }),
      contentSecurityPolicy: Str({ description: 'Content-Security-Policy value' }),
      contentSecurityPolicyReportOnly: Str({
        description: 'Content-Security-Policy-Report-Only value',
      }),
      publicKey: Str({ description: 'Public-Key-Pins value (HTTPS only)' }),
      referrerPolicy: Str({ description: 'Referrer-Policy value' }),
      permissionsPolicy: Str({ description: 'Permissions-Policy value' }),
      isDevelopment: Bool({
        description: 'turns off allowedHosts, STS and Public-Key-Pins (for local testing)',
      }),
    },
    {
      allowEmpty: true,
      // named with where to go instead, rather than "unknown field"
      removed: {
        sslRedirect: 'removed in traefik v3; use the redirectScheme middleware',
        sslTemporaryRedirect: 'removed in traefik v3; use the redirectScheme middleware',
        sslHost: 'removed in traefik v3; use the redirectRegex middleware',
        sslForceHost: 'removed in traefik v3; use the redirectRegex middleware',
        featurePolicy: 'removed in traefik v3; use permissionsPolicy',
        accessControlAllowOrigin: 'removed in traefik v3; use accessControlAllowOriginList',
      },
    },
  ),
);

export type HeadersOptions = Static<typeof headers.options>;

export const compress = middleware(
  'compress',
  'compresses responses with gzip, brotli or zstd as the client accepts',
  Obj(
    {
      encodings: StrList({
        description: 'encodings offered, in order of preference: gzip, br, zstd',
      }),
      defaultEncoding: Str({
        description: 'encoding used when the request has no Accept-Encoding or accepts *',
      }),
      minResponseBodyBytes: bytes(
        'smallest body compressed, in bytes (default 1024; 0 means the default)',
      ),
      includedContentTypes: StrList({
        description: 'compress only these media types (exclusive with excludedContentTypes)',
      }),
      excludedContentTypes: StrList({
        description: 'never compress these media types (application/grpc never is)',
      }),
    },
    { allowEmpty: true },
  ),
);

export type CompressOptions = Static<typeof compress.options>;

export const buffering = middleware(
  'buffering',
  'reads the request body whole before forwarding (413 over a limit), optionally the response too, and can retry',
  Obj(
    {
      maxRequestBodyBytes: bytes(
        'largest request body accepted, in bytes; over it: 413 (0: no limit)',
      ),
      memRequestBodyBytes: bytes(MEMORY_THRESHOLD),
      maxResponseBodyBytes: bytes(
        'largest response body accepted, in bytes; over it: 500 (0: no limit)',
      ),
      memResponseBodyBytes: bytes(MEMORY_THRESHOLD),
      retryExpression: Str({
        description: 'when to send the buffered request again: IsNetworkError() && Attempts() < N',
      }),
    },
    { allowEmpty: true },
  ),
);

export type BufferingOptions = Static<typeof buffering.options>;

export const errors = middleware(
  'errors',
  'replaces error responses with a page from another service, keeping the status',
  Obj(
    {
      status: StrList({
        description: 'statuses that get an error page: codes and ranges ("500", "500-599")',
      }),
      service: Str({ description: 'the service that serves the error pages' }),
      query: Str({
        description:
          'path requested from the service; {status}, {originalStatus} and {url} are replaced',
      }),
      statusRewrites: Map(NumText(), {
        description:
          'status sent to the client instead of the caught one, by code or range ("502-504": 500)',
        nullAsEmpty: true,
      }),
      errorRequestHeaders: StrList({
        description: 'request headers sent to the error service (default: all of them)',
      }),
    },
    { required: ['status', 'service'], allowEmpty: true },
  ),
);

export type ErrorsOptions = Static<typeof errors.options>;

export const contentType = middleware(
  'contentType',
  'sets a Content-Type guessed from the body when the upstream sent none (Traefik v3 no longer does by default)',
  Obj(
    {
      autoDetect: Bool({
        description: 'deprecated (as in Traefik): false turns the middleware into a no-op',
      }),
    },
    { allowEmpty: true },
  ),
);

export type ContentTypeOptions = Static<typeof contentType.options>;

/** The fields of a distinguished name passTLSClientCert can pass. */
function distinguishedName(description: string) {
  return Obj(
    {
      country: Bool({ description: 'C' }),
      province: Bool({ description: 'ST' }),
      locality: Bool({ description: 'L' }),
      organization: Bool({ description: 'O' }),
      organizationalUnit: Bool({ description: 'OU' }),
      commonName: Bool({ description: 'CN' }),
      serialNumber: Bool({ description: 'SN (the serialNumber attribute of the name)' }),
      domainComponent: Bool({ description: 'DC' }),
    },
    { description, allowEmpty: true },
  );
}

export const passTLSClientCert = middleware(
  'passTLSClientCert',
  'passes the TLS client certificate (PEM and/or selected fields) to the upstream in headers',
  Obj(
    {
      pem: Bool({ description: 'pass the certificate chain in X-Forwarded-Tls-Client-Cert' }),
      info: Obj(
        {
          notAfter: Bool({ description: 'NA: end of validity, Unix seconds' }),
          notBefore: Bool({ description: 'NB: start of validity, Unix seconds' }),
          sans: Bool({ description: 'SAN: DNS names, e-mails, IPs, URIs' }),
          serialNumber: Bool({ description: 'SerialNumber: the certificate serial, decimal' }),
          subject: distinguishedName('Subject fields'),
          issuer: distinguishedName('Issuer fields'),
        },
        { description: 'fields to pass in X-Forwarded-Tls-Client-Cert-Info', allowEmpty: true },
      ),
    },
    { allowEmpty: true },
  ),
);

export type PassTLSClientCertOptions = Static<typeof passTLSClientCert.options>;
export type CertificateInfoOptions = NonNullable<PassTLSClientCertOptions['info']>;
export type DistinguishedNameOptions = NonNullable<CertificateInfoOptions['subject']>;

export const grpcWeb = middleware(
  'grpcWeb',
  'converts gRPC-Web calls from browsers to gRPC and back (serve the gRPC server through an h2c:// service)',
  Obj(
    {
      allowOrigins: StrList({ description: 'origins allowed to call (CORS); * allows any' }),
    },
    { allowEmpty: true },
  ),
);

export type GrpcWebOptions = Static<typeof grpcWeb.options>;
