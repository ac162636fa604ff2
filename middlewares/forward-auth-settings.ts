/*
 * forwardAuth's options checked and resolved once, when the configuration is
 * compiled (middlewares/forward-auth.ts): the auth address, the header lists,
 * the response-header regex and the TLS material. Everything that can be
 * wrong is reported here as a ConfigElementError naming the option, so a bad
 * value disables the router instead of failing every request.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigElementError } from '../src/kernel/errors.js';
import { compileRe2, type GoRegexp } from '../src/rules/regex.js';
import { decodeOptions } from './schema.js';
import { forwardAuth as schema } from '../src/config/schema/middlewares/auth.js';
import { checkHeaderField } from './basic-auth.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export type ConnectOptions = SecureContextOptions & { rejectUnauthorized?: boolean };

export interface ForwardAuthSettings {
  address: URL;
  /** path and query of the auth request */
  path: string;
  /** auth response headers copied onto the request, lower case */
  responseHeaders: string[];
  /** the client headers sent to the auth server; undefined: all of them */
  requestAllow: Set<string> | undefined;
  /** authResponseHeadersRegex, matched against canonical header names */
  responseRegex: GoRegexp | undefined;
  /** addAuthCookiesToResponse */
  authCookies: Set<string>;
  /** headerField, lower case: the auth answer's header naming the user (for the access log) */
  userHeader: string | undefined;
  trustForwardHeader: boolean;
  forwardBody: boolean;
  /** -1: no limit */
  maxBodySize: number;
  /** -1: no limit */
  maxResponseBodySize: number;
  preserveLocationHeader: boolean;
  preserveRequestMethod: boolean;
  /** TLS options for an https auth server (empty for http) */
  connect: ConnectOptions;
}

function parseAddress(value: string): URL {
  let address: URL;
  try {
    address = new URL(value);
  } catch {
    throw new ConfigElementError(`"${value}" is not a URL`, 'address');
  }
  if (address.protocol !== 'http:' && address.protocol !== 'https:')
    throw new ConfigElementError(`must be an http or https URL, got "${value}"`, 'address');
  if (address.username !== '' || address.password !== '')
    throw new ConfigElementError('must not carry credentials', 'address');
  return address;
}

function headerNames(list: string[] | undefined, field: string): string[] {
  return (list ?? []).map((n, i) => {
    if (!TOKEN.test(n))
      throw new ConfigElementError(`"${n}" is not a valid header name`, `${field}[${i}]`);
    return n.toLowerCase();
  });
}

/** Go's regexp in Traefik, so RE2 here: linear time on client-chosen header names (issue 11) */
function responseRegexOf(source: string | undefined): GoRegexp | undefined {
  if (source === undefined || source === '') return undefined;
  try {
    return compileRe2(source);
  } catch (err) {
    throw new ConfigElementError(
      `invalid regex: ${(err as Error).message}`,
      'authResponseHeadersRegex',
      { cause: err },
    );
  }
}

/** A PEM value or a file holding one, as Traefik's ClientTLS accepts. */
function pem(value: string, field: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new ConfigElementError(
      `cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      field,
    );
  }
}

/** node skips CA blocks it cannot parse: check each, or a typo would make every call fail */
function checkedCa(value: string): string {
  const ca = pem(value, 'tls.ca');
  const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks === null) throw new ConfigElementError('no PEM certificate found', 'tls.ca');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ConfigElementError(`invalid certificate: ${(err as Error).message}`, 'tls.ca');
    }
  }
  return ca;
}

interface TlsOptions {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  insecureSkipVerify?: boolean | undefined;
}

/** The TLS options of the connection to an https auth server, loaded and checked now. */
export function connectOptions(address: URL, tls: TlsOptions): ConnectOptions {
  const connect: ConnectOptions = {};
  if (address.protocol !== 'https:') return connect;
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new ConfigElementError(
      'cert and key must be set together',
      tls.cert === undefined ? 'tls.cert' : 'tls.key',
    );
  if (tls.ca !== undefined && tls.ca !== '') connect.ca = checkedCa(tls.ca);
  if (tls.cert !== undefined && tls.key !== undefined) {
    connect.cert = pem(tls.cert, 'tls.cert');
    connect.key = pem(tls.key, 'tls.key');
  }
  try {
    createSecureContext(connect);
  } catch (err) {
    throw new ConfigElementError(`invalid TLS material: ${(err as Error).message}`, 'tls');
  }
  connect.rejectUnauthorized = tls.insecureSkipVerify !== true;
  return connect;
}

/** Decodes and checks forwardAuth's options; throws ConfigElementError naming the first bad one. */
export function forwardAuthSettings(raw: unknown): ForwardAuthSettings {
  const o = decodeOptions(schema.options, raw);
  const address = parseAddress(o.address);
  const responseHeaders = headerNames(o.authResponseHeaders, 'authResponseHeaders');
  const requestHeaders = headerNames(o.authRequestHeaders, 'authRequestHeaders');
  const responseRegex = responseRegexOf(o.authResponseHeadersRegex);
  const userHeader = checkHeaderField(o.headerField)?.toLowerCase();
  return {
    address,
    path: address.pathname + address.search,
    responseHeaders,
    requestAllow: requestHeaders.length > 0 ? new Set(requestHeaders) : undefined,
    responseRegex,
    authCookies: new Set(o.addAuthCookiesToResponse ?? []),
    userHeader,
    trustForwardHeader: o.trustForwardHeader === true,
    forwardBody: o.forwardBody === true,
    maxBodySize: o.maxBodySize ?? -1,
    maxResponseBodySize: o.maxResponseBodySize ?? -1,
    preserveLocationHeader: o.preserveLocationHeader === true,
    preserveRequestMethod: o.preserveRequestMethod === true,
    // TLS material is loaded and checked now, so a bad file disables the router instead of every request failing
    connect: connectOptions(address, o.tls ?? {}),
  };
}
