/*
 * Structural validation of a dynamic configuration, element by element.
 *
 * A broken router, service or middleware is reported and left out; every other
 * element still serves, so this never throws. Only shapes and types are checked
 * here: cross references (router → service, middleware chains, entry points)
 * need the whole merged picture and live in a later stage.
 *
 * Traefik decodes file-provider fields case-insensitively (paerser matches
 * struct fields with strings.EqualFold) and rejects unknown fields, so keys are
 * matched ignoring case, rewritten to their canonical camelCase, and anything
 * unknown is an error with a "did you mean" hint. Traefik also decodes scalars
 * from their text, so `priority: "10"` or `passHostHeader: "false"` are
 * accepted and coerced; strings are never made out of numbers though, a
 * numeric `rule` is more likely a mistake than intent.
 *
 * The element schemas are src/config/schema/ (the one description of every
 * field); this file walks a configuration through them.
 */
import type { DynamicConfig, ElementError } from './dynamic.js';
import { isPlainObject, setKey } from './objects.js';
import type { TSchema } from './schema/core.js';
import {
  SKIP,
  canonicalEntries,
  decodeValue,
  findCi,
  parseDuration,
  typeName,
  type Issue,
} from './schema/decode.js';
import { Router, SERVICE_TYPES, Service, ServersTransport } from './schema/http.js';
import { middlewareSchemas } from './schema/middlewares/index.js';
import { TlsCertificate, TlsInternalCertificate, TlsOptions, TlsStore } from './schema/tls.js';
import { suggest } from '../kernel/suggest.js';

// kept here for the callers that imported them from the validator
export { parseDuration, suggest };

export interface ValidateResult {
  config: DynamicConfig;
  errors: ElementError[];
}

type Kind = ElementError['kind'];

/** Traefik's middleware type names, so `StripPrefix` or `stripprefix` normalise to one spelling. */
const MIDDLEWARE_TYPES = middlewareSchemas.map((m) => m.type);

const ROOT_KEYS = ['http', 'tls', 'tcp', 'udp'];
const HTTP_KEYS = ['routers', 'services', 'middlewares', 'serversTransports'];
const TLS_KEYS = ['certificates', 'options', 'stores'];

function check(schema: TSchema, value: unknown, path: string, issues: Issue[]): unknown {
  return decodeValue(schema, value, path, issues, 'config');
}

/* ---------------------------------------------------------------- elements */

function checkRouter(value: unknown, issues: Issue[]): unknown {
  if (!isPlainObject(value)) {
    issues.push({ field: '', message: `a router must be a mapping, got ${typeName(value)}` });
    return SKIP;
  }
  return check(Router, value, '', issues);
}

function checkService(value: unknown, issues: Issue[]): unknown {
  if (!isPlainObject(value)) {
    issues.push({ field: '', message: `a service must be a mapping, got ${typeName(value)}` });
    return SKIP;
  }
  const out = check(Service, value, '', issues);
  if (out === SKIP || !isPlainObject(out)) return SKIP;
  const types = Object.keys(value)
    .map((k) => SERVICE_TYPES.find((t) => t.toLowerCase() === k.toLowerCase()))
    .filter((t): t is (typeof SERVICE_TYPES)[number] => t !== undefined);
  if (types.length !== 1) {
    issues.push({
      field: '',
      message:
        types.length === 0
          ? `a service must have exactly one of ${SERVICE_TYPES.join(', ')}, found none`
          : `a service must have exactly one of ${SERVICE_TYPES.join(', ')}, found: ${types.join(', ')}`,
    });
  } else if (findCi(value, types[0]!) === null) {
    issues.push({ field: types[0]!, message: `${types[0]} must not be empty` });
  }
  return out;
}

function checkMiddleware(value: unknown, issues: Issue[]): unknown {
  if (!isPlainObject(value)) {
    issues.push({ field: '', message: `a middleware must be a mapping, got ${typeName(value)}` });
    return SKIP;
  }
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    issues.push({
      field: '',
      message:
        keys.length === 0
          ? 'a middleware must have exactly one type, found none'
          : `a middleware must have exactly one type, found: ${keys.join(', ')}`,
    });
    return SKIP;
  }
  const raw = keys[0]!;
  // unknown types pass through: the middleware registry knows which ones exist
  const type = MIDDLEWARE_TYPES.find((t) => t.toLowerCase() === raw.toLowerCase()) ?? raw;
  const options = value[raw];
  if (options !== null && !isPlainObject(options)) {
    issues.push({ field: type, message: `options must be a mapping, got ${typeName(options)}` });
    return SKIP;
  }
  const out: Record<string, unknown> = {};
  setKey(out, type, options ?? {});
  return out;
}

function checkSpec(spec: TSchema, what: string) {
  return (value: unknown, issues: Issue[]): unknown => {
    if (value === null) value = {};
    if (!isPlainObject(value)) {
      issues.push({ field: '', message: `${what} must be a mapping, got ${typeName(value)}` });
      return SKIP;
    }
    return check(spec, value, '', issues);
  };
}

/* ------------------------------------------------------------------- entry */

/**
 * Checks every element of `config` structurally. The returned config holds only
 * the valid elements, with field names in their canonical spelling; `provider`
 * qualifies element names in errors (`name@provider`) when they are not already.
 */
