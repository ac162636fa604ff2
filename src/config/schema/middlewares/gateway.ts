/*
 * The Gateway API filters Portico's public middlewares cannot express, as
 * Traefik has them (pkg/config/dynamic/middlewares.go HeaderModifier,
 * RequestRedirect, URLRewrite): internal types only the Kubernetes Gateway
 * provider emits. Traefik tags them `file:"-" label:"-" kv:"-"`; here they
 * carry `providers` and stay out of middlewareSchemas, so the file provider,
 * labels, CRDs, the JSON Schema and the docs do not know them.
 */
import { Int, Map, Obj, Str, StrList, type Static } from '../core.js';
import { middleware, type MiddlewareSchema } from './define.js';
/**
 * The Gateway API provider's name (providers/kubernetes/objects.ts GATEWAY_PROVIDER):
 * written here, as the configuration layer must not import the providers
 */
const GATEWAY_PROVIDER = 'kubernetesgateway';

const internal = <T extends MiddlewareSchema>(m: T): T => ({
  ...m,
  providers: [GATEWAY_PROVIDER],
});

const headerModifier = (what: string) =>
  Obj(
    {
      set: Map(Str(), { description: `headers that replace the ${what}'s values` }),
      add: Map(Str(), {
        description: `values appended to the ${what}'s header (comma-joined, as the spec's example)`,
      }),
      remove: StrList({ description: `headers removed from the ${what}` }),
    },
    { allowEmpty: true },
  );

export const requestHeaderModifier = internal(
  middleware(
    'requestHeaderModifier',
    'Gateway API RequestHeaderModifier: sets, appends to and removes request headers',
    headerModifier('request'),
  ),
);

export type HeaderModifierOptions = Static<typeof requestHeaderModifier.options>;

export const responseHeaderModifier = internal(
  middleware(
    'responseHeaderModifier',
    'Gateway API ResponseHeaderModifier: sets, appends to and removes response headers',
    headerModifier('response'),
  ),
);

const pathOptions = {
  path: Str({
    description: 'the new path; with pathPrefix, what replaces that prefix (ReplacePrefixMatch)',
  }),
  pathPrefix: Str({ description: "the route's PathPrefix match, replaced by path" }),
};

export const requestRedirect = internal(
  middleware(
    'requestRedirect',
    'Gateway API RequestRedirect: answers with a redirect, always (even to the same URL)',
    Obj(
      {
        scheme: Str({ description: "http or https; default: the request's" }),
        hostname: Str({ description: "default: the request's Host" }),
        port: Str({
          description: "default: the Host's port; empty: none; 80 (http) and 443 (https) left out",
        }),
        ...pathOptions,
        statusCode: Int({ description: '301, 302 (default), 303, 307 or 308' }),
      },
      { allowEmpty: true },
    ),
  ),
);

export type RequestRedirectOptions = Static<typeof requestRedirect.options>;

export const urlRewrite = internal(
  middleware(
    'URLRewrite',
    'Gateway API URLRewrite: replaces the Host sent upstream and the path',
    Obj({ hostname: Str({ description: 'the Host sent upstream' }), ...pathOptions }),
  ),
);

export type UrlRewriteOptions = Static<typeof urlRewrite.options>;

/** The internal types, for the middleware registry; never listed with the public ones. */
export const internalMiddlewareSchemas: readonly MiddlewareSchema[] = [
  requestHeaderModifier,
  responseHeaderModifier,
  requestRedirect,
  urlRewrite,
];
