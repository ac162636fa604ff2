/*
 * The dashboard's static files (dashboard/ at the package root: plain HTML,
 * CSS and ES modules, no build step). Read once and kept in memory; served
 * with an ETag and a strict Content-Security-Policy (everything from 'self').
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { ApiResponse } from './response.js';
import path from 'node:path';
import { packageRoot } from '../kernel/package-info.js';

type Res = ApiResponse;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

let files: Map<string, StaticFile> | undefined;

function load(): Map<string, StaticFile> {
  if (files !== undefined) return files;
  const out = new Map<string, StaticFile>();
  const root = path.join(packageRoot(), 'dashboard');
  const walk = (dir: string, prefix: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        walk(full, `${prefix}${name}/`);
        continue;
      }
      const type = TYPES[path.extname(name)];
      if (type === undefined) continue; // tests, notes: not served
      const body = readFileSync(full);
      const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`;
      out.set(`${prefix}${name}`, { body, type, etag });
    }
  };
  walk(root, '');
  files = out;
  return out;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function serveDashboard(req: IncomingMessage, res: Res, urlPath: string): void {
  if (urlPath === '/' || urlPath === '/dashboard') {
    res.writeHead(302, { location: '/dashboard/', 'content-length': '0' });
    res.end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' });
    res.end();
    return;
  }
  let rel = urlPath.slice('/dashboard/'.length);
  if (rel === '') rel = 'index.html';
  const all = load();
  // client-side routes (#/routers/x uses the hash, but a reload on /dashboard/routers should work too)
  const file = all.get(rel) ?? (path.extname(rel) === '' ? all.get('index.html') : undefined);
  if (file === undefined) {
    const body = 'Not Found';
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '9' });
    res.end(body);
    return;
  }
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, { etag: file.etag, ...SECURITY_HEADERS });
    res.end();
    return;
  }
  res.writeHead(200, {
    'content-type': file.type,
    'content-length': String(file.body.length),
    etag: file.etag,
    'cache-control': 'no-cache',
    ...SECURITY_HEADERS,
  });
  if (req.method === 'HEAD') res.end();
  else res.end(file.body);
}
