/*
 * The `nginx.ingress.kubernetes.io/*` annotations (issue 15 item 4): what
 * each one becomes in Portico, as a catalogue shared by the translator
 * (translate.ts) and the migration report (migrate.ts), and the value
 * parsers ingress-nginx applies (Go's strconv.ParseBool, whole numbers,
 * nginx sizes like `8m`).
 *
 * Every annotation of an nginx-class Ingress gets one of four answers:
 * - supported: translated to a Portico element doing the same thing;
 * - approximated: translated, with a difference the note names;
 * - unsupported: not translated. A warning when ignoring it keeps the
 *   Ingress at least as safe (a timeout, a buffer size); an error, and the
 *   Ingress is not served, when ignoring it would weaken security (client
 *   certificates, deny lists, a WAF, rate limits);
 * - refused: the `*-snippet` annotations. They paste user text into the
 *   nginx configuration, which is how IngressNightmare (CVE-2025-1974, with
 *   CVE-2025-24514, -1097, -1098) ran code in the controller. Portico never
 *   renders annotation text into configuration text, and cannot know what a
 *   snippet was meant to enforce, so the Ingress is not served (Traefik's
 *   provider also refuses it unless allowSnippetAnnotations).
 */

export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';

export type Support = 'supported' | 'approximated' | 'unsupported' | 'refused';

export interface CatalogueEntry {
  support: Support;
  note: string;
  /** for unsupported ones: error when ignoring it would weaken security (the Ingress is not served) */
  level?: 'error' | 'warning';
}

const ok = (note: string): CatalogueEntry => ({ support: 'supported', note });
const approx = (note: string): CatalogueEntry => ({ support: 'approximated', note });
const ignored = (note: string): CatalogueEntry => ({
  support: 'unsupported',
  note: `${note}; ignored`,
  level: 'warning',
});
const blocking = (note: string): CatalogueEntry => ({
  support: 'unsupported',
  note: `${note}; ignoring it would weaken security, so the Ingress is not served`,
  level: 'error',
});

export const SNIPPET_NOTE =
  'snippet annotations paste text into the proxy configuration (the IngressNightmare attack path, CVE-2025-1974); Portico never renders annotation text into configuration and cannot tell what the snippet enforced, so the Ingress is not served — rewrite it with Portico middlewares';

