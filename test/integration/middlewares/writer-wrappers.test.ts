/*
 * Middlewares that wrap the response writer (headers, circuitBreaker,
 * contentType, compress, errors, retry) pass everything they do not change
 * through to the client, upstream trailers included: gRPC's grpc-status
 * travels in trailers, and Traefik's wrappers (Go ResponseWriters) carry
 * them. Each case: an upstream answering a chunked body with a trailer, one
 * router with one middleware, a real client reading the trailers. The
 * client's own response takes them by name on HTTP/2 too.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { gunzipSync } from 'node:zlib';
import selfsigned from 'selfsigned';
import { describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { freePort } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';

const { upstream, router } = useCleanups();

function withMiddleware(url: string, middleware: Record<string, unknown>): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 's', middlewares: ['m'] } },
      services: { s: { loadBalancer: { servers: [{ url }] } } },
      middlewares: { m: middleware },
    },
  };
}

function getWithTrailers(url: string): Promise<{ body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ body: Buffer.concat(chunks).toString(), trailers: res.trailers }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const CASES: [string, Record<string, unknown>][] = [
  ['headers', { headers: { customResponseHeaders: { 'X-Added': 'yes' } } }],
  ['circuitBreaker', { circuitBreaker: { expression: 'NetworkErrorRatio() > 0.5' } }],
  ['contentType', { contentType: {} }],
  // no Accept-Encoding from the client: the response passes uncompressed
  ['compress', { compress: {} }],
  ['errors (status not caught)', { errors: { status: ['500-599'], service: 's', query: '/' } }],
  ['retry', { retry: { attempts: 2 } }],
  ['buffering', { buffering: {} }],
];

describe('response writer wrappers relay upstream trailers', () => {
  for (const [name, middleware] of CASES) {
    it(name, async () => {
      const u = await upstream((_req, res) => {
        res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
        res.write('body');
        res.addTrailers({ 'x-checksum': 'abc123' });
        res.end();
      });
      const r = await router(withMiddleware(u.url, middleware));
      const got = await getWithTrailers(r.url + '/');
      expect(got.body).toBe('body');
      expect(got.trailers['x-checksum']).toBe('abc123');
    });
  }
});

describe('compress relays trailers after the compressed body', () => {
  it('gzip', async () => {
    const text = 'compressible '.repeat(200);
    const u = await upstream((_req, res) => {
      res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
      res.write(text);
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end();
    });
    const r = await router(withMiddleware(u.url, { compress: {} }));
    const got = await new Promise<{
      body: Buffer;
      encoding: string | undefined;
      trailers: NodeJS.Dict<string>;
    }>((resolve, reject) => {
      http
        .get(r.url + '/', { agent: false, headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              body: Buffer.concat(chunks),
              encoding: res.headers['content-encoding'],
              trailers: res.trailers,
            }),
          );
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(got.encoding).toBe('gzip');
    expect(gunzipSync(got.body).toString()).toBe(text);
    expect(got.trailers['x-checksum']).toBe('abc123');
  });
});

describe('upstream trailers reach an HTTP/2 client by name', () => {
  for (const [name, middlewares] of [
    ['no middleware', undefined],
    ['through headers', { m: { headers: { customResponseHeaders: { 'X-Added': 'yes' } } } }],
  ] as const) {
    it(name, async () => {
      const pems = await selfsigned.generate([{ name: 'commonName', value: 'h2.test' }], {
        keyType: 'ec',
        extensions: [
          { name: 'subjectAltName', altNames: [{ type: 2 as const, value: 'h2.test' }] },
        ],
      });
      const u = await upstream((_req, res) => {
        res.writeHead(200, { trailer: 'grpc-status', 'content-type': 'text/plain' });
        res.write('body');
        res.addTrailers({ 'grpc-status': '0' });
        res.end();
      });
      const securePort = await freePort();
      const config = withMiddleware(u.url, {});
      config.http!.routers!.r = {
        rule: 'PathPrefix(`/`)',
        service: 's',
        tls: {},
        ...(middlewares ? { middlewares: ['m'] } : {}),
      };
      config.http!.middlewares = middlewares ?? {};
      (config as Record<string, unknown>).tls = {
        certificates: [{ certFile: pems.cert, keyFile: pems.private }],
      };
      await router(config, {
        flags: [
          `--entryPoints.websecure.address=127.0.0.1:${securePort}`,
          '--entryPoints.websecure.http.tls',
        ],
      });
      const session = http2.connect(`https://127.0.0.1:${securePort}`, {
        servername: 'h2.test',
        rejectUnauthorized: false,
      });
      try {
        const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          const stream = session.request({ ':path': '/', ':authority': 'h2.test' });
          stream.on('trailers', (t) => resolve(t));
          stream.on('end', () => resolve({}));
          stream.on('error', reject);
          stream.resume();
        });
        expect(Object.keys(trailers)).toEqual(['grpc-status']);
        expect(trailers['grpc-status']).toBe('0');
      } finally {
        session.close();
      }
    });
  }
});
