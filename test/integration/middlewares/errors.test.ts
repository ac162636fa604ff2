/*
 * The errors middleware against real upstreams and a real error-page
 * service: caught statuses and ranges, query placeholders, status rewrites,
 * statuses written by Portico or inner middlewares, the page request's
 * headers, validation and Docker-label decoding.
 */
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { UpstreamHandler } from '../../helpers/upstream.js';
import { closedPort, request as send, type Reply } from '../../helpers/http.js';
import { useCleanups } from '../../helpers/scope.js';
import type { DynamicConfig } from '../../../src/config/dynamic.js';
import { decodeLabels } from '../../../src/config/labels.js';
import { errors } from '../../../middlewares/errors.js';
import type { MiddlewareBuildContext } from '../../../middlewares/types.js';

const { upstream, router } = useCleanups();

function request(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<Reply> {
  return send(url, { method, headers, body });
}

/** the app answers `status` with a body of its own; the pages service echoes what it was asked */
function statusApp(status: number): UpstreamHandler {
  return (req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', 'x-app': 'yes' });
    res.end(`app ${status} for ${req.url}`);
  };
}

const pagesHandler: UpstreamHandler = (req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'x-page': 'yes' });
  res.end(`<h1>page ${req.method} ${req.url}</h1>`);
};

function config(
  app: string,
  pages: string,
  middlewares: Record<string, Record<string, unknown>>,
  chain: string[] = Object.keys(middlewares),
): DynamicConfig {
  return {
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 'app', middlewares: chain } },
      services: {
        app: { loadBalancer: { servers: [{ url: app }] } },
        pages: { loadBalancer: { servers: [{ url: pages }] } },
      },
      middlewares,
    } as DynamicConfig['http'],
  };
}

describe('error pages', () => {
  it('replaces a caught response with the page, keeping the status', async () => {
    const app = await upstream(statusApp(503));
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, {
        e: { errors: { status: ['500-599'], service: 'pages', query: '/{status}.html' } },
      }),
    );
    const res = await request(r.url + '/some/path', { host: 'site.test' });
    expect(res.status).toBe(503);
    expect(res.body).toBe('<h1>page GET /503.html</h1>');
    expect(res.headers['content-type']).toBe('text/html');
    expect(res.headers['x-page']).toBe('yes');
    expect(res.headers['x-app']).toBeUndefined();
    // the page request carries the client's Host, as Traefik sends it
    expect(pages.seen[0]!.headers.host).toBe('site.test');
  });

  it('lets other statuses through untouched', async () => {
    const app = await upstream(statusApp(404));
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, {
        e: { errors: { status: ['500', '502-504'], service: 'pages' } },
      }),
    );
    const res = await request(r.url + '/x');
    expect(res.status).toBe(404);
    expect(res.body).toBe('app 404 for /x');
    expect(res.headers['x-app']).toBe('yes');
    expect(pages.seen).toHaveLength(0);
  });

  it('requests / when no query is set', async () => {
    const app = await upstream(statusApp(500));
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, { e: { errors: { status: ['500'], service: 'pages' } } }),
    );
    expect((await request(r.url + '/x')).body).toBe('<h1>page GET /</h1>');
  });

  it('fills {status}, {originalStatus} and {url}, and rewrites the status', async () => {
    const app = await upstream(statusApp(418));
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, {
        e: {
          errors: {
            status: ['400-499'],
            service: 'pages',
            query: 'errors/{status}?from={originalStatus}&url={url}',
            statusRewrites: { '418': 404, '500-599': '500' },
          },
        },
      }),
    );
    const res = await request(r.url + "/a b/c?q=1&x=it's");
    expect(res.status).toBe(404);
    expect(pages.seen[0]!.url).toBe(
      // the client sent ' as %27 (Node escapes it): Go's req.URL.String() keeps that escape too
      '/errors/404?from=418&url=%2Fa%2520b%2Fc%3Fq%3D1%26x%3Dit%2527s',
    );
  });

  it('catches the 502 Portico writes for an unreachable upstream', async () => {
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(`http://127.0.0.1:${await closedPort()}`, pages.url, {
        e: { errors: { status: ['502'], service: 'pages', query: '/{status}' } },
      }),
    );
    const res = await request(r.url + '/');
    expect(res.status).toBe(502);
    expect(res.body).toBe('<h1>page GET /502</h1>');
  });

  it('catches a status written by a middleware further down the chain (basicAuth 401)', async () => {
    const app = await upstream('app');
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, {
        e: { errors: { status: ['401'], service: 'pages', query: '/login' } },
        a: { basicAuth: { users: [`user:${bcrypt.hashSync('secret', 4)}`] } },
      }),
    );
    const denied = await request(r.url + '/');
    expect(denied.status).toBe(401);
    expect(denied.body).toBe('<h1>page GET /login</h1>');
    const ok = await request(r.url + '/', {
      authorization: 'Basic ' + Buffer.from('user:secret').toString('base64'),
    });
    expect(ok.status).toBe(200);
    expect(app.seen).toHaveLength(1);
  });

  it('catches a status from the headers middleware (Bad Host) further down', async () => {
    const app = await upstream('app');
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, {
        e: { errors: { status: ['500'], service: 'pages', query: '/bad-host' } },
        h: { headers: { allowedHosts: ['good.test'] } },
      }),
    );
    const res = await request(r.url + '/', { host: 'evil.test' });
    expect(res.status).toBe(500);
    expect(res.body).toBe('<h1>page GET /bad-host</h1>');
  });

  it('sends the page request as a GET without the body, with all or the listed headers', async () => {
    const app = await upstream(statusApp(500));
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, { e: { errors: { status: ['500'], service: 'pages' } } }),
    );
    const first = await request(
      r.url + '/',
      { accept: 'text/html', 'x-other': '1' },
      'POST',
      'payload',
    );
    expect(first.status).toBe(500);
    const all = pages.seen[0]!;
    expect(all.method).toBe('GET');
    expect(all.body).toBe('');
    expect(all.headers['content-length']).toBeUndefined();
    expect(all.headers.accept).toBe('text/html');
    expect(all.headers['x-other']).toBe('1');
    expect(app.seen[0]!.body).toBe('payload');

    r.apply(
      config(app.url, pages.url, {
        e: { errors: { status: ['500'], service: 'pages', errorRequestHeaders: ['Accept'] } },
      }),
    );
    await request(r.url + '/', { accept: 'text/html', 'x-other': '1' });
    const listed = pages.seen[1]!;
    expect(listed.headers.accept).toBe('text/html');
    expect(listed.headers['x-other']).toBeUndefined();
  });

  it('keeps the caught status when the error service itself fails', async () => {
    const app = await upstream(statusApp(503));
    const r = await router(
      config(app.url, `http://127.0.0.1:${await closedPort()}`, {
        e: { errors: { status: ['503'], service: 'pages' } },
      }),
    );
    const res = await request(r.url + '/');
    expect(res.status).toBe(503);
    expect(res.body).toBe('Bad Gateway\n');
  });

  it('keeps working across many caught requests (no state leaks between them)', async () => {
    const app = await upstream(statusApp(500));
    const pages = await upstream(pagesHandler);
    const r = await router(
      config(app.url, pages.url, {
        e: { errors: { status: ['500'], service: 'pages', query: '/{status}' } },
      }),
    );
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(r.url + `/${i}`)),
    );
    for (const res of results) {
      expect(res.status).toBe(500);
      expect(res.body).toBe('<h1>page GET /500</h1>');
    }
  });
});

