/*
 * The path and redirect middlewares. Options as in Traefik v3; each factory
 * in middlewares/ imports its decoded type and schema from here.
 */
import { Bool, NumText, Obj, Str, StrList, type Static } from '../core.js';
import { middleware } from './define.js';

export const addPrefix = middleware(
  'addPrefix',
  'adds a path prefix before forwarding',
  Obj(
    {
      prefix: Str({ description: 'prefix to add; must start with /' }),
    },
    { required: ['prefix'], allowEmpty: true },
  ),
);

export type AddPrefixOptions = Static<typeof addPrefix.options>;

export const stripPrefix = middleware(
  'stripPrefix',
  'removes a path prefix before forwarding; the upstream sees it in X-Forwarded-Prefix',
  Obj(
    {
      prefixes: StrList({ description: 'prefixes to remove; the longest match wins' }),
    },
    { required: ['prefixes'], allowEmpty: true },
  ),
);

export type StripPrefixOptions = Static<typeof stripPrefix.options>;

export const stripPrefixRegex = middleware(
  'stripPrefixRegex',
  'removes the path prefix matched by a regular expression; the upstream sees it in X-Forwarded-Prefix',
  Obj(
    {
      regex: StrList({
        description:
          'RE2 expressions matching the path prefix to remove; the first one that matches wins',
      }),
    },
    { required: ['regex'], allowEmpty: true },
  ),
);

export type StripPrefixRegexOptions = Static<typeof stripPrefixRegex.options>;

export const replacePath = middleware(
  'replacePath',
  'replaces the path before forwarding; the upstream sees the old one in X-Replaced-Path',
  Obj(
    {
      path: Str({ description: 'the new path; must start with /' }),
    },
    { required: ['path'], allowEmpty: true },
  ),
);

export type ReplacePathOptions = Static<typeof replacePath.options>;

export const replacePathRegex = middleware(
  'replacePathRegex',
  'rewrites the path with a regular expression; the upstream sees the old one in X-Replaced-Path',
  Obj(
    {
      regex: Str({ description: 'RE2 expression matched against the path' }),
      replacement: Str({
        description: 'the new path; $1 or ${1} insert a group, ${name} a named group, $$ a dollar',
      }),
    },
    { required: ['regex'], allowEmpty: true },
  ),
);

export type ReplacePathRegexOptions = Static<typeof replacePathRegex.options>;

export const redirectScheme = middleware(
  'redirectScheme',
  'redirects the client to another scheme (and port)',
  Obj(
    {
      scheme: Str({ description: 'target scheme, e.g. https' }),
      port: NumText({ description: 'target port; none keeps the default port of the scheme' }),
      permanent: Bool({ description: 'answer 301/308 instead of 302/307' }),
    },
    { required: ['scheme'], allowEmpty: true },
  ),
);

export type RedirectSchemeOptions = Static<typeof redirectScheme.options>;

export const redirectRegex = middleware(
  'redirectRegex',
  'redirects the client when the request URL matches a regular expression',
  Obj(
    {
      regex: Str({ description: 'RE2 expression matched against the URL' }),
      replacement: Str({ description: 'the redirect target; ${1} inserts a group' }),
      permanent: Bool({ description: 'answer 301/308 instead of 302/307' }),
    },
    { required: ['regex', 'replacement'], allowEmpty: true },
  ),
);

export type RedirectRegexOptions = Static<typeof redirectRegex.options>;