export function validateDynamic(config: DynamicConfig, provider?: string): ValidateResult {
  const errors: ElementError[] = [];
  const qualify = (name: string) =>
    provider && !name.includes('@') ? `${name}@${provider}` : name;
  const providerName = provider ?? 'config';
  const report = (kind: Kind, name: string, issue: Issue) =>
    errors.push({
      kind,
      name,
      ...(issue.field ? { field: issue.field } : {}),
      message: issue.message,
    });

  const out: DynamicConfig = {};
  if (!isPlainObject(config)) {
    report('provider', providerName, {
      field: '',
      message: `configuration must be a mapping, got ${typeName(config)}`,
    });
    return { config: out, errors };
  }

  const rootIssues: Issue[] = [];
  // `x-*` root keys only hold YAML anchors for reuse (the Compose convention);
  // Traefik ignores unknown root keys altogether, Portico reports the others
  const rootInput = Object.fromEntries(
    Object.entries(config as Record<string, unknown>).filter(([k]) => !k.startsWith('x-')),
  );
  const root = Object.fromEntries(canonicalEntries(rootInput, ROOT_KEYS, '', rootIssues)) as Record<
    string,
    unknown
  >;
  for (const issue of rootIssues) report('provider', providerName, issue);

  const section = (
    value: unknown,
    path: string,
    keys: readonly string[],
  ): Record<string, unknown> | undefined => {
    if (value === null || value === undefined) return undefined;
    if (!isPlainObject(value)) {
      report('provider', providerName, {
        field: path,
        message: `expected a mapping, got ${typeName(value)}`,
      });
      return undefined;
    }
    const issues: Issue[] = [];
    const entries = canonicalEntries(value, keys, path, issues);
    for (const issue of issues) report('provider', providerName, issue);
    return Object.fromEntries(entries);
  };

  const elements = (
    value: unknown,
    path: string,
    kind: Kind,
    checker: (v: unknown, issues: Issue[]) => unknown,
  ): Record<string, unknown> | undefined => {
    if (value === null || value === undefined) return undefined;
    if (!isPlainObject(value)) {
      report('provider', providerName, {
        field: path,
        message: `expected a mapping of names to definitions, got ${typeName(value)}`,
      });
      return undefined;
    }
    const valid: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(value)) {
      const issues: Issue[] = [];
      const checked = checker(def, issues);
      for (const issue of issues) report(kind, qualify(name), issue);
      if (issues.length === 0 && checked !== SKIP) setKey(valid, name, checked);
    }
    return valid;
  };

  const http = section(root.http, 'http', HTTP_KEYS);
  if (http) {
    const h: Record<string, unknown> = {};
    const routers = elements(http.routers, 'http.routers', 'router', checkRouter);
    const services = elements(http.services, 'http.services', 'service', checkService);
    const middlewares = elements(
      http.middlewares,
      'http.middlewares',
      'middleware',
      checkMiddleware,
    );
    const transports = elements(
      http.serversTransports,
      'http.serversTransports',
      'serversTransport',
      checkSpec(ServersTransport, 'a servers transport'),
    );
    if (routers) h.routers = routers;
    if (services) h.services = services;
    if (middlewares) h.middlewares = middlewares;
    if (transports) h.serversTransports = transports;
    out.http = h as DynamicConfig['http'];
  }

  const tls = section(root.tls, 'tls', TLS_KEYS);
  if (tls) {
    const t: Record<string, unknown> = {};
    if (tls.certificates !== undefined && tls.certificates !== null) {
      if (!Array.isArray(tls.certificates)) {
        report('tls', qualify('tls'), {
          field: 'certificates',
          message: `expected a list, got ${typeName(tls.certificates)}`,
        });
      } else {
        const certs: unknown[] = [];
        tls.certificates.forEach((cert, i) => {
          const issues: Issue[] = [];
          const spec = provider === 'internal' ? TlsInternalCertificate : TlsCertificate;
          const checked = check(spec, cert, `certificates[${i}]`, issues);
          if (cert === null)
            issues.push({ field: `certificates[${i}]`, message: 'empty list entry' });
          for (const issue of issues) report('tls', qualify('tls'), issue);
          if (issues.length === 0 && checked !== SKIP) certs.push(checked);
        });
        t.certificates = certs;
      }
    }
    const options = elements(
      tls.options,
      'tls.options',
      'tls',
      checkSpec(TlsOptions, 'tls options'),
    );
    const stores = elements(tls.stores, 'tls.stores', 'tls', checkSpec(TlsStore, 'a tls store'));
    if (options) t.options = options;
    if (stores) t.stores = stores;
    out.tls = t as DynamicConfig['tls'];
  }

  for (const proto of ['tcp', 'udp'] as const) {
    const value = root[proto];
    if (value === undefined || value === null) continue;
    const routers = isPlainObject(value) ? findCi(value, 'routers') : undefined;
    const count = isPlainObject(routers) ? Object.keys(routers).length : 0;
    report('provider', providerName, {
      field: proto,
      message: `${proto} routing is not supported yet; ${count} router${count === 1 ? '' : 's'} ignored`,
    });
  }

  return { config: out, errors };
}
