/*
 * Traefik's documentation examples (test/fixtures/k8s-crd/docs-examples.yml,
 * one YAML document per example, unchanged) translate one by one, each with
 * the Services, EndpointSlices and Secrets it names
 * (translate/docs-support.yml), into the elements Traefik names for them,
 * and the result passes the aggregator's validation as provider
 * `kubernetescrd`. The provider runs as the example assumes: with the
 * example's ingress class, cross-namespace references and ExternalName
 * Services allowed. What Portico refuses on purpose is listed, with why.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../providers/kubernetes/objects.js';
import { translateCrds } from '../../providers/kubernetes/crd/translate.js';
import {
  DEFAULTS,
  aggregateErrors,
  describeDiagnostic,
  objectsOfYaml,
  viewOfObjects,
} from './kube-crd-helpers.js';

const fixtures = join(import.meta.dirname, '../fixtures/k8s-crd');
const support = objectsOfYaml(readFileSync(join(fixtures, 'translate/docs-support.yml'), 'utf8'));

interface Example {
  title: string;
  object: KubeObject;
}

/** Each document with the page it comes from (its leading comment). */
function examples(): Example[] {
  const text = readFileSync(join(fixtures, 'docs-examples.yml'), 'utf8');
  const seen = new Map<string, number>();
  return text
    .split(/^---$/m)
    .map((chunk) => {
      const page = /^# docs\/content\/reference\/routing-configuration\/(\S+)\.md$/m.exec(
        chunk,
      )?.[1];
      const [object] = objectsOfYaml(chunk);
      if (!page || !object) return undefined;
      const base = `${page}: ${String(object.kind)} ${object.metadata.namespace}/${object.metadata.name}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      return { title: n > 1 ? `${base} (#${n})` : base, object };
    })
    .filter((e): e is Example => e !== undefined);
}

const normalize = (s: string) =>
  s
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .join('-');
const hash = (rule: string) => createHash('sha256').update(rule).digest('hex').slice(0, 20);

/** Where each kind's elements go and how Traefik names them. */
function expectedNames(o: KubeObject): { at: string; names: string[] } {
  const ns = o.metadata.namespace!;
  const name = o.metadata.name;
  const routes = ((o.spec as { routes?: { match?: string }[] }).routes ?? []) as {
    match?: string;
  }[];
  switch (o.kind) {
    case 'IngressRoute':
      return {
        at: 'http.routers',
        names: routes.map((r) => normalize(`${ns}-${name}-${hash(r.match!)}`)),
      };
    case 'IngressRouteTCP':
      return { at: 'tcp.routers', names: routes.map((r) => `${ns}-${name}-${hash(r.match!)}`) };
    case 'IngressRouteUDP':
      return { at: 'udp.routers', names: routes.map((_, i) => `${ns}-${name}-${i}`) };
    case 'Middleware':
      return { at: 'http.middlewares', names: [normalize(`${ns}-${name}`)] };
    case 'MiddlewareTCP':
      return { at: 'tcp.middlewares', names: [normalize(`${ns}-${name}`)] };
    case 'TraefikService':
      return { at: 'http.services', names: [normalize(`${ns}-${name}`)] };
    case 'ServersTransport':
      return { at: 'http.serversTransports', names: [normalize(`${ns}-${name}`)] };
    case 'ServersTransportTCP':
      return { at: 'tcp.serversTransports', names: [normalize(`${ns}-${name}`)] };
    case 'TLSOption':
      return { at: 'tls.options', names: [name === 'default' ? 'default' : `${ns}-${name}`] };
    case 'TLSStore':
      return { at: 'tls.stores', names: ['default'] };
    default:
      throw new Error(`unexpected kind ${String(o.kind)}`);
  }
}

/**
 * Examples Portico refuses (in part), and the diagnostic it gives: features
 * it does not have yet, which it refuses rather than serve without.
 */
const refused: Record<string, string[]> = {
  // a Traefik Hub example: the oidc plugin answers itself, the route has no service
  'http/middlewares/oidc: IngressRoute default/whoami': [
    'IngressRoute default/whoami spec.routes[0].services: a route needs at least one service',
  ],
  // multi-layer routing (Traefik v3.6): child routers of a parent IngressRoute
  'kubernetes/crd/http/ingressroute: IngressRoute apps/test-name': [
    'IngressRoute apps/test-name spec.parentRefs: parentRefs (routers that are children of other routers) are not supported by Portico yet',
  ],
  // middlewares on a service (Traefik v3.6): served without them would drop what they guard
  'kubernetes/crd/http/service: IngressRoute apps/test-name': [
    'IngressRoute apps/test-name spec.routes[0].services[0].middlewares: middlewares on a service are not supported by Portico yet; put them on the route',
  ],
  'kubernetes/crd/http/service: IngressRoute default/test-name': [
    'IngressRoute default/test-name spec.routes[0].services[0].middlewares: middlewares on a service are not supported by Portico yet; put them on the route',
  ],
  'kubernetes/crd/http/traefikservice: TraefikService apps/hrw1': [
    'TraefikService apps/hrw1 spec.highestRandomWeight: highestRandomWeight services are not supported by Portico yet (a load balancer can use strategy: hrw over its servers)',
  ],
};

describe("Traefik's documentation examples translate unchanged", () => {
  const all = examples();

  it('reads every example of the file', () => {
    expect(all.length).toBe(96);
  });

  it.each(all.map((e) => [e.title, e] as const))('%s', (title, { object }) => {
    const spec = (object.spec ?? {}) as { ingressClassName?: string };
    const { config, diagnostics } = translateCrds(viewOfObjects([...support, object]), {
      ...DEFAULTS,
      allowCrossNamespace: true,
      allowExternalNameServices: true,
      ...(spec.ingressClassName ? { ingressClass: spec.ingressClassName } : {}),
    });
    const errors = diagnostics.filter((d) => d.level === 'error').map(describeDiagnostic);
    const want = refused[title] ?? [];
    expect(errors.join('\n')).toEqual(want.join('\n'));
    if (want.length === 0) {
      const { at, names } = expectedNames(object);
      const [top, sub] = at.split('.') as [string, string];
      const section = (config as Record<string, Record<string, Record<string, unknown>>>)[top]?.[
        sub
      ];
      for (const n of names) expect(Object.keys(section ?? {}), title).toContain(n);
    }
    expect(aggregateErrors(config)).toEqual([]);
  });
});
