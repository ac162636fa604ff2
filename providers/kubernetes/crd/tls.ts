/*
 * TLSOption, TLSStore, ServersTransport and ServersTransportTCP, and the
 * certificates routes name by Secret (Traefik's buildTLSOptions,
 * buildTLSStores, getTLS and the servers transport loops of
 * loadConfigurationFromCRD, pkg/provider/kubernetes/crd/kubernetes.go).
 * Secrets become inline PEM, which the file provider's fields accept as
 * well as paths.
 */
import {
  Refused,
  arr,
  attempt,
  isObj,
  makeId,
  normalize,
  obj,
  omit,
  optObj,
  reqStr,
  report,
  sourceOf,
  str,
  type Ctx,
  type Source,
} from './context.js';
import { caConfigMap, caSecret, certificateBlocks } from './secrets.js';

const DEFAULT = 'default';

/** A route's or the default store's certificate, once per `namespace/secret` (Traefik's tlsConfigs). */
export function addSecretCertificate(
  ctx: Ctx,
  ns: string,
  secret: string,
  field: string,
  stores?: string[],
): void {
  const key = `${ns}/${secret}`;
  if (ctx.certificates.has(key)) return;
  const { cert, key: pem } = certificateBlocks(ctx, ns, secret, field);
  ctx.certificates.set(key, { certFile: cert, keyFile: pem, ...(stores ? { stores } : {}) });
}

/** Objects named `default` in several namespaces: Traefik drops them all and says so. */
function dropDuplicateDefaults(
  ctx: Ctx,
  target: Record<string, unknown>,
  defaults: Source[],
  what: string,
): void {
  if (defaults.length < 2) return;
  delete target[DEFAULT];
  const where = defaults.map((d) => d.namespace).join(', ');
  for (const d of defaults) {
    report(
      ctx,
      d,
      'metadata.name',
      `default ${what} defined in several namespaces (${where}); none is used`,
    );
  }
}

export function translateTlsOptions(ctx: Ctx): void {
  const defaults: Source[] = [];
  for (const o of ctx.objects.get('TLSOption') ?? []) {
    const src = sourceOf('TLSOption', o);
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      const clientAuth = obj(spec.clientAuth, 'spec.clientAuth');
      const caFiles: string[] = [];
      arr(clientAuth.secretNames, 'spec.clientAuth.secretNames').forEach((s, i) => {
        const field = `spec.clientAuth.secretNames[${i}]`;
        // Traefik skips a CA it cannot read and keeps the option (fewer CAs: fewer clients pass)
        attempt(ctx, src, field, () =>
          caFiles.push(caSecret(ctx, src.namespace, reqStr(s, field), field, true)),
        );
      });
      const option: Record<string, unknown> = omit(spec, ['clientAuth']);
      const auth = omit(clientAuth, ['secretNames']);
      if (caFiles.length > 0) auth.caFiles = caFiles;
      if (Object.keys(auth).length > 0) option.clientAuth = auth;
      // Traefik's makeID, not normalised (as it is: references are normalised, ids not)
      const id = src.name === DEFAULT ? DEFAULT : makeId(src.namespace, src.name);
      if (src.name === DEFAULT) defaults.push(src);
      ctx.tlsOptions[id] = option;
      ctx.origins.set(`tls.options/${id}`, { ...src, field: 'spec' });
    });
  }
  dropDuplicateDefaults(ctx, ctx.tlsOptions, defaults, 'TLSOption');
}

export function translateTlsStores(ctx: Ctx): void {
  const defaults: Source[] = [];
  for (const o of ctx.objects.get('TLSStore') ?? []) {
    const src = sourceOf('TLSStore', o);
    if (src.name !== DEFAULT) {
      // Traefik builds `<ns>-<name>` stores but its TLS manager only ever uses `default`
      report(
        ctx,
        src,
        'metadata.name',
        'only the TLSStore named default is used; this one is ignored',
        'warning',
      );
      continue;
    }
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      const store: Record<string, unknown> = {};
      const dc = optObj(spec.defaultCertificate, 'spec.defaultCertificate');
      if (dc !== undefined) {
        const field = 'spec.defaultCertificate.secretName';
        const { cert, key } = certificateBlocks(
          ctx,
          src.namespace,
          reqStr(dc.secretName, field),
          field,
        );
        store.defaultCertificate = { certFile: cert, keyFile: key };
      }
      const gen = optObj(spec.defaultGeneratedCert, 'spec.defaultGeneratedCert');
      if (gen !== undefined) store.defaultGeneratedCert = gen;
      arr(spec.certificates, 'spec.certificates').forEach((c, i) => {
        const field = `spec.certificates[${i}].secretName`;
        // one unreadable certificate does not take the store down (Traefik's buildCertificates)
        attempt(ctx, src, field, () => {
          const secret = reqStr(obj(c, `spec.certificates[${i}]`).secretName, field);
          addSecretCertificate(ctx, src.namespace, secret, field, [DEFAULT]);
        });
      });
      defaults.push(src);
      ctx.tlsStores[DEFAULT] = store;
      ctx.origins.set(`tls.stores/${DEFAULT}`, { ...src, field: 'spec' });
    });
  }
  dropDuplicateDefaults(ctx, ctx.tlsStores, defaults, 'TLSStore');
}

