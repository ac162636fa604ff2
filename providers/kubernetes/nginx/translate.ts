/*
 * The ingress-nginx compatibility provider's pure half (issue 15 item 4):
 * Ingresses of class `nginx` with their `nginx.ingress.kubernetes.io/*`
 * annotations become Portico routers, services, middlewares and servers
 * transports, named as Traefik's kubernetesIngressNGINX provider names them
 * (pkg/provider/kubernetes/ingress-nginx, v3.5+):
 *
 * - per rule path, router `namespace-ingress-rule-<i>-path-<j>` (plain HTTP)
 *   and the same name plus `-tls` (TLS), both on the rule's host and path;
 * - service `namespace-ingress-service-port` per path backend (per Ingress,
 *   since annotations such as backend-protocol and affinity shape it);
 * - middlewares `<router>-<what>` (redirect-scheme, app-root, redirect,
 *   allowed-source-range, cors, basic-auth, digest-auth, forward-auth,
 *   buffering, rewrite-target), shared by a path's plain and TLS routers;
 * - a serversTransport `namespace-ingress` for timeouts and TLS to servers;
 * - a canary Ingress (canary: "true") pairs with the main Ingress path of
 *   the same namespace, host and path: `<service>-canary`, `<service>-wrr`
 *   (weights), routers `<router>-canary` / `<router>-non-canary` matching
 *   the header or cookie, one above the main router's priority;
 * - an Exact path outranks the prefix and regex paths of its host, as
 *   nginx's `location =` does (exactPriority).
 *
 * What each annotation becomes is in annotations.ts; every annotation is
 * reported per Ingress with how it was honoured (the migration report reads
 * the same outcomes). Nothing from an annotation is ever rendered into
 * configuration text: values go into typed options, and hosts, paths and
 * header values into rules through Go quoting. Hostile input never throws.
 */
import { isIP } from 'node:net';
import type {
  DynamicConfig,
  MiddlewareConfig,
  RouterConfig,
  ServersTransportConfig,
  ServiceConfig,
  StickyConfig,
  TlsCertificateConfig,
} from '../../../src/config/dynamic.js';
import { passwordHashKind } from '../../../src/config/password-hash.js';
import { compileRe2 } from '../../../src/rules/regex.js';
import {
  annotationsOf,
  asArray,
  asRecord,
  asString,
  resolveServiceBackend,
  serverUrls,
  shown,
} from '../backends.js';
import type { ClusterView, KubeDiagnostic, KubeObject, ResourceKind } from '../objects.js';
import { readBackendRef, type IngressBackendRef } from '../ingress/backend.js';
import {
  DEFAULT_BACKEND_PRIORITY,
  goQuote,
  hostProblem,
  hostRule,
  normalizeName,
} from '../ingress/rules.js';
import { collectCertificates } from '../ingress/tls.js';
import {
  NGINX_PREFIX,
  catalogueEntry,
  parseGoBool,
  parseList,
  parseNginxSize,
  parseWhole,
  type Support,
} from './annotations.js';

export interface NginxProviderOptions {
  /** IngressClass name / legacy annotation value served (default "nginx") */
  ingressClass?: string;
  /** IngressClass spec.controller served (default "k8s.io/ingress-nginx") */
  controllerClass?: string;
  /** also serve Ingresses with neither ingressClassName nor the class annotation */
  watchIngressWithoutClass?: boolean;
  /** an IngressClass named ingressClass is ours whatever its controller */
  ingressClassByName?: boolean;
  /** refuse ExternalName Services (Traefik's option; ingress-nginx allows them) */
  disableSvcExternalName?: boolean;
  /** no IngressClass lookups: only the class annotation and watchIngressWithoutClass select */
  disableClusterScopeResources?: boolean;
  /** entry points of the plain routers / of the `-tls` routers (default: every entry point) */
  httpEntryPoints?: string[];
  httpsEntryPoints?: string[];
  /** ingress-nginx ConfigMap global-auth-url: forwardAuth for every path without auth-url,
   * unless the Ingress says enable-global-auth: "false" (Traefik's globalAuthURL) */
  globalAuthURL?: string;
  /** `namespace/name` of the Service answering requests no Ingress matches (Traefik's option) */
  defaultBackendService?: string;
}

/** What the translator reads: the watch set the provider's runtime needs (Nodes are never read). */
export const NGINX_RESOURCE_KINDS: readonly ResourceKind[] = [
  'Ingress',
  'IngressClass',
  'Service',
  'EndpointSlice',
  'Secret',
];

export const NGINX_DEFAULT_CLASS = 'nginx';
export const NGINX_DEFAULT_CONTROLLER = 'k8s.io/ingress-nginx';

export interface AnnotationOutcome {
  /** full annotation key */
  name: string;
  value: string;
  support: Support;
  note: string;
}

export interface NginxTranslation {
  config: DynamicConfig;
  diagnostics: KubeDiagnostic[];
  accepted: { namespace: string; name: string }[];
}

/** The translation plus, per accepted Ingress, how each of its nginx annotations was honoured. */
export interface NginxTranslationDetail extends NginxTranslation {
  outcomes: {
    namespace: string;
    name: string;
    served: boolean;
    annotations: AnnotationOutcome[];
    /** the Ingress's other diagnostics (a missing Service, a bad path), `level field: message` */
    problems: string[];
  }[];
}

const MAX_MESSAGE = 500;
const CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

/* ------------------------------------------------------------------ classes */

function createNginxClassFilter(
  view: ClusterView,
  opts: NginxProviderOptions,
): (ingress: KubeObject) => boolean {
  const className = opts.ingressClass ?? NGINX_DEFAULT_CLASS;
  const controller = opts.controllerClass ?? NGINX_DEFAULT_CONTROLLER;
  const names = new Set<string>();
  const known = new Set<string>();
  if (opts.disableClusterScopeResources !== true) {
    for (const ic of view.list('IngressClass')) {
      const name = asString(asRecord(ic.metadata)?.name);
      if (name === undefined) continue;
      known.add(name);
      const c = asString(asRecord(ic.spec)?.controller);
      // Traefik (client.go): the controller value, or the name with ingressClassByName
      if (c === controller || (opts.ingressClassByName === true && name === className))
        names.add(name);
    }
  }
  return (ingress) => {
    const spec = asRecord(ingress.spec);
    const icn = spec?.ingressClassName;
    if (typeof icn === 'string' && names.has(icn)) return true;
    // Portico's addition: manifests read from files (portico migrate, portico check) seldom
    // carry the IngressClass; ingressClassName equal to ingressClass, naming no IngressClass
    // we know of, is taken as ours (an IngressClass of that name for another controller is not)
    if (typeof icn === 'string' && icn === className && !known.has(icn)) return true;
    if (names.size > 0 && icn !== undefined && icn !== null) return false;
    const raw = annotationsOf(ingress)[CLASS_ANNOTATION];
    if (raw !== undefined) return raw === className;
    if (icn !== undefined && icn !== null) return false;
    return opts.watchIngressWithoutClass === true;
  };
}

/* -------------------------------------------------------- per-Ingress state */

type Level = 'error' | 'warning';

interface IngressCtx {
  namespace: string;
  name: string;
  /** annotation name without prefix → value */
  ann: Map<string, string>;
  outcomes: Map<string, AnnotationOutcome>;
  /** an error-level problem with an annotation: the Ingress is not served */
  blocked: boolean;
  report: (field: string, message: string, level?: Level) => void;
  /** diagnostics not about an annotation, for the migration report */
  problems: string[];
}

