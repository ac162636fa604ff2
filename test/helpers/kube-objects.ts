/*
 * Objects the Kubernetes end-to-end tests put in the fake API server: a
 * Service whose one ready endpoint is a real upstream on 127.0.0.1 (its
 * EndpointSlice carries the upstream's port under the Service port's name).
 */
import type { KubeApiServer } from './kube-apiserver.js';

export function serviceTo(
  server: KubeApiServer,
  namespace: string,
  name: string,
  upstreamPort: number,
  servicePort = 80,
): void {
  server.create('Service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name },
    spec: { clusterIP: '10.96.0.11', ports: [{ name: 'http', port: servicePort }] },
  });
  server.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: upstreamPort, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  });
}
