/*
 * The paths, redirects and miscellaneous middlewares, registered by
 * middlewares/registry.ts: path rewriting (StripPrefixRegex, ReplacePath,
 * ReplacePathRegex), redirects (RedirectScheme, RedirectRegex), ContentType,
 * PassTLSClientCert and GrpcWeb. StripPrefix and AddPrefix are registered on
 * their own; Chain is resolved by the compiler.
 */
import type { MiddlewareDefinition } from './types.js';
import { stripPrefixRegex } from './strip-prefix-regex.js';
import { replacePath } from './replace-path.js';
import { replacePathRegex } from './replace-path-regex.js';
import { redirectScheme } from './redirect-scheme.js';
import { redirectRegex } from './redirect-regex.js';
import { contentType } from './content-type.js';
import { passTLSClientCert } from './pass-tls-client-cert.js';
import { grpcWeb } from './grpc-web.js';

export const pathsMiddlewares: MiddlewareDefinition[] = [
  stripPrefixRegex,
  replacePath,
  replacePathRegex,
  redirectScheme,
  redirectRegex,
  contentType,
  passTLSClientCert,
  grpcWeb,
];
