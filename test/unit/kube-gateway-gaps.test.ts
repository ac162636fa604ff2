/*
 * What the Gateway translator does not implement is said, never dropped in
 * silence: HTTPRoute timeouts (GEP-1742) become a warning on the route's
 * field; and a Gateway asking for frontend client certificates
 * (spec.tls.frontend) is not served without them (fail closed).
 */
import selfsigned from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { translateGateway } from '../../providers/kubernetes/gateway/translate.js';
import { viewOf, type KubeObject } from '../../providers/kubernetes/objects.js';

const gvk = (kind: string) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind });

function cluster(
  gatewaySpec: Record<string, unknown>,
  rule: Record<string, unknown>,
  secrets: KubeObject[] = [],
) {
  return viewOf({
    Secret: secrets,
    GatewayClass: [
      {
        ...gvk('GatewayClass'),
        metadata: { name: 'portico' },
        spec: { controllerName: 'portico.io/gateway-controller' },
      },
    ],
    Gateway: [
      {
        ...gvk('Gateway'),
        metadata: { namespace: 'apps', name: 'gw', generation: 1 },
        spec: { gatewayClassName: 'portico', ...gatewaySpec },
      },
    ],
    HTTPRoute: [
      {
        ...gvk('HTTPRoute'),
        metadata: { namespace: 'apps', name: 'r', generation: 1 },
        spec: {
          parentRefs: [{ name: 'gw' }],
          rules: [{ backendRefs: [{ name: 'echo', port: 80 }], ...rule }],
        },
      },
    ],
    Service: [
      {
        metadata: { namespace: 'apps', name: 'echo' },
        spec: { ports: [{ name: 'http', port: 80 }] },
      },
    ],
    EndpointSlice: [
      {
        metadata: {
          namespace: 'apps',
          name: 'echo-1',
          labels: { 'kubernetes.io/service-name': 'echo' },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080 }],
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      },
    ],
  } as Record<string, KubeObject[]>);
}

const opts = {
  entryPoints: { web: { port: 80, httpTls: false }, websecure: { port: 443, httpTls: false } },
  experimentalChannel: false,
  nativeLBByDefault: false,
};

describe('Gateway API features Portico does not implement', () => {
  it('HTTPRoute timeouts: a warning naming the field; the route is served', () => {
    const t = translateGateway(
      cluster(
        { listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }] },
        { timeouts: { request: '10s', backendRequest: '2s' } },
      ),
      opts,
    );
    const fields = t.diagnostics
      .filter((d) => d.kind === 'HTTPRoute')
      .map((d) => [d.field, d.level]);
    expect(fields).toContainEqual(['spec.rules[0].timeouts.request', 'warning']);
    expect(fields).toContainEqual(['spec.rules[0].timeouts.backendRequest', 'warning']);
    expect(Object.keys(t.config.http?.routers ?? {})).toHaveLength(1);
  });

  it('spec.tls.frontend: its TLS-terminating listeners are not served (fail closed), HTTP ones are', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'gw.test' }], {
      keyType: 'ec' as const,
      curve: 'P-256',
      algorithm: 'sha256',
    });
    const secret: KubeObject = {
      metadata: { namespace: 'apps', name: 'cert' },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': Buffer.from(pems.cert).toString('base64'),
        'tls.key': Buffer.from(pems.private).toString('base64'),
      },
    };
    const withFrontend = (frontend: boolean) =>
      cluster(
        {
          listeners: [
            { name: 'http', protocol: 'HTTP', port: 80 },
            {
              name: 'https',
              protocol: 'HTTPS',
              port: 443,
              tls: { mode: 'Terminate', certificateRefs: [{ name: 'cert' }] },
            },
          ],
          ...(frontend
            ? {
                tls: {
                  frontend: {
                    default: {
                      validation: { caCertificateRefs: [{ kind: 'ConfigMap', name: 'ca' }] },
                    },
                  },
                },
              }
            : {}),
        },
        {},
        [secret],
      );
    // without frontend validation both listeners serve the route
    const plain = translateGateway(withFrontend(false), opts);
    expect(Object.keys(plain.config.http?.routers ?? {})).toHaveLength(2);
    const t = translateGateway(withFrontend(true), opts);
    const routers = Object.values(t.config.http?.routers ?? {});
    // the route attaches to both listeners; only the plain HTTP one serves
    expect(routers).toHaveLength(1);
    expect(routers[0]!.tls).toBeUndefined();
    const d = t.diagnostics.find((x) => x.kind === 'Gateway' && x.field === 'spec.tls.frontend');
    expect(d?.level).toBe('error');
    const https = t.status.gateways[0]!.listeners.find((l) => l.name === 'https')!;
    expect(https.conditions.find((c) => c.type === 'Programmed')).toMatchObject({
      status: 'False',
      reason: 'Invalid',
    });
  });
});
