/*
 * The TLS half of a Gateway listener's checks: tls.mode and the
 * certificateRefs of an HTTPS or TLS listener, loaded from Secrets into the
 * config's certificates (Traefik's loadGatewayListeners, kubernetes.go).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { asArray, asRecord, asString } from '../backends.js';
import type { KubeObject } from '../objects.js';
import { referenceGranted, str, type Acc, type GwGateway, type GwListener } from './common.js';
import type { GatewayProviderOptions } from './model.js';

export interface ListenerProblems {
  accepted?: [reason: string, message: string];
  resolvedRefs?: [reason: string, message: string];
  conflicted?: [reason: string, message: string];
}

/** One listener being checked: what its steps read, and the problems they find. */
export interface ListenerCheck {
  acc: Acc;
  opts: GatewayProviderOptions;
  gateway: GwGateway;
  /** the listener as written (undefined when it is not an object) */
  l: Record<string, unknown> | undefined;
  listener: GwListener;
  problems: ListenerProblems;
  /** keeps the first problem of each condition, and reports every one at `spec.listeners[i]<field>` */
  fail: (which: keyof ListenerProblems, reason: string, message: string, field: string) => void;
}

export type CertificateFiles = Map<string, { certFile: string; keyFile: string }>;

/** The problem with a certificate Secret, or its PEM pair. */
function loadCertificate(
  secret: KubeObject | undefined,
  id: string,
): { cert: string; key: string } | { error: string } {
  if (secret === undefined) return { error: `secret ${id} not found` };
  const read = (k: string): string | undefined => {
    const s = asString(asRecord(secret.stringData)?.[k]);
    if (s !== undefined) return s;
    const b64 = asString(asRecord(secret.data)?.[k]);
    return b64 !== undefined ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
  };
  const cert = read('tls.crt');
  const key = read('tls.key');
  const missing = [
    cert === undefined || cert === '' ? 'tls.crt' : '',
    key === undefined || key === '' ? 'tls.key' : '',
  ].filter((x) => x !== '');
  if (missing.length > 0)
    return { error: `secret ${id} is missing TLS data entries: ${missing.join(', ')}` };
  try {
    new X509Certificate(cert!);
    createPrivateKey(key!);
  } catch (err) {
    return { error: `secret ${id} holds no valid certificate and key: ${(err as Error).message}` };
  }
  return { cert: cert!, key: key! };
}

/** tls of a listener; a valid Terminate listener's certificates go into `certs`. */
export function checkListenerTls(lc: ListenerCheck, certs: CertificateFiles): void {
  const { l, listener, fail, problems } = lc;
  const { name, port, protocol } = listener;
  const tls = l?.tls;
  if (protocol === 'HTTP' || protocol === 'TCP') {
    if (tls !== undefined && tls !== null)
      fail(
        'accepted',
        'InvalidTLSConfiguration',
        'TLS configuration must not be defined when using HTTP or TCP protocol',
        '.tls',
      );
    return;
  }
  // HTTPS and TLS
  const t = asRecord(tls);
  if (t === undefined) {
    fail(
      'accepted',
      'InvalidTLSConfiguration',
      `no TLS configuration for listener ${name}:${port} and protocol ${JSON.stringify(protocol)}`,
      '.tls',
    );
    return;
  }
  const mode = asString(t.mode) ?? 'Terminate';
  listener.tlsMode = mode;
  if (mode !== 'Terminate' && mode !== 'Passthrough') {
    fail(
      'accepted',
      'UnsupportedValue',
      `tls.mode ${JSON.stringify(mode)} is not Terminate or Passthrough`,
      '.tls.mode',
    );
    return;
  }
  if (mode === 'Passthrough') {
    if (protocol === 'HTTPS')
      fail(
        'accepted',
        'UnsupportedProtocol',
        'HTTPS protocol is not supported with TLS mode Passthrough',
        '.tls.mode',
      );
    return;
  }
  const refs = asArray(t.certificateRefs);
  if (refs.length === 0) {
    fail(
      'resolvedRefs',
      'InvalidCertificateRef',
      'one TLS certificateRef is required in Terminate mode',
      '.tls.certificateRefs',
    );
    return;
  }
  const mine = loadCertificateRefs(lc, refs);
  // Traefik: a listener with any bad reference contributes no certificate
  if (
    problems.resolvedRefs === undefined &&
    problems.accepted === undefined &&
    problems.conflicted === undefined
  )
    for (const [k, v] of mine) if (!certs.has(k)) certs.set(k, v);
}

/** The certificates of a listener's certificateRefs, each bad reference reported. */
function loadCertificateRefs(lc: ListenerCheck, refs: unknown[]): CertificateFiles {
  const { acc, gateway, fail } = lc;
  const mine: CertificateFiles = new Map();
  for (const [c, rawRef] of refs.entries()) {
    const cf = `.tls.certificateRefs[${c}]`;
    const ref = asRecord(rawRef);
    const group = asString(ref?.group) ?? '';
    const kind = asString(ref?.kind) ?? 'Secret';
    const refName = str(ref?.name);
    if ((group !== '' && group !== 'core') || kind !== 'Secret' || refName === undefined) {
      fail(
        'resolvedRefs',
        'InvalidCertificateRef',
        refName === undefined
          ? 'certificateRef has no name'
          : `unsupported TLS certificateRef group/kind: ${group}/${kind}`,
        cf,
      );
      continue;
    }
    const ns = str(ref?.namespace) ?? gateway.namespace;
    if (
      !referenceGranted(
        acc.view,
        { kind: 'Gateway', namespace: gateway.namespace },
        { group: '', kind: 'Secret', name: refName, namespace: ns },
      )
    ) {
      fail(
        'resolvedRefs',
        'RefNotPermitted',
        `cannot reference certificateRef ${ns}/${refName}: missing ReferenceGrant`,
        cf,
      );
      continue;
    }
    const key = `${ns}/${refName}`;
    if (mine.has(key)) continue;
    const loaded = loadCertificate(acc.view.get('Secret', ns, refName), key);
    if ('error' in loaded) {
      fail(
        'resolvedRefs',
        'InvalidCertificateRef',
        `cannot load certificateRef ${key}: ${loaded.error}`,
        cf,
      );
      continue;
    }
    mine.set(key, { certFile: loaded.cert, keyFile: loaded.key });
  }
  return mine;
}