const annotationField = (name: string): string =>
  `metadata.annotations[${JSON.stringify(NGINX_PREFIX + name)}]`;

/** Records how an annotation was honoured, with a diagnostic unless fully supported. */
function outcome(c: IngressCtx, name: string, support: Support, note: string, level?: Level): void {
  const value = c.ann.get(name) ?? '';
  c.outcomes.set(name, { name: NGINX_PREFIX + name, value, support, note });
  if (support === 'supported') return;
  const lvl = level ?? (support === 'approximated' ? 'warning' : 'error');
  if (lvl === 'error') c.blocked = true;
  const tail = lvl === 'error' && !note.includes('not served') ? '; the Ingress is not served' : '';
  const what =
    support === 'refused'
      ? 'refused'
      : support === 'approximated'
        ? 'approximated'
        : 'not supported';
  c.report(annotationField(name), `${what}: ${note}${tail}`, lvl);
}

/** A bad value: the annotation cannot be honoured, and the Ingress is not served (as ingress-nginx refuses such an Ingress). */
function badValue(c: IngressCtx, name: string, why: string): void {
  outcome(c, name, 'unsupported', `invalid value ${shown(c.ann.get(name))}: ${why}`, 'error');
}

function readAnnotations(ingress: KubeObject): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(annotationsOf(ingress))) {
    if (key.startsWith(NGINX_PREFIX) && typeof value === 'string')
      out.set(key.slice(NGINX_PREFIX.length), value);
  }
  return out;
}

function boolAnn(c: IngressCtx, name: string): boolean | undefined {
  const v = c.ann.get(name);
  if (v === undefined) return undefined;
  const b = parseGoBool(v);
  if (b === undefined) badValue(c, name, 'expected true or false');
  return b;
}

function intAnn(c: IngressCtx, name: string, min: number, max: number): number | undefined {
  const v = c.ann.get(name);
  if (v === undefined) return undefined;
  const n = parseWhole(v, min, max);
  if (n === undefined) badValue(c, name, `expected a whole number from ${min} to ${max}`);
  return n;
}

/* -------------------------------------------------------- annotation config */

/** What one (main) Ingress's annotations make of its paths. */
interface IngressPlan {
  useRegex: boolean;
  rewrite?: string; // Go template replacement
  sslRedirect?: boolean;
  forceSslRedirect: boolean;
  scheme: string;
  nativeLB: boolean;
  transport?: ServersTransportConfig;
  sticky?: StickyConfig;
  /** server-alias hosts, added to every rule that has a host */
  aliases: string[];
  /** middlewares of every path, in order: [suffix, config] */
  middlewares: [string, MiddlewareConfig][];
}

const HEADER_TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const DEFAULT_CORS_METHODS = 'GET, PUT, POST, DELETE, PATCH, OPTIONS';
const DEFAULT_CORS_HEADERS =
  'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization';

/** Go's regexp.QuoteMeta. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** A literal text as a redirectRegex / replacePathRegex replacement ($ doubled). */
const literalReplacement = (s: string): string => s.replace(/\$/g, '$$$$');

