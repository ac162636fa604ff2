/*
 * URLRewrite: the Gateway API URLRewrite filter, an internal type the
 * Kubernetes Gateway provider emits (Traefik: pkg/middlewares/gatewayapi/
 * urlrewrite). `hostname` becomes the Host sent upstream; `path` replaces the
 * path, or with `pathPrefix` (ReplacePrefixMatch) only the route's matched
 * prefix. No X-Replaced-Path: Traefik's urlRewrite sets none.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { escapePathChars, hasBadEscape } from './replace-path.js';
import { urlRewrite as schema } from '../src/config/schema/middlewares/gateway.js';

const trimSlash = (p: string): string => (p.endsWith('/') ? p.slice(0, -1) : p);

/**
 * The new path of a request: `path` itself, or with `pathPrefix` the request's
 * path with that prefix replaced by `path`, whole path elements only, a
 * trailing "/" of either ignored and the request's own trailing "/" kept
 * (the table of HTTPPathModifier.ReplacePrefixMatch: /foo/bar with /foo → /xyz
 * is /xyz/bar, /foo/ with /foo → /xyz is /xyz/, /foo with /foo → "" is /).
 * A path outside the prefix is left as it is.
 */
export function modifiedPath(reqPath: string, path: string, pathPrefix?: string): string {
  if (pathPrefix === undefined) return path;
  const prefix = trimSlash(pathPrefix);
  if (!reqPath.startsWith(prefix)) return reqPath;
  const rest = reqPath.slice(prefix.length);
  if (rest !== '' && !rest.startsWith('/')) return reqPath;
  return trimSlash(path) + rest || '/';
}

/** Checks a path option (wire form, as replacePath's) and escapes what cannot go raw in a path. */
export function checkedPath(value: string | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (!value.startsWith('/')) throw new ConfigElementError('must start with /', option);
  if (hasBadEscape(value))
    throw new ConfigElementError('has a % that is not followed by two hex digits', option);
  return escapePathChars(value);
}

const HOSTNAME = /^[A-Za-z0-9.-]+$/;

export const urlRewrite: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  providers: schema.providers,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const path = checkedPath(o.path, 'path');
    const prefix = checkedPath(o.pathPrefix, 'pathPrefix');
    if (prefix !== undefined && path === undefined)
      throw new ConfigElementError('needs path (the replacement)', 'pathPrefix');
    const hostname = o.hostname;
    if (hostname !== undefined && !HOSTNAME.test(hostname))
      throw new ConfigElementError('is not a DNS name', 'hostname');
    if (path === undefined && hostname === undefined)
      throw new ConfigElementError('needs hostname or path', '');
    return (next) => (ctx) => {
      if (path !== undefined) ctx.path = modifiedPath(ctx.path, path, prefix);
      // Go sets req.Host: the Host sent upstream (passHostHeader is on for Gateway services)
      if (hostname !== undefined) ctx.rawHost = hostname;
      next(ctx);
    };
  },
};