/**
 * rootCAsSecrets, rootCAs (a Secret or a ConfigMap each) and
 * certificatesSecrets as PEM; a CA or certificate that cannot be read is
 * reported and left out, as Traefik does.
 */
function transportCertificates(
  ctx: Ctx,
  src: Source,
  spec: Record<string, unknown>,
  field: string,
): { rootCAs: string[]; certificates: { certFile: string; keyFile: string }[] } {
  const ns = src.namespace;
  const rootCAs: string[] = [];
  const certificates: { certFile: string; keyFile: string }[] = [];
  arr(spec.rootCAsSecrets, `${field}.rootCAsSecrets`).forEach((s, i) => {
    const f = `${field}.rootCAsSecrets[${i}]`;
    attempt(ctx, src, f, () => rootCAs.push(caSecret(ctx, ns, reqStr(s, f), f)));
  });
  arr(spec.rootCAs, `${field}.rootCAs`).forEach((r, i) => {
    const f = `${field}.rootCAs[${i}]`;
    attempt(ctx, src, f, () => {
      const ca = obj(r, f);
      const secret = str(ca.secret, `${f}.secret`);
      const configMap = str(ca.configMap, `${f}.configMap`);
      if (secret !== undefined && configMap !== undefined) {
        throw new Refused(f, 'both secret and configMap are defined');
      }
      if (secret !== undefined) rootCAs.push(caSecret(ctx, ns, secret, `${f}.secret`));
      else if (configMap !== undefined)
        rootCAs.push(caConfigMap(ctx, ns, configMap, `${f}.configMap`));
      else throw new Refused(f, 'needs a secret or a configMap');
    });
  });
  arr(spec.certificatesSecrets, `${field}.certificatesSecrets`).forEach((s, i) => {
    const f = `${field}.certificatesSecrets[${i}]`;
    attempt(ctx, src, f, () => {
      const { cert, key } = certificateBlocks(ctx, ns, reqStr(s, f), f);
      certificates.push({ certFile: cert, keyFile: key });
    });
  });
  return { rootCAs, certificates };
}

const K8S_TLS_FIELDS = ['rootCAsSecrets', 'rootCAs', 'certificatesSecrets'];

export function translateServersTransports(ctx: Ctx): void {
  for (const o of ctx.objects.get('ServersTransport') ?? []) {
    const src = sourceOf('ServersTransport', o);
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      if (spec.peerCertSANs !== undefined && spec.peerCertSANs !== null) {
        // a verification constraint: leaving it out would accept servers Traefik refuses
        throw new Refused('spec.peerCertSANs', 'peerCertSANs is not supported by Portico yet');
      }
      const { rootCAs, certificates } = transportCertificates(ctx, src, spec, 'spec');
      const t = omit(spec, K8S_TLS_FIELDS);
      if (rootCAs.length > 0) t.rootCAs = rootCAs;
      if (certificates.length > 0) t.certificates = certificates;
      const id = normalize(makeId(src.namespace, src.name));
      ctx.config.http.serversTransports[id] = t;
      ctx.origins.set(`http.serversTransports/${id}`, { ...src, field: 'spec' });
    });
  }
  for (const o of ctx.objects.get('ServersTransportTCP') ?? []) {
    const src = sourceOf('ServersTransportTCP', o);
    attempt(ctx, src, 'spec', () => {
      const spec = obj(o.spec, 'spec');
      const t: Record<string, unknown> = omit(spec, ['tls']);
      const tls = optObj(spec.tls, 'spec.tls');
      if (tls !== undefined) {
        if (isObj(tls) && tls.peerCertSANs !== undefined && tls.peerCertSANs !== null) {
          throw new Refused(
            'spec.tls.peerCertSANs',
            'peerCertSANs is not supported by Portico yet',
          );
        }
        const { rootCAs, certificates } = transportCertificates(ctx, src, tls, 'spec.tls');
        const out = omit(tls, K8S_TLS_FIELDS);
        if (rootCAs.length > 0) out.rootCAs = rootCAs;
        if (certificates.length > 0) out.certificates = certificates;
        t.tls = out;
      }
      const id = normalize(makeId(src.namespace, src.name));
      ctx.config.tcp.serversTransports[id] = t;
      ctx.origins.set(`tcp.serversTransports/${id}`, { ...src, field: 'spec' });
    });
  }
}