/** By annotation name without the prefix. Value-dependent answers are refined by the translator. */
export const CATALOGUE: Record<string, CatalogueEntry> = {
  'rewrite-target': ok('replacePathRegex over the whole path, capture groups as $1…'),
  'use-regex': approx(
    'paths become PathRegexp("(?i)^path") on every path of the host, as nginx does; RE2 syntax, so PCRE-only constructs (lookarounds, backreferences) are refused',
  ),
  'ssl-redirect': approx(
    'redirectScheme https on the plain-HTTP router; 301 for GET/HEAD and 308 otherwise where nginx answers 308',
  ),
  'force-ssl-redirect': approx(
    'redirectScheme https on the plain-HTTP router; 301 for GET/HEAD and 308 otherwise where nginx answers 308',
  ),
  'backend-protocol': ok(
    'server URL scheme: HTTP → http, HTTPS → https, GRPC → h2c, GRPCS → https',
  ),
  'whitelist-source-range': ok('ipAllowList on the client address'),
  'allowlist-source-range': ok('ipAllowList on the client address'),
  'auth-type': ok('basicAuth (basic) or digestAuth (digest) with the users of auth-secret'),
  'auth-secret': ok('the Secret holding the users (htpasswd file in key "auth", or auth-map)'),
  'auth-secret-type': ok('auth-file or auth-map'),
  'auth-realm': ok('realm of the challenge'),
  'auth-url': approx(
    'forwardAuth: a 2xx passes, any other answer of the auth service is returned as is (nginx turns answers other than 401/403 into 500); the auth service gets X-Forwarded-Method/-Uri rather than X-Original-Method/-URL',
  ),
  'auth-signin': approx(
    'Portico forwardAuth cannot redirect on 401: unauthenticated clients get the auth service answer (401) instead of a redirect to the sign-in page. forwardAuth returns any other answer as is, Location included, so an auth service that answers 302 to its sign-in page itself keeps the login flow',
  ),
  'auth-response-headers': ok('forwardAuth authResponseHeaders'),
  'proxy-body-size': approx(
    'buffering maxRequestBodyBytes (413 over it; the body is read whole before forwarding). Without the annotation no limit applies, where nginx defaults to 1m',
  ),
  'proxy-connect-timeout': ok('serversTransport forwardingTimeouts.dialTimeout'),
  'proxy-read-timeout': approx(
    'serversTransport forwardingTimeouts.responseHeaderTimeout: bounds the wait for the response head only, not each read of the body',
  ),
  'proxy-send-timeout': ignored('Portico has no timeout between two writes to the server'),
  'enable-cors': ok(
    'headers middleware CORS options with ingress-nginx defaults; answers preflights',
  ),
  'cors-allow-origin': ok('accessControlAllowOriginList (wildcard subdomains as a regex list)'),
  'cors-allow-methods': ok('accessControlAllowMethods'),
  'cors-allow-headers': ok('accessControlAllowHeaders'),
  'cors-expose-headers': ok('accessControlExposeHeaders'),
  'cors-allow-credentials': ok('accessControlAllowCredentials'),
  'cors-max-age': ok('accessControlMaxAge'),
  affinity: ok('sticky cookie on the service'),
  'session-cookie-name': ok('sticky cookie name (default INGRESSCOOKIE)'),
  'session-cookie-path': ok('sticky cookie path'),
  'session-cookie-domain': ok('sticky cookie domain'),
  'session-cookie-samesite': ok('sticky cookie sameSite'),
  'session-cookie-secure': ok('sticky cookie secure'),
  'session-cookie-max-age': ok('sticky cookie maxAge'),
  'session-cookie-expires': approx(
    'Portico cookies carry Max-Age, not Expires: used as maxAge when session-cookie-max-age is not set',
  ),
  'affinity-mode': approx(
    'Portico keeps a client on its server while that server exists (persistent); balanced is not rebalanced',
  ),
  canary: ok('pairs with the main Ingress of the same host and path'),
  'canary-weight': ok('weighted service main/canary'),
  'canary-weight-total': ok('total of the weighted service'),
  'canary-by-header': ok('a router matching the header (always → canary, never → main)'),
  'canary-by-header-value': ok('a router matching Header(name, value)'),
  'canary-by-header-pattern': approx('HeaderRegexp with RE2 syntax (nginx: PCRE)'),
  'canary-by-cookie': ok('a router matching the cookie (always → canary, never → main)'),
  'app-root': ok('redirectRegex of / to the app root (302)'),
  'permanent-redirect': ok('redirectRegex to the URL, permanent (301)'),
  'permanent-redirect-code': approx(
    '301 or 308 by method (permanent) or 302/307 (temporary); other codes are not available',
  ),
  'temporal-redirect': ok('redirectRegex to the URL, temporary (302)'),
  'temporal-redirect-code': approx(
    '302 or 307 by method (temporary) or 301/308 (permanent); other codes are not available',
  ),
  'service-upstream': ok('the Service ClusterIP instead of its endpoints (nativeLB)'),
  'proxy-ssl-verify': ok('serversTransport insecureSkipVerify (off by default, as nginx)'),
  'proxy-ssl-name': ok('serversTransport serverName'),
  'proxy-ssl-server-name': ok('serversTransport serverName'),
  'limit-rps': approx(
    'rateLimit per client IP, burst × limit-burst-multiplier; 429 where nginx answers 503',
  ),
  'limit-rpm': approx(
    'rateLimit per client IP, burst × limit-burst-multiplier; 429 where nginx answers 503',
  ),
  'limit-connections': approx(
    'inFlightReq per client IP (requests in flight, not connections); 429 where nginx answers 503',
  ),
  'limit-burst-multiplier': ok('the rateLimit burst is the limit times this'),
  'limit-allowlist': ignored('the limits apply to every client (stricter)'),
  'upstream-vhost': ok('headers middleware: the Host sent to the servers'),
  'x-forwarded-prefix': ok('headers middleware: X-Forwarded-Prefix on the request'),
  'server-alias': ok('more Host matchers on the Ingress rules'),
  'enable-global-auth': blocking(
    'Portico has no global external authentication (ingress-nginx ConfigMap global-auth-url)',
  ),
  // security-relevant: ignoring would weaken what the Ingress enforced
  'auth-tls-secret': blocking('client certificate authentication is not translated'),
  'auth-tls-verify-client': blocking('client certificate authentication is not translated'),
  'auth-tls-verify-depth': blocking('client certificate authentication is not translated'),
  'auth-tls-error-page': blocking('client certificate authentication is not translated'),
  'auth-tls-pass-certificate-to-upstream': blocking(
    'client certificate authentication is not translated',
  ),
  'auth-tls-match-cn': blocking('client certificate authentication is not translated'),
  'denylist-source-range': blocking('Portico has no deny-list middleware'),
  'enable-modsecurity': blocking('Portico has no ModSecurity WAF'),
  'enable-owasp-core-rules': blocking('Portico has no ModSecurity WAF'),
  'modsecurity-transaction-id': blocking('Portico has no ModSecurity WAF'),
  'global-rate-limit': blocking('rate limits are not translated'),
  'proxy-ssl-secret': blocking(
    'a CA or client certificate from a Secret for the servers is not translated',
  ),
  'ssl-passthrough': blocking('TLS passthrough is not translated (use an IngressRouteTCP)'),
  satisfy: ignored('Portico runs every authentication of a router (satisfy all)'),
  // the rest: a warning, the Ingress is served without them
  'auth-method': ignored('forwardAuth calls the auth service with GET'),
  'auth-cache-key': ignored('auth answers are not cached'),
  'auth-cache-duration': ignored('auth answers are not cached'),
  'auth-keepalive': ignored('connections to the auth service are managed by Portico'),
  'auth-keepalive-requests': ignored('connections to the auth service are managed by Portico'),
  'auth-keepalive-timeout': ignored('connections to the auth service are managed by Portico'),
  'auth-keepalive-share-vars': ignored('no nginx variables in Portico'),
  'auth-proxy-set-headers': ignored(
    'headers to the auth service from a ConfigMap are not translated',
  ),
  'auth-request-redirect': ignored('X-Auth-Request-Redirect is not sent'),
  'auth-signin-redirect-param': ignored('no sign-in redirect in Portico forwardAuth'),
  'auth-always-set-cookie': ignored('cookies of the auth service are not copied to the response'),
  'affinity-canary-behavior': ignored('canary routing ignores the sticky cookie'),
  'session-cookie-change-on-failure': ignored(
    'the cookie is rewritten only when its server is gone',
  ),
  'session-cookie-conditional-samesite-none': ignored('SameSite is sent to every browser'),
  'upstream-hash-by': ignored('Portico load balancers do not hash on request variables'),
  'load-balance': ignored('Portico balances with weighted round robin'),
  'from-to-www-redirect': ignored('no www redirect'),
  'custom-http-errors': ignored('error pages are not translated (see the errors middleware)'),
  'default-backend': ignored('per-Ingress default backends for errors are not translated'),
  'custom-headers': ignored('headers from a ConfigMap are not translated'),
  'proxy-next-upstream': ignored('no retry on the next server'),
  'proxy-next-upstream-tries': ignored('no retry on the next server'),
  'proxy-next-upstream-timeout': ignored('no retry on the next server'),
  'proxy-request-buffering': ignored('request bodies are streamed'),
  'proxy-buffering': ignored('response bodies are streamed'),
  'proxy-buffer-size': ignored('response bodies are streamed'),
  'proxy-buffers-number': ignored('response bodies are streamed'),
  'proxy-busy-buffers-size': ignored('response bodies are streamed'),
  'proxy-max-temp-file-size': ignored('response bodies are streamed'),
  'client-body-buffer-size': ignored('request bodies are streamed'),
  'proxy-http-version': ignored('Portico speaks HTTP/1.1 to http servers'),
  'proxy-redirect-from': ignored('Location headers are not rewritten'),
  'proxy-redirect-to': ignored('Location headers are not rewritten'),
  'proxy-cookie-domain': ignored('Set-Cookie headers are not rewritten'),
  'proxy-cookie-path': ignored('Set-Cookie headers are not rewritten'),
  'proxy-ssl-ciphers': ignored('TLS ciphers towards the servers are not translated'),
  'proxy-ssl-protocols': ignored('TLS versions towards the servers are not translated'),
  'proxy-ssl-verify-depth': ignored('chain depth towards the servers is not limited'),
  'connection-proxy-header': ignored('the Connection header is managed by Portico'),
  'ssl-ciphers': ignored('TLS ciphers are set in TLS options'),
  'ssl-prefer-server-ciphers': ignored('TLS ciphers are set in TLS options'),
  'enable-access-log': ignored('access logs are configured statically'),
  'enable-rewrite-log': ignored('no rewrite log'),
  'enable-opentelemetry': ignored('tracing is configured statically'),
  'opentelemetry-trust-incoming-span': ignored('tracing is configured statically'),
  'opentelemetry-operation-name': ignored('tracing is configured statically'),
  'http2-push-preload': ignored('no HTTP/2 push'),
  'mirror-target': ignored('request mirroring is not translated (see the mirroring service)'),
  'mirror-request-body': ignored('request mirroring is not translated'),
  'mirror-host': ignored('request mirroring is not translated'),
  'preserve-trailing-slash': ignored('the HTTPS redirect keeps the path as sent'),
  'service-upstream-hash': ignored('not translated'),
};

