/*
 * One rule path → its router (Traefik's loadRouter): Host(host) && the path
 * matcher its pathType asks for, plus what the router.* annotations set.
 *
 * - Exact → Path; Prefix → PathPrefix (character-wise as in Traefik, or
 *   element-wise with strictPrefixMatching); ImplementationSpecific (or no
 *   pathType) → the router.pathmatcher annotation (Path, PathPrefix or
 *   PathRegexp; default PathPrefix).
 * - No host: the path alone; no path: the host alone; neither: every
 *   request (PathPrefix("/"), where Traefik would write an empty rule and
 *   fail the router).
 */
import type { RouterConfig } from '../../../src/config/dynamic.js';
import { asString, shown } from '../backends.js';
import { pathMatcherOf, type RouterAnnotations } from './annotations.js';
import { hostRule, pathRule, type PathMatcher } from './rules.js';
import type { FieldProblem } from './backend.js';

const PATH_TYPES = ['Exact', 'Prefix', 'ImplementationSpecific'];

/** The matcher of a path, a warning to report with it, or why the path cannot be routed. */
function matcherFor(
  pathType: unknown,
  path: string,
  ann: RouterAnnotations,
): { matcher: PathMatcher; warning?: FieldProblem } | FieldProblem {
  if (
    pathType === undefined ||
    pathType === null ||
    pathType === '' ||
    pathType === 'ImplementationSpecific'
  ) {
    const m = pathMatcherOf(ann);
    return typeof m === 'string' ? { matcher: m } : { field: 'pathType', message: m.error };
  }
  if ((pathType === 'Exact' || pathType === 'Prefix') && !path.startsWith('/'))
    // the API server refuses relative paths for these two types
    return {
      field: 'path',
      message: `path ${shown(path)} must start with "/" for pathType ${pathType}`,
    };
  if (pathType === 'Exact') return { matcher: 'Path' };
  if (pathType === 'Prefix') return { matcher: 'PathPrefix' };
  // Traefik: any other value (which the API server would refuse) is a prefix match
  return {
    matcher: 'PathPrefix',
    warning: {
      field: 'pathType',
      message: `unknown pathType ${shown(pathType)} (expected ${PATH_TYPES.join(', ')}), matched as Prefix as Traefik does`,
    },
  };
}

export function buildRouter(
  ann: RouterAnnotations,
  host: string,
  path: Record<string, unknown>,
  service: string,
  strictPrefix: boolean,
): { router: RouterConfig; warning?: FieldProblem } | FieldProblem {
  if (path.path !== undefined && path.path !== null && typeof path.path !== 'string')
    return { field: 'path', message: 'path must be text' };
  const p = asString(path.path) ?? '';
  const parts: string[] = [];
  let warning: FieldProblem | undefined;
  if (host !== '') parts.push(hostRule(host));
  if (p !== '') {
    const m = matcherFor(path.pathType, p, ann);
    if ('message' in m) return m;
    warning = m.warning;
    parts.push(pathRule(m.matcher, p, strictPrefix));
  }
  const router: RouterConfig = {
    rule: parts.length > 0 ? parts.join(' && ') : 'PathPrefix("/")',
    service,
  };
  if (ann.entryPoints) router.entryPoints = ann.entryPoints;
  if (ann.middlewares) router.middlewares = ann.middlewares;
  if (ann.priority !== undefined && ann.priority !== 0) router.priority = ann.priority;
  if (ann.tls) router.tls = ann.tls;
  if (ann.observability) router.observability = ann.observability;
  return warning !== undefined ? { router, warning } : { router };
}
