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
import { compileRe2 } from '../../../src/rules/regex.js';
import { asString, shown } from '../backends.js';
import { pathMatcherOf, type RouterAnnotations } from './annotations.js';
import { hostRule, pathRule, type PathMatcher } from './rules.js';
import type { FieldProblem } from './backend.js';

const PATH_TYPES = ['Exact', 'Prefix', 'ImplementationSpecific'];

/** Why a PathRegexp path would fail the router (Go's RE2 syntax, as the rule compiler reads it). */
function regexpProblem(path: string): string | undefined {
  try {
    compileRe2(path);
    return undefined;
  } catch (err) {
    return `invalid regular expression for PathRegexp: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** The matcher a path's type asks for, and a warning for a type Kubernetes does not have. */
function matcherOf(
  pathType: unknown,
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

/** The matcher of a path, or why the router would fail (refused here, reported at the path). */
function matcherFor(
  pathType: unknown,
  path: string,
  ann: RouterAnnotations,
): { matcher: PathMatcher; warning?: FieldProblem } | FieldProblem {
  const m = matcherOf(pathType, ann);
  if ('message' in m) return m;
  // Path and PathPrefix take absolute paths only (the API server checks it for Exact and Prefix)
  if (m.matcher !== 'PathRegexp' && !path.startsWith('/'))
    return { field: 'path', message: `path ${shown(path)} must start with "/" for ${m.matcher}` };
  if (m.matcher === 'PathRegexp') {
    const problem = regexpProblem(path);
    if (problem !== undefined) return { field: 'path', message: problem };
  }
  return m;
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
  let exact = false;
  if (host !== '') parts.push(hostRule(host));
  if (p !== '') {
    const m = matcherFor(path.pathType, p, ann);
    if ('message' in m) return m;
    warning = m.warning;
    exact = m.matcher === 'Path';
    parts.push(pathRule(m.matcher, p, strictPrefix));
  }
  const router: RouterConfig = {
    rule: parts.length > 0 ? parts.join(' && ') : 'PathPrefix("/")',
    service,
  };
  if (ann.entryPoints) router.entryPoints = ann.entryPoints;
  if (ann.middlewares) router.middlewares = ann.middlewares;
  if (ann.priority !== undefined && ann.priority !== 0) router.priority = ann.priority;
  else if (exact) {
    // Portico differs from Traefik here: by rule length alone, Path("/x") (Exact) ranks below
    // PathPrefix("/") of the same host, so the exact path would never be reached; as the
    // Ingress spec says, an Exact path wins over every Prefix that matches the same request
    // (those prefixes are at most as long as the path, and "PathPrefix" is 6 longer than "Path")
    router.priority = router.rule.length + 7;
  }
  if (ann.tls) router.tls = ann.tls;
  if (ann.observability) router.observability = ann.observability;
  return warning !== undefined ? { router, warning } : { router };
}