/** The catalogue entry of an annotation name (without prefix); snippets are refused, unknown names ignored. */
export function catalogueEntry(name: string): CatalogueEntry {
  if (name.endsWith('-snippet')) return { support: 'refused', note: SNIPPET_NOTE, level: 'error' };
  return (
    CATALOGUE[name] ?? {
      support: 'unsupported',
      note: 'not an ingress-nginx annotation Portico knows; ignored',
      level: 'warning',
    }
  );
}

/* ------------------------------------------------------------ value parsers */

/** Go's strconv.ParseBool, which ingress-nginx uses. */
export function parseGoBool(v: string): boolean | undefined {
  const t = v.trim();
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(t)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(t)) return false;
  return undefined;
}

/** A whole number (ingress-nginx: strconv.Atoi), bounded to keep config sane. */
export function parseWhole(v: string, min: number, max: number): number | undefined {
  const t = v.trim();
  if (!/^[+-]?\d{1,12}$/.test(t)) return undefined;
  const n = Number(t);
  return n >= min && n <= max ? n : undefined;
}

const SIZE = /^\s*(\d{1,15})\s*([bkmg]?)\s*$/i;
const UNIT: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** An nginx size (`8m`, `512k`, `0`) in bytes. */
export function parseNginxSize(v: string): number | undefined {
  const m = SIZE.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]) * UNIT[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A comma-separated list, trimmed, empties dropped. */
export function parseList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
