/*
 * Reading Secrets and ConfigMaps as Traefik's CRD provider does
 * (pkg/provider/kubernetes/crd/kubernetes.go: getCertificateBlocks,
 * getCABlocks, loadCASecret, loadCAConfigMap, loadAuthTLSSecret,
 * loadAuthCredentials, loadBasicAuthCredentials, getSecretValue). Secrets
 * hold base64 values in `data` (as the API server sends them) or text in
 * `stringData` (a manifest read from a file); a value that is not valid
 * base64 is refused with the key's name, never decoded leniently.
 */
import { createHash } from 'node:crypto';
import { Refused, isObj, type Ctx } from './context.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The Secret's keys and their bytes; undefined when the Secret does not exist. */
export function secretData(
  ctx: Ctx,
  namespace: string,
  name: string,
  field: string,
): Map<string, Buffer> | undefined {
  const secret = ctx.view.get('Secret', namespace, name);
  if (secret === undefined) return undefined;
  const out = new Map<string, Buffer>();
  if (isObj(secret.data)) {
    for (const [k, raw] of Object.entries(secret.data)) {
      // Go's base64 decoder (the API server's, Traefik's) skips line breaks
      const v = typeof raw === 'string' ? raw.replace(/[\r\n]/g, '') : raw;
      if (typeof v !== 'string' || v.length % 4 !== 0 || !BASE64.test(v)) {
        throw new Refused(field, `secret ${namespace}/${name}: key ${k} is not valid base64`);
      }
      out.set(k, Buffer.from(v, 'base64'));
    }
  }
  if (isObj(secret.stringData)) {
    // the API server merges stringData over data; a manifest from a file may carry both
    for (const [k, v] of Object.entries(secret.stringData)) {
      if (typeof v !== 'string') {
        throw new Refused(field, `secret ${namespace}/${name}: stringData key ${k} is not text`);
      }
      out.set(k, Buffer.from(v, 'utf8'));
    }
  }
  return out;
}

function existing(ctx: Ctx, namespace: string, name: string, field: string): Map<string, Buffer> {
  const data = secretData(ctx, namespace, name, field);
  if (data === undefined) throw new Refused(field, `secret ${namespace}/${name} not found`);
  return data;
}

/** tls.crt and tls.key of a Secret, both present and not empty (getCertificateBlocks). */
export function certificateBlocks(
  ctx: Ctx,
  namespace: string,
  name: string,
  field: string,
): { cert: string; key: string } {
  const data = existing(ctx, namespace, name, field);
  const missing = ['tls.crt', 'tls.key'].filter((k) => !data.has(k));
  if (missing.length > 0) {
    throw new Refused(
      field,
      `secret ${namespace}/${name} is missing the following TLS data entries: ${missing.join(', ')}`,
    );
  }
  const cert = data.get('tls.crt')!.toString('utf8');
  const key = data.get('tls.key')!.toString('utf8');
  const empty = [cert === '' ? 'tls.crt' : '', key === '' ? 'tls.key' : ''].filter(Boolean);
  if (empty.length > 0) {
    throw new Refused(
      field,
      `secret ${namespace}/${name} contains the following empty TLS data entries: ${empty.join(', ')}`,
    );
  }
  return { cert, key };
}

/**
 * A CA bundle: `tls.ca`, else `ca.crt`; for compatibility (Traefik's
 * loadCASecret, "remove in v4") the only key of a one-key Secret. `strict`
 * leaves that fallback out, as Traefik's TLSOption client CAs do (getCABlocks).
 */
export function caSecret(
  ctx: Ctx,
  namespace: string,
  name: string,
  field: string,
  strict = false,
): string {
  const data = existing(ctx, namespace, name, field);
  const ca = data.get('tls.ca') ?? data.get('ca.crt');
  if (ca !== undefined) return ca.toString('utf8');
  if (!strict && data.size === 1) return [...data.values()][0]!.toString('utf8');
  throw new Refused(field, `secret ${namespace}/${name} contains neither tls.ca nor ca.crt`);
}

export function caConfigMap(ctx: Ctx, namespace: string, name: string, field: string): string {
  const cm = ctx.view.get('ConfigMap', namespace, name);
  if (cm === undefined) throw new Refused(field, `configMap ${namespace}/${name} not found`);
  const data = isObj(cm.data) ? cm.data : {};
  const ca = data['tls.ca'] ?? data['ca.crt'];
  if (typeof ca === 'string') return ca;
  throw new Refused(field, `configMap ${namespace}/${name} contains neither tls.ca nor ca.crt`);
}

/**
 * The users of a basicAuth or digestAuth middleware. A
 * `kubernetes.io/basic-auth` Secret (basicAuth only) gives one user whose
 * password is stored as `{SHA}` + base64(SHA-1), Traefik's
 * loadBasicAuthCredentials; any other Secret must have exactly one key, whose
 * non-empty lines are the users (loadAuthCredentials).
 */
export function authUsers(
  ctx: Ctx,
  namespace: string,
  name: string,
  field: string,
  basicAuthType: boolean,
): string[] {
  const data = existing(ctx, namespace, name, field);
  const type = ctx.view.get('Secret', namespace, name)?.type;
  if (basicAuthType && type === 'kubernetes.io/basic-auth') {
    const username = data.get('username');
    const password = data.get('password');
    if (username === undefined || password === undefined) {
      throw new Refused(
        field,
        `secret ${namespace}/${name} must contain both username and password keys`,
      );
    }
    const sum = createHash('sha1').update(password).digest('base64');
    return [`${username.toString('utf8')}:{SHA}${sum}`];
  }
  if (data.size !== 1) {
    throw new Refused(
      field,
      `found ${data.size} elements for secret ${namespace}/${name}, must be single element exactly`,
    );
  }
  const users = [...data.values()][0]!
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
  if (users.length === 0) {
    throw new Refused(field, `secret ${namespace}/${name} does not contain any credentials`);
  }
  return users;
}

/** username and password keys (rateLimit.redis.secret, Traefik's loadRedisCredentials). */
export function usernamePassword(
  ctx: Ctx,
  namespace: string,
  name: string,
  field: string,
): { username: string; password: string } {
  const data = existing(ctx, namespace, name, field);
  const username = data.get('username');
  const password = data.get('password');
  if (username === undefined || password === undefined) {
    throw new Refused(
      field,
      `secret ${namespace}/${name} must contain both username and password keys`,
    );
  }
  return { username: username.toString('utf8'), password: password.toString('utf8') };
}

const URN = 'urn:k8s:secret:';

/**
 * Plugin options with every `urn:k8s:secret:<name>:<key>` string replaced by
 * the Secret's value, at any depth (Traefik's loadSecretKeys).
 */
export function resolveSecretUrns(
  ctx: Ctx,
  namespace: string,
  value: unknown,
  field: string,
  depth = 0,
): unknown {
  if (depth > 64) throw new Refused(field, 'nested too deeply');
  if (typeof value === 'string') {
    if (!value.startsWith(URN)) return value;
    const parts = value.split(':');
    if (parts.length !== 5) throw new Refused(field, `malformed secret URN "${value}"`);
    const data = existing(ctx, namespace, parts[3]!, field);
    const v = data.get(parts[4]!);
    if (v === undefined) {
      throw new Refused(field, `key "${parts[4]}" not found in secret ${namespace}/${parts[3]}`);
    }
    return v.toString('utf8');
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => resolveSecretUrns(ctx, namespace, v, `${field}[${i}]`, depth + 1));
  }
  if (isObj(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = resolveSecretUrns(ctx, namespace, v, `${field}.${k}`, depth + 1);
    return out;
  }
  return value;
}
