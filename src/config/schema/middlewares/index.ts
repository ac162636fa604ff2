/*
 * Every middleware type of Traefik's dynamic configuration, with its options:
 * the one list validation, label decoding, the middleware registry, JSON
 * Schema and the docs read. Portico runs the `implemented` ones (their
 * factories are listed in middlewares/registry.ts); `chain` is resolved by
 * the compiler; the others are accepted and reported when used.
 */
import { Any, Obj, StrList, Bool } from '../core.js';
import { middleware, type MiddlewareSchema } from './define.js';
import { basicAuth, digestAuth, forwardAuth } from './auth.js';
import {
  addPrefix,
  redirectRegex,
  redirectScheme,
  replacePath,
  replacePathRegex,
  stripPrefix,
  stripPrefixRegex,
} from './paths.js';
import {
  buffering,
  compress,
  contentType,
  errors,
  grpcWeb,
  headers,
  passTLSClientCert,
} from './response.js';
import {
  circuitBreaker,
  inFlightReq,
  ipAllowList,
  ipWhiteList,
  rateLimit,
  retry,
} from './traffic.js';

export type { MiddlewareSchema } from './define.js';

export const chain = middleware(
  'chain',
  'applies other middlewares in order, by name',
  Obj({ middlewares: StrList({ description: 'the middlewares, in order' }) }),
);

const plugin = middleware(
  'plugin',
  'a Traefik plugin (not supported: Portico does not run Yaegi plugins)',
  Any({ description: 'plugin name to its options' }),
  false,
);

const encodedCharacters = middleware(
  'encodedCharacters',
  'rejects requests whose path has chosen encoded characters (not implemented yet)',
  Obj(
    {
      allowEncodedSlash: Bool(),
      allowEncodedBackSlash: Bool(),
      allowEncodedNullCharacter: Bool(),
      allowEncodedSemicolon: Bool(),
      allowEncodedPercent: Bool(),
      allowEncodedQuestionMark: Bool(),
      allowEncodedHash: Bool(),
    },
    { allowEmpty: true },
  ),
  false,
);

export const middlewareSchemas: readonly MiddlewareSchema[] = [
  addPrefix,
  basicAuth,
  buffering,
  chain,
  circuitBreaker,
  compress,
  contentType,
  digestAuth,
  encodedCharacters,
  errors,
  forwardAuth,
  grpcWeb,
  headers,
  inFlightReq,
  ipAllowList,
  ipWhiteList,
  passTLSClientCert,
  plugin,
  rateLimit,
  redirectRegex,
  redirectScheme,
  replacePath,
  replacePathRegex,
  retry,
  stripPrefix,
  stripPrefixRegex,
];

const byLower = new globalThis.Map(middlewareSchemas.map((m) => [m.type.toLowerCase(), m]));

/** A middleware type by its name in any case (Traefik matches type keys case-insensitively). */
export function middlewareSchema(type: string): MiddlewareSchema | undefined {
  return byLower.get(type.toLowerCase());
}

/** The type names Portico runs (with `chain`), sorted, for "did you mean" and messages. */
export function implementedMiddlewareTypes(): string[] {
  return middlewareSchemas
    .filter((m) => m.implemented)
    .map((m) => m.type)
    .sort();
}
