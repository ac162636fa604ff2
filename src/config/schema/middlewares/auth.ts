/*
 * The authentication middlewares: basicAuth, digestAuth, forwardAuth. Options
 * as in Traefik v3; each factory in middlewares/ imports its decoded type and
 * schema from here.
 */
import { Bool, Int, Obj, Str, StrList, type Static } from '../core.js';
import { middleware } from './define.js';

/** The options basicAuth and digestAuth share; only the user format differs. */
function authOptions(userFormat: string, fileFormat: string) {
  return Obj(
    {
      users: StrList({ description: `users as ${userFormat}` }),
      usersFile: Str({
        description: `${fileFormat} file, read when the configuration is applied; merged with users`,
      }),
      realm: Str({ description: 'realm sent in the challenge', default: 'traefik' }),
      headerField: Str({
        description:
          "request header set to the authenticated user's name (the client's value is dropped)",
      }),
      removeHeader: Bool({
        description: 'remove the Authorization header before forwarding',
        default: false,
      }),
    },
    { allowEmpty: true },
  );
}

export const basicAuth = middleware(
  'basicAuth',
  'HTTP Basic authentication against htpasswd users (bcrypt, apr1, sha1)',
  authOptions('name:hash (htpasswd: bcrypt, apr1, sha1)', 'htpasswd'),
);

export type BasicAuthOptions = Static<typeof basicAuth.options>;

export const digestAuth = middleware(
  'digestAuth',
  'HTTP Digest authentication (MD5, qop=auth) against htdigest users',
  authOptions('name:realm:HA1 (htdigest format)', 'htdigest'),
);

export type DigestAuthOptions = Static<typeof digestAuth.options>;

export const forwardAuth = middleware(
  'forwardAuth',
  'delegates authentication to an external service: 2xx passes, anything else is returned',
  Obj(
    {
      address: Str({ description: 'authentication server URL (http or https)' }),
      trustForwardHeader: Bool({
        description: "send the client's X-Forwarded-* to the auth server instead of computing them",
      }),
      authResponseHeaders: StrList({
        description:
          'auth response headers copied onto the forwarded request, replacing the client values',
      }),
      authResponseHeadersRegex: Str({
        description:
          'auth response headers matching this regex are copied (request headers matching it are removed first)',
      }),
      authRequestHeaders: StrList({
        description: 'request headers sent to the auth server; empty = all',
      }),
      addAuthCookiesToResponse: StrList({
        description:
          'cookies set by the auth server that are added to the response, replacing the upstream ones',
      }),
      forwardBody: Bool({ description: 'send the request body to the auth server' }),
      maxBodySize: Int({
        description: 'largest body sent with forwardBody, in bytes; over ⇒ 401; -1 = no limit',
        min: -1,
      }),
      maxResponseBodySize: Int({
        description: 'largest auth response body read, in bytes; over ⇒ 500; -1 = no limit',
        min: -1,
      }),
      headerField: Str({
        description: 'auth response header naming the user (Traefik logs it; see docs)',
      }),
      preserveLocationHeader: Bool({
        description:
          "return the auth server's Location as written instead of resolving it against address",
      }),
      preserveRequestMethod: Bool({
        description: "call the auth server with the request's method instead of GET",
      }),
      tls: Obj(
        {
          ca: Str({ description: 'CA bundle (PEM or file) to verify the auth server' }),
          cert: Str({ description: 'client certificate (PEM or file)' }),
          key: Str({ description: 'client key (PEM or file)' }),
          insecureSkipVerify: Bool({ description: "don't verify the auth server certificate" }),
          caOptional: Bool({ description: 'deprecated in Traefik; accepted and ignored' }),
        },
        { description: 'client TLS towards an https address', allowEmpty: true },
      ),
    },
    { required: ['address'], allowEmpty: true },
  ),
);

export type ForwardAuthOptions = Static<typeof forwardAuth.options>;
