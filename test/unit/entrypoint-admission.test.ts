/*
 * Request admission (src/server/admission.ts): what a request must pass
 * before routing. Table-driven over the request head: version and framing,
 * Host, absolute-form targets, who may set X-Forwarded-*.
 */
import http from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  acceptableHost,
  createTrustCheck,
  dropForwardedHeaders,
  framingProblem,
  hasDuplicateHost,
  splitAbsolute,
  unsupportedTransferEncoding,
  validHost,
} from '../../src/server/admission.js';
import { testStaticConfig } from '../helpers/portico.js';

function head(version: string, raw: string[]): http.IncomingMessage {
  const req = new http.IncomingMessage(new Socket());
  const [major, minor] = version.split('.').map(Number);
  req.httpVersionMajor = major!;
  req.httpVersionMinor = minor ?? 0;
  req.rawHeaders = raw;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase();
    if (req.headers[n] === undefined) req.headers[n] = raw[i + 1];
  }
  return req;
}

describe('framingProblem', () => {
  it.each([
    ['1.1', ['Host', 'a'], false, 0],
    ['1.0', ['Host', 'a'], false, 0],
    ['0.9', [], false, 400],
    ['2.0', ['Host', 'a'], false, 400],
    ['2.0', [':authority', 'a'], true, 0],
    ['1.0', ['Host', 'a', 'Transfer-Encoding', 'chunked'], false, 400],
    ['1.1', ['Host', 'a', 'Transfer-Encoding', 'chunked'], false, 0],
    ['1.1', ['Host', 'a', 'Transfer-Encoding', 'CHUNKED'], false, 0],
    ['1.1', ['Host', 'a', 'Transfer-Encoding', 'gzip, chunked'], false, 501],
    ['1.1', ['Host', 'a', 'hOsT', 'b'], false, 400],
  ])('HTTP/%s %j (h2 allowed: %s) → %i', (version, raw, h2, status) => {
    expect(framingProblem(head(version, raw), h2)).toBe(status);
  });
});

describe('Host', () => {
  it.each([
    ['example.test', 1, true],
    ['example.test:8080', 1, true],
    ['[::1]:443', 2, true],
    ['', 1, true],
    ['', 2, false],
    ['a b', 1, false],
    ['a/b', 1, false],
    ['user@a', 1, false],
    ['a\\b', 1, false],
    ['é.test', 1, false],
  ])('%j over HTTP/%i acceptable: %s', (host, major, ok) => {
    expect(acceptableHost(host, major)).toBe(ok);
    if (host !== '') expect(validHost(host)).toBe(ok);
  });

  it('a second Host header is found whatever its case', () => {
    expect(hasDuplicateHost(['Host', 'a', 'Accept', '*/*'])).toBe(false);
    expect(hasDuplicateHost(['Host', 'a', 'HOST', 'b'])).toBe(true);
    expect(hasDuplicateHost(['Hostx', 'a', 'Host', 'b'])).toBe(false);
  });
});

describe('splitAbsolute', () => {
  it.each([
    ['http://a.test/x?y', { host: 'a.test', target: '/x?y' }],
    ['HTTPS://a.test', { host: 'a.test', target: '/' }],
    ['http://a.test?q', { host: 'a.test', target: '/?q' }],
    ['http:///x', null],
    ['ftp://a.test/x', null],
    ['*', null],
  ])('%s → %j', (url, expected) => {
    expect(splitAbsolute(url)).toEqual(expected);
  });
});

describe('unsupportedTransferEncoding', () => {
  it.each([
    [undefined, false],
    ['chunked', false],
    ['Chunked', false],
    ['gzip', true],
    ['gzip, chunked', true],
  ])('%s → %s', (te, refused) => {
    expect(unsupportedTransferEncoding(te)).toBe(refused);
  });
});

describe('forwarded headers', () => {
  it.each([
    [[], '10.0.0.1', false],
    [['--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8,::1'], '10.2.3.4', true],
    [['--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8,::1'], '::1', true],
    [['--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8,::1'], '11.0.0.1', false],
    [['--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8'], 'not an ip', false],
    [['--entryPoints.web.forwardedHeaders.insecure=true'], '203.0.113.9', true],
    // the static configuration accepts a zone on an entry: it is ignored, not a crash at start
    [['--entryPoints.web.forwardedHeaders.trustedIPs=fe80::1%eth0'], 'fe80::1', true],
  ])('%j trusts %s: %s', (flags, ip, trusted) => {
    const ep = testStaticConfig(flags).entryPoints.web!;
    expect(createTrustCheck(ep)(ip)).toBe(trusted);
  });

  it("an untrusted client's forwarding headers are removed, others kept", () => {
    const headers: http.IncomingHttpHeaders = {
      'x-forwarded-for': '1.2.3.4',
      'x-forwarded-prefix': '/admin',
      'x-real-ip': '1.2.3.4',
      forwarded: 'for=1.2.3.4',
      'x-request-id': 'keep',
      from: 'keep',
    };
    dropForwardedHeaders(headers);
    expect(headers).toEqual({ 'x-request-id': 'keep', from: 'keep' });
  });
});
