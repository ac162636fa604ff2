/*
 * auth-url / auth-* (forwardAuth, global-auth-url) and auth-type /
 * auth-secret (basicAuth, digestAuth from a Secret's users).
 */
import type { MiddlewareConfig } from '../../../src/config/dynamic.js';
import { passwordHashKind } from '../../../src/config/password-hash.js';
import { asRecord, shown } from '../backends.js';
import type { ClusterView, KubeObject } from '../objects.js';
import { catalogueEntry, parseList } from './annotations.js';
import {
  badValue,
  boolAnn,
  type IngressCtx,
  type IngressPlan,
  ignoredWithout,
  outcome,
} from './context.js';
import type { NginxProviderOptions } from './types.js';
import { HEADER_TOKEN } from './values.js';

export function planAuth(
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
    ignoredWithout(
      c,
      ['auth-secret', 'auth-secret-type', 'auth-realm'],
      'has no effect without auth-type (as in ingress-nginx); ignored',
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
    ignoredWithout(
      c,
      ['auth-signin', 'auth-response-headers'],
      'has no effect without auth-url (as in ingress-nginx); ignored',
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

export const usesHostVar = (m: MiddlewareConfig): boolean => {
  const fa = asRecord(m.forwardAuth);
  return typeof fa?.address === 'string' && new RegExp(HOST_VAR.source).test(fa.address);
};

/** A forwardAuth address with $host → the path's host (the only host its routers match). */
export function withHost(m: MiddlewareConfig, host: string): MiddlewareConfig {
  if (!usesHostVar(m)) return m;
  const fa = asRecord(m.forwardAuth)!;
  return { forwardAuth: { ...fa, address: (fa.address as string).replace(HOST_VAR, host) } };
}
