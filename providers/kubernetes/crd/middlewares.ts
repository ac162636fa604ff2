/*
 * Middleware and MiddlewareTCP → `http.middlewares` / `tcp.middlewares`
 * named `<ns>-<name>` (normalised). The spec is the file provider's shape
 * except where Kubernetes differs (Traefik's loadConfigurationFromCRD and
 * create*Middleware, pkg/provider/kubernetes/crd/kubernetes.go): users come
 * from a Secret, forwardAuth and Redis TLS material from Secrets, chain
 * members and the errors service are references, plugin options may name
 * Secret values by URN. Everything else passes through as written; the
 * middleware's own schema checks it (translate.ts reports what it refuses).
 */
import type { MiddlewareConfig } from '../../../src/config/dynamic.js';
import {
  Refused,
  arr,
  attempt,
  makeId,
  normalize,
  obj,
  omit,
  optObj,
  resolveReference,
  sourceOf,
  str,
  type Ctx,
  type Source,
} from './context.js';
import {
  authUsers,
  caSecret,
  certificateBlocks,
  resolveSecretUrns,
  usernamePassword,
} from './secrets.js';
import { commitServices, nameAndService } from './services.js';

type Options = Record<string, unknown>;
type Translate = (ctx: Ctx, src: Source, id: string, options: Options, field: string) => Options;

function auth(basicAuthType: boolean): Translate {
  return (ctx, src, _id, o, field) => {
    const secret = str(o.secret, `${field}.secret`) ?? '';
    if (secret === '') throw new Refused(`${field}.secret`, 'auth secret must be set');
    const users = authUsers(ctx, src.namespace, secret, `${field}.secret`, basicAuthType);
    return { ...omit(o, ['secret']), users };
  };
}

/** caSecret and certSecret of a client TLS block → ca, cert, key (PEM). */
function clientTls(ctx: Ctx, ns: string, tls: Options, field: string): Options {
  const out = omit(tls, ['caSecret', 'certSecret']);
  const ca = str(tls.caSecret, `${field}.caSecret`);
  if (ca) out.ca = caSecret(ctx, ns, ca, `${field}.caSecret`);
  const cert = str(tls.certSecret, `${field}.certSecret`);
  if (cert) {
    const blocks = certificateBlocks(ctx, ns, cert, `${field}.certSecret`);
    out.cert = blocks.cert;
    out.key = blocks.key;
  }
  return out;
}

const forwardAuth: Translate = (ctx, src, _id, o, field) => {
  if ((str(o.address, `${field}.address`) ?? '') === '') {
    throw new Refused(`${field}.address`, 'forward authentication requires an address');
  }
  const tls = optObj(o.tls, `${field}.tls`);
  return tls === undefined ? o : { ...o, tls: clientTls(ctx, src.namespace, tls, `${field}.tls`) };
};

const chain: Translate = (ctx, src, _id, o, field) => ({
  ...o,
  middlewares: arr(o.middlewares, `${field}.middlewares`).map((m, i) =>
    resolveReference(ctx, src.namespace, m, `${field}.middlewares[${i}]`, 'middleware'),
  ),
});

/** The errors service: a TraefikService by name, or a load balancer `<id>-errorpage-service`. */
const errors: Translate = (ctx, src, id, o, field) => {
  if (o.service === undefined || o.service === null) return o;
  const r = nameAndService(ctx, src.namespace, o.service, `${field}.service`);
  if (!r.service) return { ...o, service: r.name };
  const name = `${id}-errorpage-service`;
  commitServices(ctx, { [name]: r.service }, { ...src, field: `${field}.service` });
  return { ...o, service: name };
};

const plugin: Translate = (ctx, src, _id, o, field) =>
  resolveSecretUrns(ctx, src.namespace, o, field) as Options;

/** rateLimit.redis: `secret` (username, password) and TLS material from Secrets. */
const rateLimit: Translate = (ctx, src, _id, o, field) => {
  const redis = optObj(o.redis, `${field}.redis`);
  if (redis === undefined) return o;
  const out = omit(redis, ['secret']);
  const secret = str(redis.secret, `${field}.redis.secret`);
  if (secret)
    Object.assign(out, usernamePassword(ctx, src.namespace, secret, `${field}.redis.secret`));
  const tls = optObj(redis.tls, `${field}.redis.tls`);
  if (tls !== undefined) out.tls = clientTls(ctx, src.namespace, tls, `${field}.redis.tls`);
  return { ...o, redis: out };
};

const KUBERNETES_ONLY: Record<string, Translate> = {
  basicauth: auth(true),
  digestauth: auth(false),
  forwardauth: forwardAuth,
  chain,
  errors,
  plugin,
  ratelimit: rateLimit,
};

export function translateMiddlewares(ctx: Ctx): void {
  for (const o of ctx.objects.get('Middleware') ?? []) {
    const src = sourceOf('Middleware', o);
    const id = normalize(makeId(src.namespace, src.name));
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      const out: MiddlewareConfig = {};
      for (const [type, value] of Object.entries(spec)) {
        const field = `spec.${type}`;
        const translate = KUBERNETES_ONLY[type.toLowerCase()];
        out[type] = translate ? translate(ctx, src, id, obj(value, field), field) : value;
      }
      ctx.config.http.middlewares[id] = out;
      ctx.origins.set(`http.middlewares/${id}`, { ...src, field: 'spec' });
    });
  }
  for (const o of ctx.objects.get('MiddlewareTCP') ?? []) {
    const src = sourceOf('MiddlewareTCP', o);
    const id = normalize(makeId(src.namespace, src.name));
    attempt(ctx, src, 'spec', () => {
      ctx.config.tcp.middlewares[id] = obj(o.spec, 'spec');
      ctx.origins.set(`tcp.middlewares/${id}`, { ...src, field: 'spec' });
    });
  }
}
