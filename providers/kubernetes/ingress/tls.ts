/*
 * Certificates of `spec.tls[].secretName` (Traefik's getCertificates): the
 * Secret's `tls.crt` and `tls.key` (base64 in `data`; `stringData` text in
 * manifests read from files) become a tls.certificates entry with the PEM
 * inline, once per namespace/Secret however many Ingresses name it, sorted
 * by that key. As in Traefik, the Secret's type is not checked (Opaque
 * Secrets with these two keys work too) and spec.tls does not turn TLS on
 * for the routers: that is the router.tls annotation or the entry point's.
 *
 * The PEM must be inline: certFile/keyFile also accept a file path
 * (src/tls/certificate.ts pemText), and a Secret must never make Portico
 * read one of its own files, so anything that is not PEM text is refused.
 */
import type { TlsCertificateConfig } from '../../../src/config/dynamic.js';
import { asRecord, asString } from '../backends.js';
import type { ClusterView } from '../objects.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A Secret value as text: stringData as is, data base64-decoded; an error message otherwise. */
function secretText(
  secret: { data?: unknown; stringData?: unknown },
  key: string,
): string | undefined | { error: string } {
  const text = asRecord(secret.stringData)?.[key];
  if (typeof text === 'string') return text;
  const raw = asRecord(secret.data)?.[key];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') return { error: `${key} is not a base64 string` };
  const compact = raw.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact))
    return { error: `${key} is not valid base64` };
  const bytes = Buffer.from(compact, 'base64');
  const decoded = bytes.toString('utf8');
  if (Buffer.byteLength(decoded) !== bytes.length) return { error: `${key} is not text (PEM)` };
  return decoded;
}

/** The certificate of one Secret, or why it cannot be used (Traefik's messages where it has them). */
export function certificateOfSecret(
  view: ClusterView,
  namespace: string,
  name: string,
): TlsCertificateConfig | { error: string } {
  const id = `${namespace}/${name}`;
  const secret = view.get('Secret', namespace, name);
  if (secret === undefined) return { error: `secret ${id} does not exist` };
  const values = ['tls.crt', 'tls.key'].map((k) => secretText(secret, k));
  const missing = ['tls.crt', 'tls.key'].filter((_k, i) => values[i] === undefined);
  if (missing.length > 0)
    return {
      error: `secret ${id} is missing the following TLS data entries: ${missing.join(', ')}`,
    };
  for (const v of values) if (typeof v === 'object') return { error: `secret ${id}: ${v.error}` };
  const [cert, key] = values as string[];
  const empty = ['tls.crt', 'tls.key'].filter((_k, i) => [cert, key][i] === '');
  if (empty.length > 0)
    return {
      error: `secret ${id} contains the following empty TLS data entries: ${empty.join(', ')}`,
    };
  for (const [k, v] of [
    ['tls.crt', cert],
    ['tls.key', key],
  ] as const) {
    if (!v!.includes('-----BEGIN')) return { error: `secret ${id}: ${k} is not PEM text` };
  }
  return { certFile: cert!, keyFile: key! };
}

export interface TlsProblem {
  index: number;
  message: string;
}

/**
 * Adds the certificates of one Ingress's spec.tls to `certs` (key
 * `namespace-secretName`); entries without a secretName are skipped (they
 * ask for the default certificate). Unlike Traefik, which stops at an
 * Ingress's first bad Secret, every entry is tried.
 */
export function collectCertificates(
  view: ClusterView,
  namespace: string,
  spec: Record<string, unknown>,
  certs: Map<string, TlsCertificateConfig>,
): TlsProblem[] {
  const problems: TlsProblem[] = [];
  const list = spec.tls;
  if (list === undefined || list === null) return problems;
  if (!Array.isArray(list)) return [{ index: -1, message: 'spec.tls must be a list' }];
  list.forEach((raw, index) => {
    const secretName = asString(asRecord(raw)?.secretName);
    if (secretName === undefined || secretName === '') return;
    const key = `${namespace}-${secretName}`;
    if (certs.has(key)) return;
    const cert = certificateOfSecret(view, namespace, secretName);
    if ('error' in cert) problems.push({ index, message: cert.error });
    else certs.set(key, cert);
  });
  return problems;
}
