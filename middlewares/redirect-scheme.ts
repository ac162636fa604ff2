/*
 * RedirectScheme: sends the client to the same URL on another scheme (and
 * port). As in Traefik, the URL the client used is rebuilt (the scheme of this
 * hop, or X-Forwarded-Proto from a trusted forwarder; default ports dropped)
 * and compared with the target: equal means the request is already where it
 * should be and goes on, anything else is redirected.
 */
import { ConfigElementError } from '../src/kernel/errors.js';
import type { MiddlewareDefinition } from './types.js';
import { decodeOptions } from './schema.js';
import { redirectScheme as schema } from '../src/config/schema/middlewares/paths.js';
import { writeRedirect } from './redirect-regex.js';

/** Splits a Host header into host and ":port" (empty when there is none), brackets kept for IPv6. */
function splitHostPort(raw: string): [string, string] {
  if (raw.charCodeAt(0) === 0x5b) {
    const close = raw.indexOf(']');
    if (close !== -1 && raw.charCodeAt(close + 1) === 0x3a)
      return [raw.slice(0, close + 1), raw.slice(close + 1)];
    return [raw, ''];
  }
  const colon = raw.lastIndexOf(':');
  return colon === -1 ? [raw, ''] : [raw.slice(0, colon), raw.slice(colon)];
}

/** The scheme the client used: this hop's, unless a trusted forwarder said otherwise. */
function clientScheme(proto: string | string[] | undefined, own: string): string {
  if (typeof proto !== 'string' || proto === '') return own;
  const p = proto.toLowerCase();
  // an upgrade request may carry ws/wss from the previous hop: they map back to http/https
  if (p === 'http' || p === 'ws') return 'http';
  if (p === 'https' || p === 'wss') return 'https';
  return own;
}

export const redirectScheme: MiddlewareDefinition = {
  type: schema.type,
  description: schema.description,
  options: schema.options,
  create(raw) {
    const o = decodeOptions(schema.options, raw);
    const scheme = o.scheme.trim();
    if (scheme === '') throw new ConfigElementError('must not be empty', 'scheme');
    if (!/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme))
      throw new ConfigElementError(
        `is not a valid URL scheme: ${JSON.stringify(scheme)}`,
        'scheme',
      );
    const port = (o.port ?? '').trim();
    if (port !== '' && (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535))
      throw new ConfigElementError(
        `must be a port number (1-65535), got ${JSON.stringify(port)}`,
        'port',
      );
    const targetPort =
      port === '' || (scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')
        ? ''
        : ':' + port;
    const prefix = scheme + '://';
    const permanent = o.permanent === true;
    return (next) => (ctx) => {
      const [host, hostPort] = splitHostPort(ctx.rawHost);
      // only a trusted client still has X-Forwarded-Proto here: the entrypoint dropped the others
      const from = clientScheme(ctx.headers['x-forwarded-proto'], ctx.scheme);
      const fromPort =
        (from === 'http' && hostPort === ':80') || (from === 'https' && hostPort === ':443')
          ? ''
          : hostPort;
      const uri = ctx.target();
      const target = prefix + host + targetPort + uri;
      if (from + '://' + host + fromPort + uri === target) {
        next(ctx);
        return;
      }
      writeRedirect(ctx, target, permanent);
    };
  },
};