const buildCtx = (known = ['pages@file']): MiddlewareBuildContext => ({
  name: 'e@file',
  state: undefined as never,
  logger: pino({ level: 'silent' }),
  service: (name: string) => {
    const q = name.includes('@') ? name : `${name}@file`;
    if (!known.includes(q)) throw new Error(`the service "${q}" does not exist`);
    return { handle: () => {} };
  },
});

describe('configuration', () => {
  it.each([
    [{ service: 'pages' }, 'status: is required'],
    [{ status: ['500'] }, 'service: is required'],
    [{ status: [], service: 'pages' }, 'status: must list at least one status'],
    [{ status: ['5xx'], service: 'pages' }, 'status[0]: "5xx" is not a status code'],
    [{ status: ['599-500'], service: 'pages' }, 'status[0]: "599-500" is not a valid status range'],
    [{ status: ['700'], service: 'pages' }, 'status[0]'],
    [{ status: ['500'], service: 'nope' }, 'service: the service "nope@file" does not exist'],
    [
      { status: ['500'], service: 'pages', statusRewrites: { '500': 'teapot' } },
      'statusRewrites.500: must be a status code',
    ],
    [{ status: ['500'], service: 'pages', statusRewrites: { '5-9': 400 } }, 'statusRewrites.5-9'],
    [
      { status: ['500'], service: 'pages', querry: '/' },
      'querry: unknown field "querry", did you mean "query"?',
    ],
  ])('rejects %j', (raw, message) => {
    expect(() => errors.create(raw, buildCtx())).toThrow(message);
  });

  it('accepts the label form: one comma-separated string, rewrites as text', () => {
    expect(() =>
      errors.create(
        { status: '500,502-504', service: 'pages', statusrewrites: { '502-504': '500' } },
        buildCtx(),
      ),
    ).not.toThrow();
  });

  it('disables the routers of an errors middleware whose service does not exist', async () => {
    const app = await upstream('app');
    const cfg = config(app.url, app.url, {
      e: { errors: { status: ['500'], service: 'missing' } },
    });
    const r = await router(cfg);
    const table = r.apply(cfg);
    expect(table.routers.get('r@file')?.status).toBe('disabled');
    expect(table.routers.get('r@file')?.errors.join(' ')).toContain('errors.service');
  });
});

describe('Docker labels', () => {
  it('decodes an errors middleware from labels and applies it', async () => {
    const app = await upstream(statusApp(504));
    const pages = await upstream(pagesHandler);
    const decoded = decodeLabels(
      {
        'traefik.http.middlewares.e.errors.status': '500,502-504',
        'traefik.http.middlewares.e.errors.statusrewrites.502-504': '500',
        'traefik.http.middlewares.e.errors.service': 'pages',
        'traefik.http.middlewares.e.errors.query': '/{status}-{originalStatus}.html',
      },
      { prefixes: ['traefik'] },
    );
    expect(decoded.issues).toEqual([]);
    const r = await router(config(app.url, pages.url, decoded.http.middlewares));
    const res = await request(r.url + '/');
    expect(res.status).toBe(500);
    expect(res.body).toBe('<h1>page GET /500-504.html</h1>');
  });
});
