/* rewrite-target, backend-protocol, and the redirect annotations (app-root, permanent/temporal-redirect, from-to-www-redirect). */
import { parseWhole } from './annotations.js';
import { badValue, type IngressCtx, type IngressPlan, outcome } from './context.js';
import { literalReplacement } from './values.js';

/**
 * nginx's rewrite target → a Go regexp replacement: `$1` and `${1}` are
 * groups (written `${1}` so `$1abc` stays group 1 then "abc", as nginx reads
 * it); any other `$` is an nginx variable Portico cannot expand.
 */
export function rewriteReplacement(target: string): string | { error: string } {
  let out = '';
  for (let i = 0; i < target.length; i++) {
    const ch = target[i]!;
    if (ch !== '$') {
      out += ch;
      continue;
    }
    const m = /^\$(?:(\d+)|\{(\d+)\})/.exec(target.slice(i));
    if (!m) {
      const v = /^\$\{?[A-Za-z_][A-Za-z0-9_]*/.exec(target.slice(i));
      return {
        error: `nginx variable ${v ? v[0] : '$'} cannot be expanded by Portico (only capture groups $1…$9)`,
      };
    }
    out += `\${${m[1] ?? m[2]}}`;
    i += m[0].length - 1;
  }
  return out;
}

export function planScheme(c: IngressCtx, plan: IngressPlan): void {
  const raw = c.ann.get('backend-protocol');
  if (raw === undefined) return;
  const p = raw.trim().toUpperCase();
  if (p === 'HTTP') plan.scheme = 'http';
  else if (p === 'HTTPS' || p === 'GRPCS') plan.scheme = 'https';
  else if (p === 'GRPC') plan.scheme = 'h2c';
  else if (p === 'AUTO_HTTP') {
    plan.scheme = 'http';
    outcome(c, 'backend-protocol', 'approximated', 'AUTO_HTTP: plain HTTP/1.1 to the servers');
  } else if (p === 'FCGI')
    outcome(
      c,
      'backend-protocol',
      'unsupported',
      'Portico does not speak FastCGI to servers',
      'error',
    );
  else badValue(c, 'backend-protocol', 'expected HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP or FCGI');
}

export function planRedirects(c: IngressCtx, plan: IngressPlan): void {
  const appRoot = c.ann.get('app-root');
  if (appRoot !== undefined) {
    const r = appRoot.trim();
    if (!/^\/[^\s?#]*(\?[^\s#]*)?$/.test(r) || r.startsWith('//'))
      badValue(c, 'app-root', 'expected an absolute path such as /app1');
    else
      plan.middlewares.push([
        'app-root',
        {
          // nginx: `if ($uri = /) return 302 $scheme://$http_host$app_root` (the query is dropped)
          redirectRegex: {
            regex: '^(https?://[^/?#]+)/(?:\\?.*)?$',
            replacement: `\${1}${literalReplacement(r)}`,
          },
        },
      ]);
  }
  const temporal = c.ann.get('temporal-redirect');
  const permanent = c.ann.get('permanent-redirect');
  // Traefik: the temporal redirect takes precedence
  const [name, url] =
    temporal !== undefined
      ? ['temporal', temporal]
      : permanent !== undefined
        ? ['permanent', permanent]
        : [];
  if (name === undefined || url === undefined) return;
  if (temporal !== undefined && permanent !== undefined)
    outcome(
      c,
      'permanent-redirect',
      'unsupported',
      'temporal-redirect takes precedence; ignored',
      'warning',
    );
  const target = url.trim();
  let valid = false;
  try {
    const u = new URL(target);
    valid = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    valid = target.startsWith('/') && !/\s/.test(target);
  }
  if (!valid) {
    badValue(c, `${name}-redirect`, 'expected an http(s) URL or an absolute path');
    return;
  }
  const codeName = `${name}-redirect-code`;
  let code = name === 'permanent' ? 301 : 302;
  if (c.ann.has(codeName)) {
    const given = parseWhole(c.ann.get(codeName)!, 300, 308);
    if (given === undefined)
      outcome(
        c,
        codeName,
        'approximated',
        `not a redirect code (300-308): ${code} is used, as nginx does`,
      );
    else code = given;
  }
  const isPermanent = code === 301 || code === 308;
  if (c.ann.has(codeName) && code !== 301 && code !== 302)
    outcome(
      c,
      codeName,
      'approximated',
      `${code} is answered as ${isPermanent ? '301 (GET, HEAD) or 308 (other methods)' : '302 (GET, HEAD) or 307 (other methods)'}`,
    );
  plan.middlewares.push([
    'redirect',
    {
      redirectRegex: {
        regex: '^.*',
        replacement: literalReplacement(target),
        permanent: isPermanent,
      },
    },
  ]);
}