function validCidr(s: string): boolean {
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length > 0 || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * nginx's rewrite target → a Go regexp replacement: `$1` and `${1}` are
 * groups (written `${1}` so `$1abc` stays group 1 then "abc", as nginx reads
 * it); any other `$` is an nginx variable Portico cannot expand.
 */
function rewriteReplacement(target: string): string | { error: string } {
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

function planAuth(
  c: IngressCtx,
  view: ClusterView,
  plan: IngressPlan,
  opts: NginxProviderOptions,
): void {
  const type = c.ann.get('auth-type');
  if (type !== undefined) {
    const t = type.trim().toLowerCase();
    if (t !== 'basic' && t !== 'digest') {
      badValue(c, 'auth-type', 'expected basic or digest');
    } else {
      const users = authUsers(c, view, t);
      if (users !== undefined) {
        const realm = c.ann.get('auth-realm');
        const opts: Record<string, unknown> = { users };
        if (realm !== undefined && realm !== '') opts.realm = realm;
        plan.middlewares.push(
          t === 'basic'
            ? ['basic-auth', { basicAuth: opts }]
            : ['digest-auth', { digestAuth: opts }],
        );
      }
    }
  } else {
    for (const n of ['auth-secret', 'auth-secret-type', 'auth-realm'])
      if (c.ann.has(n))
        outcome(
          c,
          n,
          'unsupported',
          'has no effect without auth-type (as in ingress-nginx); ignored',
          'warning',
        );
  }

  const url = c.ann.get('auth-url');
  if (url !== undefined) {
    const problem = authUrlProblem(url);
    if (problem !== undefined) {
      badValue(c, 'auth-url', problem);
    } else {
      const fa: Record<string, unknown> = { address: url.trim() };
      const headers = c.ann.get('auth-response-headers');
      if (headers !== undefined) {
        const list = parseList(headers);
        const bad = list.filter((h) => !HEADER_TOKEN.test(h));
        if (bad.length > 0)
          badValue(c, 'auth-response-headers', `not header names: ${bad.join(', ')}`);
        else fa.authResponseHeaders = list;
      }
      plan.middlewares.push(['forward-auth', { forwardAuth: fa }]);
      if (c.ann.has('enable-global-auth') && boolAnn(c, 'enable-global-auth') !== undefined)
        outcome(c, 'enable-global-auth', 'supported', 'auth-url takes precedence over global auth');
      outcome(c, 'auth-url', 'approximated', catalogueEntry('auth-url').note);
      if (c.ann.has('auth-signin'))
        outcome(c, 'auth-signin', 'approximated', catalogueEntry('auth-signin').note);
    }
  } else {
    const global = opts.globalAuthURL?.trim();
    const enabled = boolAnn(c, 'enable-global-auth');
    if (global !== undefined && global !== '' && enabled !== false)
      plan.middlewares.push(['global-auth', { forwardAuth: { address: global } }]);
    if (enabled === false)
      outcome(c, 'enable-global-auth', 'supported', 'the global forwardAuth is not applied');
    else if (enabled === true && global !== undefined && global !== '')
      outcome(c, 'enable-global-auth', 'supported', 'forwardAuth to globalAuthURL');
    for (const n of ['auth-signin', 'auth-response-headers'])
      if (c.ann.has(n))
        outcome(
          c,
          n,
          'unsupported',
          'has no effect without auth-url (as in ingress-nginx); ignored',
          'warning',
        );
  }
}

const HOST_VAR = /\$(?:host\b|\{host\})/g;

function authUrlProblem(url: string): string | undefined {
  const u = url.trim();
  // $host is the rule's host (the router matches only it), expanded per path; nothing else is
  if (u.replace(HOST_VAR, '').includes('$'))
    return 'nginx variables other than $host ($escaped_request_uri, $request_uri, …) cannot be expanded by Portico; write the auth service URL out';
  try {
    const parsed = new URL(u.replace(HOST_VAR, 'host.invalid'));
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      return 'the auth URL must be http or https';
  } catch {
    return 'not a URL';
  }
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A Secret value as text (data base64, or stringData in a manifest read from a file). */
function secretValue(secret: KubeObject, key: string): string | undefined {
  const text = asRecord(secret.stringData)?.[key];
  if (typeof text === 'string') return text;
  const raw = asRecord(secret.data)?.[key];
  if (typeof raw !== 'string') return undefined;
  const compact = raw.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

function secretKeys(secret: KubeObject): string[] {
  return [
    ...new Set([
      ...Object.keys(asRecord(secret.data) ?? {}),
      ...Object.keys(asRecord(secret.stringData) ?? {}),
    ]),
  ].sort();
}

/** The users of auth-secret, as name:hash lines; undefined (reported, Ingress blocked) when unusable. */
function authUsers(c: IngressCtx, view: ClusterView, type: string): string[] | undefined {
  const ref = c.ann.get('auth-secret');
  if (ref === undefined || ref.trim() === '') {
    outcome(
      c,
      'auth-type',
      'unsupported',
      'auth-type needs auth-secret naming the users Secret',
      'error',
    );
    return undefined;
  }
  // ingress-nginx: "name" or "namespace/name"; another namespace is refused here (an Ingress
  // must not read Secrets of namespaces it does not own — Traefik: allowCrossNamespaceResources)
  const parts = ref.trim().split('/');
  const [ns, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [c.namespace, parts[0]!];
  if (parts.length > 2 || ns !== c.namespace || name === '') {
    badValue(c, 'auth-secret', `the Secret must be in the Ingress's namespace ${c.namespace}`);
    return undefined;
  }
  const secret = view.get('Secret', ns, name);
  if (secret === undefined) {
    badValue(c, 'auth-secret', `secret ${ns}/${name} not found`);
    return undefined;
  }
  const secretType = (c.ann.get('auth-secret-type') ?? 'auth-file').trim();
  let users: string[];
  if (secretType === 'auth-map') {
    if (type === 'digest') {
      badValue(c, 'auth-secret-type', 'auth-map holds basic users; digest needs an auth-file');
      return undefined;
    }
    users = secretKeys(secret)
      .map((user) => [user, secretValue(secret, user)] as const)
      .filter(([, hash]) => hash !== undefined && hash.trim() !== '')
      .map(([user, hash]) => `${user}:${hash!.trim()}`);
  } else if (secretType === 'auth-file') {
    const file = secretValue(secret, 'auth');
    if (file === undefined) {
      badValue(c, 'auth-secret', `secret ${ns}/${name} has no "auth" key (an htpasswd file)`);
      return undefined;
    }
    users = file
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
  } else {
    badValue(c, 'auth-secret-type', 'expected auth-file or auth-map');
    return undefined;
  }
  if (users.length === 0) {
    badValue(c, 'auth-secret', `secret ${ns}/${name} holds no users`);
    return undefined;
  }
  if (type === 'basic') {
    // a hash Portico cannot check (crypt(3) DES, plain text) would fail the router later, with no
    // word on the Ingress: say it here, naming the user, never the hash
    for (const line of users) {
      const at = line.indexOf(':');
      const user = at > 0 ? line.slice(0, at) : '';
      if (user === '' || passwordHashKind(line.slice(at + 1)) === undefined) {
        badValue(
          c,
          'auth-secret',
          `secret ${ns}/${name}: user ${shown(user)} has a hash Portico cannot check (bcrypt, apr1, md5-crypt and {SHA} are supported)`,
        );
        return undefined;
      }
    }
  }
  return users;
}

function planCors(c: IngressCtx, plan: IngressPlan): void {
  const enabled = boolAnn(c, 'enable-cors');
  if (enabled !== true) {
    for (const n of [...c.ann.keys()].filter((k) => k.startsWith('cors-')))
      outcome(c, n, 'unsupported', 'has no effect without enable-cors: "true"; ignored', 'warning');
    return;
  }
  const list = (name: string, fallback: string, valid: RegExp): string[] => {
    const given = c.ann.get(name);
    const items = parseList(given ?? fallback);
    const bad = items.filter((i) => !valid.test(i));
    if (bad.length > 0) {
      // ingress-nginx falls back to the default on a value it does not accept
      outcome(
        c,
        name,
        'approximated',
        `invalid entries ${bad.join(', ')}: the default is used, as ingress-nginx does`,
      );
      return parseList(fallback);
    }
    return items;
  };
  const headers: Record<string, unknown> = {
    accessControlAllowMethods: list('cors-allow-methods', DEFAULT_CORS_METHODS, /^[A-Za-z]+$/),
    accessControlAllowHeaders: list('cors-allow-headers', DEFAULT_CORS_HEADERS, /^[A-Za-z0-9_-]+$/),
  };
  const expose = list('cors-expose-headers', '', /^(\*|[A-Za-z0-9_-]+)$/);
  if (expose.length > 0) headers.accessControlExposeHeaders = expose;
  const origins = parseList(c.ann.get('cors-allow-origin') ?? '*');
  const exact: string[] = [];
  const regex: string[] = [];
  for (const o of origins) {
    if (o === '*') exact.push(o);
    else {
      const m = /^([a-z][a-z0-9+.-]*):\/\/(\*\.)?([A-Za-z0-9.-]+)(:\d{1,5})?$/i.exec(o);
      if (!m) {
        badValue(c, 'cors-allow-origin', `${shown(o)} is not scheme://host[:port]`);
        return;
      }
      if (m[2] === undefined) exact.push(o);
      // ingress-nginx: one level of subdomain
      else
        regex.push(
          `^${quoteMeta(m[1]!)}://[A-Za-z0-9-]+\\.${quoteMeta(m[3]!)}${quoteMeta(m[4] ?? '')}$`,
        );
    }
  }
  if (exact.length > 0) headers.accessControlAllowOriginList = exact;
  if (regex.length > 0) headers.accessControlAllowOriginListRegex = regex;
  const cred = c.ann.has('cors-allow-credentials') ? boolAnn(c, 'cors-allow-credentials') : true;
  if (cred === true) headers.accessControlAllowCredentials = true;
  const maxAge = c.ann.has('cors-max-age') ? intAnn(c, 'cors-max-age', 0, 2 ** 31 - 1) : 1728000;
  if (maxAge !== undefined) headers.accessControlMaxAge = maxAge;
  headers.addVaryHeader = true;
  plan.middlewares.push(['cors', { headers }]);
}

function planSticky(c: IngressCtx): StickyConfig | undefined {
  const affinity = c.ann.get('affinity');
  if (affinity === undefined) {
    for (const n of [...c.ann.keys()].filter((k) => k.startsWith('session-cookie-')))
      outcome(c, n, 'unsupported', 'has no effect without affinity: cookie; ignored', 'warning');
    return undefined;
  }
  if (affinity.trim() !== 'cookie') {
    badValue(c, 'affinity', 'the only affinity type is cookie');
    return undefined;
  }
  const cookie: Record<string, unknown> = {
    name: c.ann.get('session-cookie-name')?.trim() || 'INGRESSCOOKIE',
    httpOnly: true,
    path: c.ann.get('session-cookie-path')?.trim() || '/',
  };
  if (!HEADER_TOKEN.test(cookie.name as string)) {
    badValue(c, 'session-cookie-name', 'not a cookie name');
    return undefined;
  }
  const secure = boolAnn(c, 'session-cookie-secure');
  if (secure !== undefined) cookie.secure = secure;
  const domain = c.ann.get('session-cookie-domain')?.trim();
  if (domain) cookie.domain = domain;
  const sameSite = c.ann.get('session-cookie-samesite');
  if (sameSite !== undefined) {
    const s = sameSite.trim().toLowerCase();
    if (['none', 'lax', 'strict'].includes(s)) cookie.sameSite = s;
    else badValue(c, 'session-cookie-samesite', 'expected None, Lax or Strict');
  }
  const maxAge = intAnn(c, 'session-cookie-max-age', 0, 2 ** 31 - 1);
  const expires = intAnn(c, 'session-cookie-expires', 0, 2 ** 31 - 1);
  if (maxAge !== undefined) cookie.maxAge = maxAge;
  else if (expires !== undefined) cookie.maxAge = expires;
  if (c.ann.has('session-cookie-expires') && expires !== undefined)
    outcome(
      c,
      'session-cookie-expires',
      'approximated',
      catalogueEntry('session-cookie-expires').note,
    );
  return { cookie } as StickyConfig;
}

function planTransport(c: IngressCtx, plan: IngressPlan): void {
  const t: ServersTransportConfig = {};
  const timeouts: Record<string, string> = {};
  const connect = intAnn(c, 'proxy-connect-timeout', 0, 86400 * 365);
  if (connect !== undefined) timeouts.dialTimeout = `${connect}s`;
  const read = intAnn(c, 'proxy-read-timeout', 0, 86400 * 365);
  if (read !== undefined) {
    timeouts.responseHeaderTimeout = `${read}s`;
    outcome(c, 'proxy-read-timeout', 'approximated', catalogueEntry('proxy-read-timeout').note);
  }
  if (Object.keys(timeouts).length > 0)
    t.forwardingTimeouts = timeouts as ServersTransportConfig['forwardingTimeouts'];
  if (plan.scheme === 'https') {
    // nginx's default (proxy_ssl_verify off), as Traefik's provider does
    const verify = c.ann.get('proxy-ssl-verify');
    const v = verify?.trim().toLowerCase();
    if (verify !== undefined && v !== 'on' && v !== 'off')
      badValue(c, 'proxy-ssl-verify', 'expected on or off');
    t.insecureSkipVerify = v !== 'on';
    const sni = (c.ann.get('proxy-ssl-name') ?? c.ann.get('proxy-ssl-server-name'))?.trim();
    if (sni) t.serverName = sni;
  } else {
    for (const n of ['proxy-ssl-verify', 'proxy-ssl-name', 'proxy-ssl-server-name'])
      if (c.ann.has(n))
        outcome(
          c,
          n,
          'unsupported',
          'has no effect unless backend-protocol is HTTPS or GRPCS; ignored',
          'warning',
        );
  }
  if (Object.keys(t).length > 0) plan.transport = t;
}

function planScheme(c: IngressCtx, plan: IngressPlan): void {
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

function planRedirects(c: IngressCtx, plan: IngressPlan): void {
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

function planIngress(
  c: IngressCtx,
  view: ClusterView,
  opts: NginxProviderOptions,
  useRegexHost: boolean,
): IngressPlan {
  const plan: IngressPlan = {
    useRegex: useRegexHost,
    forceSslRedirect: false,
    scheme: 'http',
    nativeLB: false,
    aliases: [],
    middlewares: [],
  };
  boolAnn(c, 'use-regex');
  const rewrite = c.ann.get('rewrite-target');
  if (rewrite !== undefined && rewrite !== '') {
    const r = rewriteReplacement(rewrite.trim());
    if (typeof r === 'object') badValue(c, 'rewrite-target', r.error);
    else plan.rewrite = r;
  }
  plan.sslRedirect = boolAnn(c, 'ssl-redirect');
  plan.forceSslRedirect = boolAnn(c, 'force-ssl-redirect') === true;
  for (const n of ['ssl-redirect', 'force-ssl-redirect'])
    if (c.ann.has(n) && !c.outcomes.has(n)) outcome(c, n, 'approximated', catalogueEntry(n).note);

  planRedirects(c, plan);
  // both names given: both lists apply (a client must be in each), never the looser one alone
  for (const name of ['whitelist-source-range', 'allowlist-source-range']) {
    const range = c.ann.get(name);
    if (range === undefined) continue;
    const list = parseList(range);
    const bad = list.filter((s) => !validCidr(s));
    if (bad.length > 0)
      badValue(c, name, `not IPs or CIDRs: ${bad.map((b) => shown(b)).join(', ')}`);
    else if (list.length === 0) badValue(c, name, 'no IP or CIDR given');
    else {
      const suffix = plan.middlewares.some(([n]) => n === 'allowed-source-range')
        ? 'allowed-source-range-2'
        : 'allowed-source-range';
      plan.middlewares.push([suffix, { ipAllowList: { sourceRange: list } }]);
    }
  }
  planLimits(c, plan);
  planCors(c, plan);
  planAuth(c, view, plan, opts);
  const size = c.ann.get('proxy-body-size');
  if (size !== undefined) {
    const bytes = parseNginxSize(size);
    if (bytes === undefined) badValue(c, 'proxy-body-size', 'expected an nginx size such as 8m');
    else {
      outcome(c, 'proxy-body-size', 'approximated', catalogueEntry('proxy-body-size').note);
      // 0: no limit in nginx, and no middleware here
      if (bytes > 0)
        plan.middlewares.push(['buffering', { buffering: { maxRequestBodyBytes: bytes } }]);
    }
  }
  planScheme(c, plan);
  planTransport(c, plan);
  planHeaders(c, plan);
  plan.aliases = planAliases(c);
  // reached only when the Ingress is not a canary
  if (c.ann.has('canary') && boolAnn(c, 'canary') === false)
    outcome(c, 'canary', 'supported', 'not a canary Ingress');
  for (const n of [...c.ann.keys()].filter((k) => k.startsWith('canary-')))
    outcome(c, n, 'unsupported', 'has no effect without canary: "true"; ignored', 'warning');
  plan.nativeLB = boolAnn(c, 'service-upstream') === true;
  plan.sticky = planSticky(c);
  return plan;
}

/**
 * limit-rps / limit-rpm → rateLimit per client IP, burst = limit × limit-burst-multiplier (5),
 * as nginx's `limit_req ... burst=N nodelay`; limit-connections → inFlightReq per client IP.
 * Over the limit Portico answers 429 where ingress-nginx answers 503 (limit-req-status-code).
 */
function planLimits(c: IngressCtx, plan: IngressPlan): void {
  const multiplier = c.ann.has('limit-burst-multiplier')
    ? intAnn(c, 'limit-burst-multiplier', 1, 1000)
    : 5;
  for (const [name, period] of [
    ['limit-rps', '1s'],
    ['limit-rpm', '1m'],
  ] as const) {
    const n = intAnn(c, name, 0, 1_000_000_000);
    if (n === undefined || n === 0 || multiplier === undefined) continue;
    plan.middlewares.push([
      name,
      {
        rateLimit: {
          average: n,
          period,
          burst: n * multiplier,
          sourceCriterion: { ipStrategy: {} },
        },
      },
    ]);
    outcome(
      c,
      name,
      'approximated',
      `rateLimit of ${n} per ${period === '1s' ? 'second' : 'minute'} per client IP, burst ${n * multiplier}; over it Portico answers 429 where ingress-nginx answers 503`,
    );
  }
  if (c.ann.has('limit-burst-multiplier') && !c.outcomes.has('limit-burst-multiplier'))
    outcome(
      c,
      'limit-burst-multiplier',
      'supported',
      'the rateLimit burst is the limit times this',
    );
  const conns = intAnn(c, 'limit-connections', 0, 1_000_000_000);
  if (conns !== undefined && conns > 0) {
    plan.middlewares.push([
      'limit-connections',
      { inFlightReq: { amount: conns, sourceCriterion: { ipStrategy: {} } } },
    ]);
    outcome(
      c,
      'limit-connections',
      'approximated',
      'inFlightReq per client IP: counts requests in flight rather than connections; over it 429 where nginx answers 503',
    );
  }
}

const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** upstream-vhost (the Host sent to the servers) and x-forwarded-prefix → a headers middleware each. */
function planHeaders(c: IngressCtx, plan: IngressPlan): void {
  const vhost = c.ann.get('upstream-vhost')?.trim();
  if (vhost !== undefined) {
    if (vhost.includes('$'))
      badValue(c, 'upstream-vhost', 'nginx variables cannot be expanded by Portico');
    else if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(vhost))
      badValue(c, 'upstream-vhost', 'expected a host name, optionally with :port');
    else plan.middlewares.push(['vhost', { headers: { customRequestHeaders: { Host: vhost } } }]);
  }
  const prefix = c.ann.get('x-forwarded-prefix');
  if (prefix !== undefined) {
    if (prefix === '' || !HEADER_VALUE.test(prefix))
      badValue(c, 'x-forwarded-prefix', 'not a header value');
    else
      plan.middlewares.push([
        'x-forwarded-prefix',
        { headers: { customRequestHeaders: { 'X-Forwarded-Prefix': prefix } } },
      ]);
  }
}

/** server-alias: more hosts for the rules of the Ingress (Traefik: Host(a) || Host(b)). */
function planAliases(c: IngressCtx): string[] {
  const raw = c.ann.get('server-alias');
  if (raw === undefined) return [];
  const list = parseList(raw);
  const bad = list.filter((h) => hostProblem(h) !== undefined);
  if (bad.length > 0) {
    badValue(c, 'server-alias', `not host names: ${bad.map((b) => shown(b)).join(', ')}`);
    return [];
  }
  return list;
}

/* ------------------------------------------------------------------ canaries */

interface Canary {
  ingress: string;
  namespace: string;
  backend: unknown;
  at: string;
  weight: number;
  weightTotal: number;
  header?: string;
  headerValue?: string;
  headerPattern?: string;
  cookie?: string;
  sticky?: StickyConfig;
  ctx: IngressCtx;
  used: boolean;
}

const pathKey = (ns: string, host: string, path: string): string =>
  JSON.stringify([ns, host, path]);

/** Reads a canary Ingress's own annotations; every other one is the main Ingress's (ingress-nginx). */
function canaryConfig(c: IngressCtx): Omit<Canary, 'backend' | 'at' | 'used'> | undefined {
  const weightTotal = intAnn(c, 'canary-weight-total', 1, 1_000_000) ?? 100;
  const weight = intAnn(c, 'canary-weight', 0, 1_000_000) ?? 0;
  const cfg: Omit<Canary, 'backend' | 'at' | 'used'> = {
    ingress: c.name,
    namespace: c.namespace,
    weight: Math.min(weight, weightTotal),
    weightTotal,
    ctx: c,
  };
  const header = c.ann.get('canary-by-header')?.trim();
  if (header) {
    if (!HEADER_TOKEN.test(header)) badValue(c, 'canary-by-header', 'not a header name');
    else cfg.header = header;
  }
  const value = c.ann.get('canary-by-header-value');
  const pattern = c.ann.get('canary-by-header-pattern');
  if (value !== undefined && value !== '') cfg.headerValue = value;
  else if (pattern !== undefined && pattern !== '') {
    try {
      compileRe2(pattern);
      cfg.headerPattern = pattern;
      outcome(
        c,
        'canary-by-header-pattern',
        'approximated',
        catalogueEntry('canary-by-header-pattern').note,
      );
    } catch (err) {
      badValue(
        c,
        'canary-by-header-pattern',
        `not an RE2 regular expression: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const cookie = c.ann.get('canary-by-cookie')?.trim();
  if (cookie) {
    if (!HEADER_TOKEN.test(cookie)) badValue(c, 'canary-by-cookie', 'not a cookie name');
    else cfg.cookie = cookie;
  }
  const sticky = planSticky(c);
  if (sticky !== undefined) cfg.sticky = sticky;
  const CANARY_OWN =
    /^(canary|canary-.*|affinity.*|session-cookie-.*|load-balance|upstream-hash-by)$/;
  for (const n of c.ann.keys()) {
    if (CANARY_OWN.test(n) || c.outcomes.has(n)) continue;
    const entry = catalogueEntry(n);
    if (entry.support === 'refused') outcome(c, n, 'refused', entry.note, 'error');
    else
      outcome(
        c,
        n,
        'unsupported',
        'on a canary Ingress, ingress-nginx takes this from the main Ingress; ignored',
        'warning',
      );
  }
  return c.blocked ? undefined : cfg;
}

function canaryRule(rule: string, cn: Canary): string {
  const parts: string[] = [];
  if (cn.header !== undefined) {
    if (cn.headerValue !== undefined)
      parts.push(`Header(${goQuote(cn.header)}, ${goQuote(cn.headerValue)})`);
    else if (cn.headerPattern !== undefined)
      parts.push(`HeaderRegexp(${goQuote(cn.header)}, ${goQuote(cn.headerPattern)})`);
    else parts.push(`Header(${goQuote(cn.header)}, "always")`);
  }
  if (cn.cookie !== undefined) {
    let r = `HeaderRegexp("Cookie", ${goQuote(`(^|;\\s*)${quoteMeta(cn.cookie)}=always(;|$)`)})`;
    // header precedes cookie: `never` in the header keeps the request off the canary
    if (cn.header !== undefined && cn.headerValue === undefined && cn.headerPattern === undefined)
      r = `(${r} && !Header(${goQuote(cn.header)}, "never"))`;
    parts.push(r);
  }
  return `(${rule}) && (${parts.join(' || ')})`;
}

function nonCanaryRule(rule: string, cn: Canary): string | undefined {
  const parts: string[] = [];
  if (cn.header !== undefined && cn.headerValue === undefined && cn.headerPattern === undefined)
    parts.push(`Header(${goQuote(cn.header)}, "never")`);
  if (cn.cookie !== undefined)
    parts.push(`HeaderRegexp("Cookie", ${goQuote(`(^|;\\s*)${quoteMeta(cn.cookie)}=never(;|$)`)})`);
  return parts.length > 0 ? `(${rule}) && (${parts.join(' || ')})` : undefined;
}

/* -------------------------------------------------------------- translation */

interface State {
  view: ClusterView;
  opts: NginxProviderOptions;
  routers: Record<string, RouterConfig>;
  services: Record<string, ServiceConfig>;
  middlewares: Record<string, MiddlewareConfig>;
  transports: Record<string, ServersTransportConfig>;
  certs: Map<string, TlsCertificateConfig>;
  diagnostics: KubeDiagnostic[];
}

function makeCtx(state: State, ingress: KubeObject): IngressCtx {
  const meta = asRecord(ingress.metadata);
  const namespace = asString(meta?.namespace) ?? 'default';
  const name = asString(meta?.name) ?? '';
  const problems: string[] = [];
  const c: IngressCtx = {
    namespace,
    name,
    ann: readAnnotations(ingress),
    outcomes: new Map(),
    blocked: false,
    problems,
    report: (field, message, level = 'error') => {
      const text =
        message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
      state.diagnostics.push({ kind: 'Ingress', namespace, name, field, message: text, level });
      if (!field.startsWith('metadata.annotations[')) problems.push(`${level} ${field}: ${text}`);
    },
  };
  return c;
}

/** The catalogue's answer for every annotation not already decided by the translation. */
function settleOutcomes(c: IngressCtx): void {
  for (const n of c.ann.keys()) {
    if (c.outcomes.has(n)) continue;
    const e = catalogueEntry(n);
    if (e.support === 'supported') outcome(c, n, 'supported', e.note);
    else outcome(c, n, e.support, e.note, e.level);
  }
}

interface RulePath {
  host: string;
  path: string;
  pathType: unknown;
  backend: unknown;
  at: string;
  i: number;
  j: number;
}

/** The rules' paths of an Ingress (hostile input skipped with a diagnostic). */
function rulePaths(c: IngressCtx, spec: Record<string, unknown>): RulePath[] {
  const out: RulePath[] = [];
  const rules = spec.rules;
  if (rules !== undefined && rules !== null && !Array.isArray(rules)) {
    c.report('spec.rules', 'spec.rules must be a list');
    return out;
  }
  asArray(rules).forEach((raw, i) => {
    const at = `spec.rules[${i}]`;
    const rule = asRecord(raw);
    if (rule === undefined) {
      c.report(at, 'a rule must be an object');
      return;
    }
    let host = '';
    if (rule.host !== undefined && rule.host !== null && rule.host !== '') {
      const problem = typeof rule.host === 'string' ? hostProblem(rule.host) : 'host must be text';
      if (problem !== undefined) {
        c.report(`${at}.host`, `${problem}; the rule is skipped`);
        return;
      }
      host = rule.host as string;
    }
    const http = asRecord(rule.http);
    if (http === undefined) return;
    if (!Array.isArray(http.paths)) {
      c.report(`${at}.http.paths`, 'http.paths must be a list');
      return;
    }
    http.paths.forEach((rawPath: unknown, j: number) => {
      const p = asRecord(rawPath);
      const where = `${at}.http.paths[${j}]`;
      if (p === undefined) {
        c.report(where, 'a path must be an object');
        return;
      }
      if (p.path !== undefined && p.path !== null && typeof p.path !== 'string') {
        c.report(`${where}.path`, 'path must be text; the path is skipped');
        return;
      }
      out.push({
        host,
        path: asString(p.path) ?? '',
        pathType: p.pathType,
        backend: p.backend,
        at: where,
        i,
        j,
      });
    });
  });
  return out;
}

/** Traefik's buildRule for the nginx provider. */
function buildRule(
  rp: RulePath,
  useRegex: boolean,
  aliases: string[] = [],
): string | { error: string } {
  const parts: string[] = [];
  if (rp.host !== '') {
    const hosts = [rp.host, ...aliases.filter((a) => a !== rp.host)];
    parts.push(hosts.length > 1 ? `(${hosts.map(hostRule).join(' || ')})` : hostRule(rp.host));
  }
  if (rp.path !== '') {
    if (rp.pathType === 'Exact') {
      if (!rp.path.startsWith('/')) return { error: `path ${shown(rp.path)} must start with "/"` };
      parts.push(`Path(${goQuote(rp.path)})`);
    } else if (useRegex) {
      // nginx: a case-insensitive regex location, anchored at the start (`location ~* "^path"`)
      const re = `(?i)^${rp.path}`;
      try {
        compileRe2(re);
      } catch (err) {
        return {
          error: `path ${shown(rp.path)} is not an RE2 regular expression (PCRE-only syntax?): ${err instanceof Error ? err.message : String(err)}`,
        };
      }
      parts.push(`PathRegexp(${goQuote(re)})`);
    } else {
      if (!rp.path.startsWith('/')) return { error: `path ${shown(rp.path)} must start with "/"` };
      if (rp.path === '/') parts.push('PathPrefix("/")');
      else {
        const p = rp.path.endsWith('/') ? rp.path.slice(0, -1) : rp.path;
        parts.push(`(Path(${goQuote(p)}) || PathPrefix(${goQuote(`${p}/`)}))`);
      }
    }
  }
  return parts.length > 0 ? parts.join(' && ') : 'PathPrefix("/")';
}

/**
 * nginx picks an exact location (`= /x`) before any prefix or regex one,
 * while Portico's default priority (the rule's length) would let
 * `PathPrefix("/")` outrank `Path("/x")`. An Exact path is given the
 * priority its Prefix form would have, plus one: above every path that can
 * match the same request, still on the rule-length scale the other
 * providers' routers use.
 */
function exactPriority(rp: RulePath, useRegex: boolean, aliases: string[]): number | undefined {
  if (rp.pathType !== 'Exact') return undefined;
  const prefix = buildRule({ ...rp, pathType: 'Prefix' }, useRegex, aliases);
  return typeof prefix === 'string' ? Buffer.byteLength(prefix, 'utf8') + 1 : undefined;
}

const usesHostVar = (m: MiddlewareConfig): boolean => {
  const fa = asRecord(m.forwardAuth);
  return typeof fa?.address === 'string' && new RegExp(HOST_VAR.source).test(fa.address);
};

/** A forwardAuth address with $host → the path's host (the only host its routers match). */
function withHost(m: MiddlewareConfig, host: string): MiddlewareConfig {
  if (!usesHostVar(m)) return m;
  const fa = asRecord(m.forwardAuth)!;
  return { forwardAuth: { ...fa, address: (fa.address as string).replace(HOST_VAR, host) } };
}

/** The servers of a backend; none (503, reported) when the Service cannot be resolved, as nginx answers. */
function buildService(
  state: State,
  c: IngressCtx,
  ref: IngressBackendRef,
  at: string,
  scheme: string,
  nativeLB: boolean,
): ServiceConfig | undefined {
  const resolve = (port: number | string) =>
    resolveServiceBackend(
      state.view,
      { namespace: c.namespace, name: ref.name, port, nativeLB },
      {
        allowEmptyServices: true,
        allowExternalNameServices: state.opts.disableSvcExternalName !== true,
        nativeLBByDefault: false,
        disableClusterScopeResources: state.opts.disableClusterScopeResources === true,
      },
    );
  let res = resolve(ref.port);
  if (!res.ok && res.field === 'port' && ref.altPort !== undefined) res = resolve(ref.altPort);
  if (!res.ok) {
    // ingress-nginx (and Traefik's provider) keep the location and answer 503
    c.report(
      res.field === 'port' ? `${at}.service.port` : `${at}.service.name`,
      `${res.message}; the path answers 503, as ingress-nginx does`,
      'warning',
    );
    return { loadBalancer: { servers: [] } };
  }
  return { loadBalancer: { servers: serverUrls(res.backend, scheme).map((url) => ({ url })) } };
}

function tlsHosts(spec: Record<string, unknown>): { any: boolean; hosts: Set<string> } {
  const hosts = new Set<string>();
  let any = false;
  for (const raw of asArray(spec.tls)) {
    const t = asRecord(raw);
    if (t === undefined) continue;
    any = true;
    for (const h of asArray(t.hosts)) if (typeof h === 'string') hosts.add(h);
  }
  return { any, hosts };
}

function translateMain(
  state: State,
  c: IngressCtx,
  ingress: KubeObject,
  regexHosts: Set<string>,
  canaries: Map<string, Canary>,
): void {
  const spec = asRecord(ingress.spec);
  if (spec === undefined) {
    c.report('spec', 'spec is missing or not an object');
    return;
  }
  const paths = rulePaths(c, spec);
  const anyRegexHost = paths.some((p) => regexHosts.has(p.host));
  const plan = planIngress(c, state.view, state.opts, anyRegexHost);
  settleOutcomes(c);
  if (c.blocked) return;
  if (plan.middlewares.some(([, m]) => usesHostVar(m))) {
    const bad = paths.find((p) => p.host === '' || p.host.startsWith('*.'));
    if (
      bad !== undefined ||
      plan.aliases.length > 0 ||
      (paths.length === 0 && spec.defaultBackend !== undefined)
    ) {
      badValue(
        c,
        'auth-url',
        '$host needs every rule to have one host that is not a wildcard (no server-alias)',
      );
      return;
    }
  }

  for (const p of collectCertificates(state.view, c.namespace, spec, state.certs))
    c.report(p.index < 0 ? 'spec.tls' : `spec.tls[${p.index}].secretName`, p.message);
  const tls = tlsHosts(spec);

  const transportName = normalizeName(`${c.namespace}-${c.name}`);
  if (plan.transport !== undefined) state.transports[transportName] = plan.transport;
  const shapeService = (svc: ServiceConfig, sticky: StickyConfig | undefined): ServiceConfig => {
    const lb = svc.loadBalancer!;
    if (sticky !== undefined) lb.sticky = sticky;
    if (plan.transport !== undefined) lb.serversTransport = transportName;
    return svc;
  };

  const serve = (
    rp: RulePath,
    routerKey: string,
    rule: string,
    service: string,
    priority?: number,
  ): void => {
    const mws: string[] = [];
    const add = (suffix: string, config: MiddlewareConfig) => {
      const name = `${routerKey}-${suffix}`;
      state.middlewares[name] = config;
      mws.push(name);
    };
    for (const [suffix, config] of plan.middlewares) add(suffix, withHost(config, rp.host));
    if (plan.rewrite !== undefined && rp.path !== '' && plan.rewrite !== rp.path) {
      // nginx `rewrite "(?i)path" target break`: the whole path becomes the target
      // (rewrite-target makes every path of the host a regex location, so the path is one here)
      const re = `(?is)^(?:${rp.path}).*`;
      add('rewrite-target', { replacePathRegex: { regex: re, replacement: plan.rewrite } });
    }
    const hasTls =
      tls.hosts.has(rp.host) ||
      (tls.any && tls.hosts.size === 0) ||
      (rp.host.includes('.') && tls.hosts.has(`*.${rp.host.slice(rp.host.indexOf('.') + 1)}`));
    const redirect = plan.forceSslRedirect || (hasTls && plan.sslRedirect !== false);
    const plain: RouterConfig = { rule, service };
    const secure: RouterConfig = { rule, service, tls: {} };
    if (priority !== undefined) plain.priority = secure.priority = priority;
    if (state.opts.httpEntryPoints?.length) plain.entryPoints = [...state.opts.httpEntryPoints];
    if (state.opts.httpsEntryPoints?.length) secure.entryPoints = [...state.opts.httpsEntryPoints];
    if (redirect) {
      const name = `${routerKey}-redirect-scheme`;
      state.middlewares[name] = { redirectScheme: { scheme: 'https', permanent: true } };
      plain.middlewares = [name];
    } else if (mws.length > 0) plain.middlewares = [...mws];
    if (mws.length > 0) secure.middlewares = [...mws];
    state.routers[routerKey] = plain;
    state.routers[`${routerKey}-tls`] = secure;
  };

  const def = spec.defaultBackend;
  if (def !== undefined && def !== null) {
    if (paths.length > 0 || asArray(spec.rules).length > 0) {
      c.report(
        'spec.defaultBackend',
        'ignored: only an Ingress without rules serves its default backend here',
        'warning',
      );
    } else {
      const ref = readBackendRef(def, 'spec.defaultBackend', c.namespace);
      if ('message' in ref) c.report(ref.field, ref.message);
      else {
        const svc = buildService(state, c, ref, 'spec.defaultBackend', plan.scheme, plan.nativeLB);
        if (svc !== undefined) {
          const name = normalizeName(`${c.namespace}-${c.name}-${ref.name}-${String(ref.port)}`);
          state.services[name] = shapeService(svc, plan.sticky);
          serve(
            {
              host: '',
              path: '',
              pathType: undefined,
              backend: def,
              at: 'spec.defaultBackend',
              i: 0,
              j: 0,
            },
            normalizeName(`${c.namespace}-${c.name}-default-backend`),
            'PathPrefix("/")',
            name,
            DEFAULT_BACKEND_PRIORITY,
          );
        }
      }
    }
  }

  for (const rp of paths) {
    const ref = readBackendRef(rp.backend, `${rp.at}.backend`, c.namespace);
    if ('message' in ref) {
      c.report(ref.field, ref.message);
      continue;
    }
    const rule = buildRule(rp, regexHosts.has(rp.host), plan.aliases);
    if (typeof rule === 'object') {
      c.report(`${rp.at}.path`, `${rule.error}; the path is skipped`);
      continue;
    }
    const svc = buildService(state, c, ref, `${rp.at}.backend`, plan.scheme, plan.nativeLB);
    if (svc === undefined) continue;
    const portName = ref.altPort ?? String(ref.port);
    const serviceName = normalizeName(`${c.namespace}-${c.name}-${ref.name}-${portName}`);
    state.services[serviceName] = shapeService(svc, plan.sticky);
    const routerKey = normalizeName(`${c.namespace}-${c.name}-rule-${rp.i}-path-${rp.j}`);

    let target = serviceName;
    const priority = exactPriority(rp, regexHosts.has(rp.host), plan.aliases);
    // a canary router beats its main one, and only it: one above the main's priority (an explicit
    // priority, since a longer rule could otherwise outrank a more specific path of the host)
    const canaryPriority = (priority ?? Buffer.byteLength(rule, 'utf8')) + 1;
    const cn = canaries.get(pathKey(c.namespace, rp.host, rp.path));
    if (cn !== undefined) {
      cn.used = true;
      const cref = readBackendRef(cn.backend, `${cn.at}.backend`, cn.namespace);
      const csvc =
        'message' in cref
          ? (cn.ctx.report(cref.field, cref.message), undefined)
          : buildService(state, cn.ctx, cref, `${cn.at}.backend`, plan.scheme, plan.nativeLB);
      if (csvc !== undefined) {
        const canaryName = `${serviceName}-canary`;
        state.services[canaryName] = shapeService(csvc, cn.sticky);
        if (cn.weight > 0) {
          const wrr = `${serviceName}-wrr`;
          state.services[wrr] = {
            weighted: {
              services: [
                { name: serviceName, weight: cn.weightTotal - cn.weight },
                { name: canaryName, weight: cn.weight },
              ],
            },
          };
          target = wrr;
        }
        if (cn.header !== undefined || cn.cookie !== undefined)
          serve(rp, `${routerKey}-canary`, canaryRule(rule, cn), canaryName, canaryPriority);
        const non = nonCanaryRule(rule, cn);
        if (non !== undefined)
          serve(rp, `${routerKey}-non-canary`, non, serviceName, canaryPriority);
      }
    }
    serve(rp, routerKey, rule, target, priority);
  }
}

export function translateNginxDetailed(
  view: ClusterView,
  opts: NginxProviderOptions = {},
): NginxTranslationDetail {
  const state: State = {
    view,
    opts,
    routers: {},
    services: {},
    middlewares: {},
    transports: {},
    certs: new Map(),
    diagnostics: [],
  };
  const accepted: NginxTranslation['accepted'] = [];
  const outcomes: NginxTranslationDetail['outcomes'] = [];
  const ours = createNginxClassFilter(view, opts);
  const mains: { ingress: KubeObject; c: IngressCtx }[] = [];
  const canaryCtxs: IngressCtx[] = [];
  const canaries = new Map<string, Canary>();
  const regexHosts = new Set<string>();

  // first pass: which Ingresses are canaries, and which hosts use regex paths
  // (ingress-nginx: use-regex or rewrite-target on one Ingress makes every path of the host a regex)
  for (const ingress of view.list('Ingress')) {
    let c: IngressCtx | undefined;
    try {
      if (!ours(ingress)) continue;
      c = makeCtx(state, ingress);
      accepted.push({ namespace: c.namespace, name: c.name });
      const spec = asRecord(ingress.spec) ?? {};
      if (parseGoBool(c.ann.get('canary') ?? '') === true) {
        canaryCtxs.push(c);
        const cfg = canaryConfig(c);
        settleOutcomes(c);
        if (cfg === undefined) continue;
        for (const rp of rulePaths(c, spec)) {
          const key = pathKey(c.namespace, rp.host, rp.path);
          if (canaries.has(key)) {
            c.report(
              rp.at,
              `another canary Ingress already serves host ${shown(rp.host)} path ${shown(rp.path)} (ingress-nginx allows one per path); skipped`,
            );
            continue;
          }
          canaries.set(key, { ...cfg, backend: rp.backend, at: rp.at, used: false });
        }
        continue;
      }
      mains.push({ ingress, c });
      const regex =
        parseGoBool(c.ann.get('use-regex') ?? '') === true ||
        (c.ann.get('rewrite-target') ?? '') !== '';
      if (regex)
        for (const r of asArray(spec.rules)) regexHosts.add(asString(asRecord(r)?.host) ?? '');
    } catch (err) {
      guard(state, ingress, err);
    }
  }
  for (const { ingress, c } of mains) {
    try {
      translateMain(state, c, ingress, regexHosts, canaries);
    } catch (err) {
      guard(state, ingress, err);
    }
    outcomes.push({
      namespace: c.namespace,
      name: c.name,
      served: !c.blocked,
      annotations: [...c.outcomes.values()],
      problems: c.problems,
    });
  }
  for (const cn of new Set(canaries.values())) {
    if (!cn.used)
      cn.ctx.report(
        cn.at,
        'no main Ingress serves the same host and path in this namespace; the canary path is not served',
        'warning',
      );
  }
  for (const c of canaryCtxs)
    outcomes.push({
      namespace: c.namespace,
      name: c.name,
      served: !c.blocked,
      annotations: [...c.outcomes.values()],
      problems: c.problems,
    });
  outcomes.sort((a, b) => (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));

  if (opts.defaultBackendService !== undefined && opts.defaultBackendService !== '')
    globalDefaultBackend(state, opts.defaultBackendService);

  const http: NonNullable<DynamicConfig['http']> = {
    routers: state.routers,
    services: state.services,
  };
  if (Object.keys(state.middlewares).length > 0) http.middlewares = state.middlewares;
  if (Object.keys(state.transports).length > 0) http.serversTransports = state.transports;
  const config: DynamicConfig = { http };
  if (state.certs.size > 0) {
    const keys = [...state.certs.keys()].sort();
    config.tls = { certificates: keys.map((k) => state.certs.get(k)!) };
  }
  return { config, diagnostics: state.diagnostics, accepted, outcomes };
}

/** Traefik's defaultBackendService: `default-backend` (+ `-tls`) routers, lowest priority, to the Service's only port. */
function globalDefaultBackend(state: State, ref: string): void {
  const [namespace, name, ...rest] = ref.split('/');
  const report = (message: string) =>
    state.diagnostics.push({
      kind: 'Service',
      ...(namespace !== undefined && name !== undefined ? { namespace } : {}),
      name: name ?? ref,
      field: 'defaultBackendService',
      message: message.slice(0, MAX_MESSAGE),
      level: 'error',
    });
  if (
    namespace === undefined ||
    namespace === '' ||
    name === undefined ||
    name === '' ||
    rest.length > 0
  ) {
    report(`defaultBackendService ${shown(ref)} must be namespace/name`);
    return;
  }
  const res = resolveServiceBackend(
    state.view,
    { namespace, name },
    {
      allowEmptyServices: true,
      allowExternalNameServices: state.opts.disableSvcExternalName !== true,
      nativeLBByDefault: false,
      disableClusterScopeResources: state.opts.disableClusterScopeResources === true,
    },
  );
  if (!res.ok) {
    report(`defaultBackendService: ${res.message}`);
    return;
  }
  state.services[NGINX_DEFAULT_BACKEND] = {
    loadBalancer: { servers: serverUrls(res.backend, 'http').map((url) => ({ url })) },
  };
  const plain: RouterConfig = {
    rule: 'PathPrefix("/")',
    priority: DEFAULT_BACKEND_PRIORITY,
    service: NGINX_DEFAULT_BACKEND,
  };
  const secure: RouterConfig = { ...plain, tls: {} };
  if (state.opts.httpEntryPoints?.length) plain.entryPoints = [...state.opts.httpEntryPoints];
  if (state.opts.httpsEntryPoints?.length) secure.entryPoints = [...state.opts.httpsEntryPoints];
  state.routers[NGINX_DEFAULT_BACKEND] = plain;
  state.routers[`${NGINX_DEFAULT_BACKEND}-tls`] = secure;
}

const NGINX_DEFAULT_BACKEND = 'default-backend';

/** A last resort: a bug here must cost one Ingress, never the provider. */
function guard(state: State, ingress: KubeObject, err: unknown): void {
  const meta = asRecord(ingress?.metadata);
  state.diagnostics.push({
    kind: 'Ingress',
    namespace: asString(meta?.namespace) ?? 'default',
    name: asString(meta?.name) ?? '',
    field: 'metadata',
    message:
      `internal error translating this Ingress: ${err instanceof Error ? err.message : String(err)}`.slice(
        0,
        MAX_MESSAGE,
      ),
    level: 'error',
  });
}

export function translateNginxIngresses(
  view: ClusterView,
  opts: NginxProviderOptions = {},
): NginxTranslation {
  const { config, diagnostics, accepted } = translateNginxDetailed(view, opts);
  return { config, diagnostics, accepted };
}
