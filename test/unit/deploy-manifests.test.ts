/*
 * The deployment artefacts of issue 14 item 8: deploy/kubernetes (applied with
 * kustomize) and the Helm chart deploy/helm/portico. Each object is validated
 * against the Kubernetes API's schemas (test/helpers/kube-schema.ts), the
 * chart is linted and rendered by the real `helm` (test/helpers/helm.ts), and
 * both are held to what Portico itself does: the container arguments are
 * loaded by Portico's static configuration loader, the probes hit the ping
 * entrypoint's /ping and /ready, the grace period covers Portico's drain, the
 * RBAC grants what the providers watch, and the CRDs are the generated ones.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { crdYaml } from '../../src/config/schema/crds.js';
import { GATEWAY_CONTROLLERS } from '../../providers/kubernetes/objects.js';
import { loadStaticConfig, staticWarnings } from '../../src/config/static.js';
import {
  CRD_RESOURCES,
  ENDPOINT_SLICE,
  GATEWAY_RESOURCES,
  INGRESS,
  INGRESS_CLASS,
  NAMESPACE,
  NODE,
  SECRET,
  SERVICE,
  TCP_ROUTE,
  type ResourceDef,
} from '../../providers/kubernetes/resources.js';
import {
  Gateway as GatewayModel,
  GatewayClass as GatewayClassModel,
} from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { kubeTools, ROOT, runTool, type KubeTools } from '../helpers/helm.js';
import { validateAll, type KubeObject } from '../helpers/kube-schema.js';

const KUSTOMIZE_DIR = path.join(ROOT, 'deploy/kubernetes');
const CHART_DIR = path.join(ROOT, 'deploy/helm/portico');
const VERSION = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

const parseDocs = (text: string): KubeObject[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);

const readDocs = (file: string): KubeObject[] => parseDocs(readFileSync(file, 'utf8'));

/** deploy/kubernetes as kustomize would read it: the files its kustomization lists. */
function kustomizeFiles(): string[] {
  const k = parseDocs(readFileSync(path.join(KUSTOMIZE_DIR, 'kustomization.yaml'), 'utf8'))[0] as {
    resources?: string[];
  };
  return k.resources ?? [];
}
const manifests = (): KubeObject[] =>
  kustomizeFiles().flatMap((f) => readDocs(path.join(KUSTOMIZE_DIR, f)));

const find = (objects: KubeObject[], kind: string): KubeObject[] =>
  objects.filter((o) => o.kind === kind);
const one = (objects: KubeObject[], kind: string): any => {
  const found = find(objects, kind);
  expect(
    found.map((o) => o.metadata?.name),
    kind,
  ).toHaveLength(1);
  return found[0];
};

/**
 * What a user notices when the objects are applied: the Deployment's Portico
 * starts with its arguments, serves the probes, drains within the grace
 * period, the Service reaches it and the PDB selects it.
 */
function checkPortico(objects: KubeObject[]): void {
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template;
  const [container] = pod.spec.containers;
  const podLabels = pod.metadata.labels as Record<string, string>;
  const selects = (selector: Record<string, string>): boolean =>
    Object.entries(selector).every(([k, v]) => podLabels[k] === v);

  // the arguments are a configuration Portico accepts, without warnings
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'portico-deploy-'));
  let sc;
  try {
    sc = loadStaticConfig({
      argv: container.args,
      env: { POD_NAME: 'portico-0', POD_NAMESPACE: deployment.metadata.namespace },
      cwd,
    });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  expect(staticWarnings(sc)).toEqual([]);
  expect(sc.providers.kubernetesIngress).toBeDefined();
  expect(sc.providers.kubernetesCRD).toBeDefined();

  // every entrypoint is a container port, and every container port an entrypoint
  const containerPorts = new Map<string, number>(
    container.ports.map((p: any) => [p.name as string, p.containerPort as number]),
  );
  const entryPorts = new Map(Object.values(sc.entryPoints).map((ep) => [ep.name, ep.port]));
  expect(Object.fromEntries(entryPorts)).toEqual(Object.fromEntries(containerPorts));
  // unprivileged ports: no NET_BIND_SERVICE needed with every capability dropped
  for (const port of containerPorts.values()) expect(port).toBeGreaterThanOrEqual(1024);

  // liveness /ping and readiness /ready on the ping entrypoint
  expect(sc.ping).toBeDefined();
  const pingPort = sc.entryPoints[sc.ping!.entryPoint]!.port;
  const probePort = (p: any): number =>
    typeof p.httpGet.port === 'number' ? p.httpGet.port : containerPorts.get(p.httpGet.port)!;
  expect(container.livenessProbe.httpGet.path).toBe('/ping');
  expect(container.readinessProbe.httpGet.path).toBe('/ready');
  expect(probePort(container.livenessProbe)).toBe(pingPort);
  expect(probePort(container.readinessProbe)).toBe(pingPort);

  // SIGTERM: keep accepting for requestAcceptGraceTimeout, then graceTimeOut to finish
  const drainMs = Math.max(
    ...Object.values(sc.entryPoints).map(
      (ep) =>
        ep.transport.lifeCycle.requestAcceptGraceTimeoutMs + ep.transport.lifeCycle.graceTimeOutMs,
    ),
  );
  expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs);
  const web = Object.values(sc.entryPoints).find((ep) => ep.name === 'web')!;
  expect(web.transport.lifeCycle.requestAcceptGraceTimeoutMs).toBeGreaterThan(0);

  // two replicas, a new one ready before an old one goes
  expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
  expect(deployment.spec.strategy.type).toBe('RollingUpdate');
  expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  expect(selects(deployment.spec.selector.matchLabels)).toBe(true);

  // non-root, read-only root, no capabilities
  expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
  expect(pod.spec.securityContext.runAsUser).toBeGreaterThan(0);
  expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
  expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
  expect(container.securityContext.capabilities.drop).toEqual(['ALL']);
  expect(container.securityContext.capabilities.add ?? []).toEqual([]);
  // the writable places: /tmp and the ACME storage
  const mounts = container.volumeMounts.map((m: any) => m.mountPath);
  expect(mounts).toEqual(expect.arrayContaining(['/tmp', '/data']));

  // the Lease election's identity from the downward API
  const env = new Map(container.env.map((e: any) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
  expect(env.get('POD_NAME')).toBe('metadata.name');
  expect(env.get('POD_NAMESPACE')).toBe('metadata.namespace');

  // the Service reaches the pods on web and websecure; the status is copied from it
  const service = one(objects, 'Service');
  expect(selects(service.spec.selector)).toBe(true);
  expect(service.spec.type).toBe('LoadBalancer');
  const servicePorts = new Map<string, any>(service.spec.ports.map((p: any) => [p.name, p]));
  expect([...servicePorts.keys()].sort()).toEqual(['web', 'websecure']);
  for (const p of servicePorts.values()) {
    const target =
      typeof p.targetPort === 'string' ? containerPorts.get(p.targetPort) : p.targetPort;
    expect(target, `Service port ${p.name}`).toBe(containerPorts.get(p.name));
  }
  expect(servicePorts.get('web').port).toBe(80);
  expect(servicePorts.get('websecure').port).toBe(443);
  expect(sc.providers.kubernetesIngress!.ingressEndpoint?.publishedService).toBe(
    `${service.metadata.namespace}/${service.metadata.name}`,
  );

  const pdb = one(objects, 'PodDisruptionBudget');
  expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
  expect(pdb.spec.maxUnavailable ?? deployment.spec.replicas - pdb.spec.minAvailable).toBeLessThan(
    deployment.spec.replicas,
  );

  // the pods run as the ServiceAccount the bindings name
  const sa = pod.spec.serviceAccountName;
  for (const binding of [...find(objects, 'ClusterRoleBinding'), ...find(objects, 'RoleBinding')]) {
    expect((binding as any).subjects).toEqual([
      { kind: 'ServiceAccount', name: sa, namespace: deployment.metadata.namespace },
    ]);
  }
  const role = one(objects, 'Role');
  expect(role.metadata.namespace).toBe(deployment.metadata.namespace);
}

/** The verbs a set of RBAC rules grants on one resource of one group. */
function verbsFor(rules: any[], group: string, resource: string): string[] {
  return rules
    .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
    .flatMap((r) => r.verbs as string[])
    .sort();
}

/**
 * What each provider watches, from the resource table as
 * providers/kubernetes/index.ts combines it (with its options at their most:
 * cluster-scope resources read, the Gateway API's experimental channel on).
 * ingress-nginx reads what the Ingress provider reads.
 */
const WATCHED = {
  ingress: [INGRESS, INGRESS_CLASS, NODE, SERVICE, ENDPOINT_SLICE, SECRET],
  crd: [...CRD_RESOURCES, SERVICE, ENDPOINT_SLICE, SECRET],
  gateway: [...GATEWAY_RESOURCES, TCP_ROUTE, SERVICE, ENDPOINT_SLICE, SECRET, NAMESPACE],
  nginx: [INGRESS, INGRESS_CLASS, SERVICE, ENDPOINT_SLICE, SECRET],
} satisfies Record<string, readonly ResourceDef[]>;
type ProviderName = keyof typeof WATCHED;

/**
 * The status subresources each provider writes: the Ingress status (Ingress
 * and ingress-nginx providers), and every Gateway API kind but ReferenceGrant,
 * which has no status (providers/kubernetes/gateway/status.ts).
 */
const STATUS_WRITTEN: Record<ProviderName, readonly ResourceDef[]> = {
  ingress: [INGRESS],
  crd: [],
  gateway: [...GATEWAY_RESOURCES, TCP_ROUTE].filter((d) => d.kind !== 'ReferenceGrant'),
  nginx: [INGRESS],
};

const resourceKey = (group: string, resource: string): string => `${resource}.${group}`;

/**
 * Least privilege: read what the enabled providers watch, write only their
 * status subresources, Events and the Lease; nothing for a provider that is off.
 */
function checkRbac(objects: KubeObject[], providers: readonly ProviderName[]): void {
  const clusterRole = one(objects, 'ClusterRole');
  const rules = clusterRole.rules as any[];
  const watched = new Set(providers.flatMap((p) => WATCHED[p]));
  const statuses = new Set(providers.flatMap((p) => STATUS_WRITTEN[p]));
  for (const def of watched)
    expect(verbsFor(rules, def.group, def.plural), `${def.plural}.${def.group}`).toEqual([
      'get',
      'list',
      'watch',
    ]);
  for (const def of statuses)
    expect(verbsFor(rules, def.group, `${def.plural}/status`), `${def.plural}/status`).toEqual([
      'patch',
      'update',
    ]);
  expect(verbsFor(rules, '', 'events')).toEqual(['create']);
  // nothing else: no wildcards, no write on any object
  const granted = rules.flatMap((r) =>
    (r.apiGroups as string[]).flatMap((g) =>
      (r.resources as string[]).map((res) => resourceKey(g, res)),
    ),
  );
  expect(granted.filter((g) => g.includes('*'))).toEqual([]);
  expect(new Set(granted)).toEqual(
    new Set([
      ...[...watched].map((d) => resourceKey(d.group, d.plural)),
      ...[...statuses].map((d) => resourceKey(d.group, `${d.plural}/status`)),
      resourceKey('', 'events'),
    ]),
  );
  expect(granted.length, 'each resource granted by one rule').toBe(new Set(granted).size);
  expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
  const role = one(objects, 'Role');
  expect(role.rules).toEqual([
    {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'create', 'update'],
    },
  ]);
}

/** The providers a rendered Deployment's arguments start (Portico's loader reads them). */
function enabledProviders(objects: KubeObject[]): ProviderName[] {
  const container = one(objects, 'Deployment').spec.template.spec.containers[0];
  const sc = loadStaticConfig({ argv: container.args, env: {}, cwd: os.tmpdir() });
  const on: ProviderName[] = [];
  if (sc.providers.kubernetesIngress) on.push('ingress');
  if (sc.providers.kubernetesCRD) on.push('crd');
  if (sc.providers.kubernetesGateway) on.push('gateway');
  if (sc.providers.kubernetesIngressNGINX) on.push('nginx');
  return on;
}

describe('CRDs stay generated', () => {
  it.each([
    ['traefik.io', 'deploy/kubernetes/crds/traefik.io.yaml'],
    ['portico.io', 'deploy/kubernetes/crds/portico.io.yaml'],
    ['traefik.io', 'deploy/helm/portico/crds/traefik.io.yaml'],
    ['portico.io', 'deploy/helm/portico/crds/portico.io.yaml'],
  ])(
    '%s → %s is crdYaml() (else: npm run build && node deploy/kubernetes/generate-crds.mjs)',
    (group, file) => {
      expect(readFileSync(path.join(ROOT, file), 'utf8')).toBe(crdYaml(group));
    },
  );

  it.each(['traefik.io', 'portico.io'])("the %s file's header names its own group", (group) => {
    const header = crdYaml(group).split('\n---\n')[0]!;
    expect(header.split('\n')[0]).toContain(` ${group}/v1alpha1`);
    for (const other of ['traefik.io', 'portico.io'].filter((g) => g !== group))
      expect(header).not.toContain(`${other}/`);
  });

  it('the chart ships exactly these CRD files', () => {
    expect(readdirSync(path.join(CHART_DIR, 'crds')).sort()).toEqual([
      'portico.io.yaml',
      'traefik.io.yaml',
    ]);
  });
});

describe('deploy/kubernetes', () => {
  it('the kustomization lists every manifest in the folder', () => {
    const onDisk = readdirSync(KUSTOMIZE_DIR, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    expect([...kustomizeFiles()].sort()).toEqual(onDisk);
  });

  it('every object is valid against the Kubernetes API schemas (no unknown fields)', async () => {
    const objects = manifests();
    expect(objects.length).toBeGreaterThan(20);
    expect(await validateAll(objects)).toEqual([]);
  });

  it('runs Portico as the ingress controller issue 14 describes', () => {
    const objects = manifests();
    checkPortico(objects);
    expect(one(objects, 'Deployment').spec.template.spec.containers[0].image).toBe(
      `portico:${VERSION}`,
    );
    const ingressClass = one(objects, 'IngressClass');
    expect(ingressClass.metadata.name).toBe('portico');
    expect(ingressClass.spec.controller).toBe('portico.io/ingress-controller');
  });

  it('grants least privilege: what the providers its Deployment starts read and write', () => {
    const objects = manifests();
    expect(enabledProviders(objects)).toEqual(['ingress', 'crd', 'gateway']);
    checkRbac(objects, enabledProviders(objects));
  });

  it("the Gateway API provider's status addresses are the Service's", () => {
    const objects = manifests();
    const container = one(objects, 'Deployment').spec.template.spec.containers[0];
    const sc = loadStaticConfig({ argv: container.args, env: {}, cwd: os.tmpdir() });
    const service = one(objects, 'Service');
    expect(sc.providers.kubernetesGateway?.statusAddress?.service).toEqual({
      name: service.metadata.name,
      namespace: service.metadata.namespace,
    });
  });

  it('puts every namespaced object in the portico namespace', () => {
    const clusterScoped = [
      'Namespace',
      'ClusterRole',
      'ClusterRoleBinding',
      'IngressClass',
      'CustomResourceDefinition',
    ];
    for (const o of manifests()) {
      if (clusterScoped.includes(o.kind)) expect(o.metadata?.namespace, o.kind).toBeUndefined();
      else expect(o.metadata?.namespace, `${o.kind}/${o.metadata?.name}`).toBe('portico');
    }
  });
});

describe('the Helm chart', () => {
  it('Chart.yaml: apiVersion v2, appVersion is the package version', () => {
    const chart = readDocs(path.join(CHART_DIR, 'Chart.yaml'))[0] as any;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'portico', type: 'application' });
    expect(chart.appVersion).toBe(VERSION);
  });

  it('every .Values path the templates use exists in values.yaml', () => {
    const values = readDocs(path.join(CHART_DIR, 'values.yaml'))[0] as any;
    const templates = readdirSync(path.join(CHART_DIR, 'templates'));
    const missing: string[] = [];
    for (const t of templates) {
      const text = readFileSync(path.join(CHART_DIR, 'templates', t), 'utf8');
      for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        const keys = m[1]!.slice(1).split('.');
        let at: any = values;
        for (const k of keys) {
          // an empty map in values.yaml (service.spec, nodeSelector) takes any key
          if (at !== null && typeof at === 'object' && Object.keys(at).length === 0) break;
          if (at === null || typeof at !== 'object' || !(k in at)) {
            missing.push(`${t}: .Values.${keys.join('.')}`);
            break;
          }
          at = at[k];
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

const tools = await kubeTools();
const skipTools = 'unavailable' in tools;
if (skipTools) console.warn(`helm/kubectl checks skipped: ${tools.unavailable}`);

describe.skipIf(skipTools)('rendered by the real helm and kubectl', () => {
  const { helm, kubectl } = tools as KubeTools;
  const work = mkdtempSync(path.join(os.tmpdir(), 'portico-chart-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const render = async (values: object | null, namespace = 'edge'): Promise<KubeObject[]> => {
    const args = ['template', 'rel', CHART_DIR, '--namespace', namespace, '--include-crds'];
    if (values) {
      const file = path.join(work, `values-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, JSON.stringify(values));
      args.push('--values', file);
    }
    return parseDocs(await runTool(helm, args));
  };

  it('helm lint --strict passes', async () => {
    const out = await runTool(helm, ['lint', '--strict', CHART_DIR]);
    expect(out).toContain('0 chart(s) failed');
  });

  it('kubectl kustomize renders deploy/kubernetes as its files say', async () => {
    const rendered = parseDocs(await runTool(kubectl, ['kustomize', KUSTOMIZE_DIR]));
    const key = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
    expect(rendered.map(key).sort()).toEqual(manifests().map(key).sort());
    expect(await validateAll(rendered)).toEqual([]);
  });

  it('the default values render valid objects that run Portico as intended', async () => {
    const objects = await render(null);
    expect(await validateAll(objects)).toEqual([]);
    checkPortico(objects);
    // Traefik's chart's defaults: the Gateway API and ingress-nginx providers off, and not granted
    expect(enabledProviders(objects)).toEqual(['ingress', 'crd']);
    checkRbac(objects, ['ingress', 'crd']);
    expect(find(objects, 'GatewayClass')).toEqual([]);
    expect(find(objects, 'Gateway')).toEqual([]);
    expect(find(objects, 'CustomResourceDefinition')).toHaveLength(20);
    expect(one(objects, 'Deployment').spec.template.spec.containers[0].image).toBe(
      `portico:${VERSION}`,
    );
    expect(one(objects, 'IngressClass').spec.controller).toBe('portico.io/ingress-controller');
    expect(find(objects, 'PersistentVolumeClaim')).toEqual([]);
  });

  it('the chart and deploy/kubernetes grant the same rules for the same providers', async () => {
    const objects = await render({ providers: { kubernetesGateway: { enabled: true } } });
    expect(enabledProviders(objects)).toEqual(enabledProviders(manifests()));
    expect(one(objects, 'ClusterRole').rules).toEqual(one(manifests(), 'ClusterRole').rules);
    expect(one(objects, 'Role').rules).toEqual(one(manifests(), 'Role').rules);
  });

  // values as a Traefik chart user writes them (traefik/traefik-helm-chart's names)
  const traefikStyle = {
    image: { registry: 'registry.example', repository: 'edge/portico', tag: '9.9.9' },
    deployment: { replicas: 3, podAnnotations: { 'prometheus.io/scrape': 'true' } },
    ingressClass: {
      enabled: true,
      isDefaultClass: true,
      name: 'traefik',
      controller: 'traefik.io/ingress-controller',
    },
    providers: {
      kubernetesCRD: {
        allowCrossNamespace: true,
        allowExternalNameServices: true,
        namespaces: ['a', 'b'],
      },
      kubernetesIngress: {
        ingressClass: 'traefik',
        allowExternalNameServices: true,
        publishedService: { enabled: true, pathOverride: 'kube-system/edge-lb' },
      },
    },
    ports: { websecure: { http: { tls: { certResolver: 'le' } } } },
    additionalArguments: [
      '--certificatesResolvers.le.acme.email=ops@example.com',
      '--certificatesResolvers.le.acme.storage=/data/acme.json',
      '--certificatesResolvers.le.acme.tlsChallenge=true',
    ],
    env: [{ name: 'TZ', value: 'UTC' }],
    persistence: { enabled: true, size: '1Gi', storageClass: 'fast' },
    service: {
      annotations: { 'lb.example/internal': 'true' },
      spec: { type: 'NodePort', externalTrafficPolicy: 'Local' },
    },
    podDisruptionBudget: { enabled: true, minAvailable: 1 },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'edge', operator: 'Exists', effect: 'NoSchedule' }],
    log: { level: 'DEBUG' },
  };

  it('Traefik-style values render valid objects that say what the values say', async () => {
    const objects = await render(traefikStyle, 'kube-system');
    expect(await validateAll(objects)).toEqual([]);
    const deployment = one(objects, 'Deployment');
    const pod = deployment.spec.template.spec;
    const args = pod.containers[0].args as string[];
    expect(deployment.spec.replicas).toBe(3);
    expect(pod.containers[0].image).toBe('registry.example/edge/portico:9.9.9');
    expect(args).toEqual(
      expect.arrayContaining([
        '--providers.kubernetesCRD.allowCrossNamespace=true',
        '--providers.kubernetesCRD.namespaces=a,b',
        '--providers.kubernetesIngress.ingressClass=traefik',
        '--providers.kubernetesIngress.ingressEndpoint.publishedService=kube-system/edge-lb',
        '--entryPoints.websecure.http.tls.certResolver=le',
        '--certificatesResolvers.le.acme.storage=/data/acme.json',
        '--log.level=DEBUG',
      ]),
    );
    // Portico accepts the whole argument list
    const sc = loadStaticConfig({ argv: args, env: {}, cwd: os.tmpdir() });
    expect(staticWarnings(sc)).toEqual([]);
    expect(sc.providers.kubernetesCRD?.allowCrossNamespace).toBe(true);
    expect(sc.certificatesResolvers?.le).toBeDefined();

    const ingressClass = one(objects, 'IngressClass');
    expect(ingressClass.metadata.name).toBe('traefik');
    expect(ingressClass.spec.controller).toBe('traefik.io/ingress-controller');
    expect(ingressClass.metadata.annotations['ingressclass.kubernetes.io/is-default-class']).toBe(
      'true',
    );

    const pvc = one(objects, 'PersistentVolumeClaim');
    expect(pvc.spec).toMatchObject({
      storageClassName: 'fast',
      resources: { requests: { storage: '1Gi' } },
    });
    const data = pod.volumes.find((v: any) => v.name === 'data');
    expect(data.persistentVolumeClaim.claimName).toBe(pvc.metadata.name);

    const service = one(objects, 'Service');
    expect(service.spec.type).toBe('NodePort');
    expect(service.spec.externalTrafficPolicy).toBe('Local');
    expect(service.metadata.annotations).toEqual({ 'lb.example/internal': 'true' });
    expect(one(objects, 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: 1 });
    expect(one(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBeUndefined();
    expect(pod.containers[0].env.map((e: any) => e.name)).toEqual([
      'POD_NAME',
      'POD_NAMESPACE',
      'TZ',
    ]);
  });

  it("values Traefik's values.yaml leaves null fall back to the chart's defaults", async () => {
    const objects = await render({
      image: { registry: null, repository: null, tag: null },
      log: { format: null },
      providers: { kubernetesIngress: { ingressClass: null, labelSelector: null } },
      persistence: { storageClass: null },
      podDisruptionBudget: { maxUnavailable: null, minAvailable: null },
      ports: { web: { targetPort: null, nodePort: null } },
    });
    expect(await validateAll(objects)).toEqual([]);
    checkPortico(objects);
    expect(one(objects, 'Deployment').spec.template.spec.containers[0].image).toBe(
      `portico:${VERSION}`,
    );
    expect(one(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  });

  // Traefik's chart's values for the two providers of issue 15, as its values.yaml writes
  // them (chart 41.3.0), with what a user typically sets
  const issue15Values = {
    providers: {
      kubernetesGateway: {
        enabled: true,
        crossProviderNamespaces: [],
        experimentalChannel: true,
        namespaces: ['apps', 'edge'],
        labelSelector: 'team=edge',
        nativeLBByDefault: true,
        qps: null,
        burst: null,
        statusAddress: {
          ip: '',
          hostname: '',
          service: { enabled: true, name: '', namespace: '' },
        },
      },
      kubernetesIngressNGINX: {
        enabled: true,
        controllerClass: 'k8s.io/ingress-nginx',
        ingressClass: 'nginx',
        ingressClassByName: true,
        watchIngressWithoutClass: true,
        watchNamespace: '',
        watchNamespaceSelector: '',
        publishService: { enabled: true, pathOverride: '' },
        publishStatusAddress: '',
        defaultBackendService: 'edge/fallback',
        disableSvcExternalName: false,
        throttleDuration: '2s',
        certAuthFilePath: '',
        endpoint: '',
        token: '',
        proxyRequestBuffering: null,
        clientBodyBufferSize: null,
        proxyBodySize: 8388608,
        proxyBuffering: null,
        proxyBufferSize: null,
        proxyBuffersNumber: null,
        proxyConnectTimeout: null,
        proxyReadTimeout: 120,
        proxySendTimeout: null,
        proxyNextUpstream: '',
        proxyNextUpstreamTries: null,
        proxyNextUpstreamTimeout: null,
        customHTTPErrors: [],
        upstreamKeepaliveTimeout: null,
        allowCrossNamespaceResources: null,
        globalAllowedResponseHeaders: [],
        globalAuthUrl: '',
        ipAllowListStrategy: { depth: 0, excludedIPS: [], ipv6Subnet: 0 },
        allowSnippetAnnotations: null,
        strictValidatePathType: null,
        httpEntryPoint: 'web',
        httpsEntryPoint: 'websecure',
        modsec: { enabled: false, owaspCoreRules: false, snippet: '' },
      },
    },
  };

  it("the Gateway API and ingress-nginx providers render Traefik's chart's arguments, which Portico loads", async () => {
    const objects = await render(issue15Values);
    expect(await validateAll(objects.filter((o) => !o.apiVersion.startsWith('gateway.')))).toEqual(
      [],
    );
    checkPortico(objects);
    const args = one(objects, 'Deployment').spec.template.spec.containers[0].args as string[];
    // the strings traefik/traefik-helm-chart's _podtemplate.tpl renders for these values
    expect(args).toEqual(
      expect.arrayContaining([
        '--providers.kubernetesgateway',
        '--providers.kubernetesgateway.statusaddress.service.name=rel-portico',
        '--providers.kubernetesgateway.statusaddress.service.namespace=edge',
        '--providers.kubernetesgateway.nativeLBByDefault=true',
        '--providers.kubernetesgateway.namespaces=apps,edge',
        '--providers.kubernetesgateway.experimentalchannel=true',
        '--providers.kubernetesgateway.labelSelector=team=edge',
        '--providers.kubernetesingressnginx',
        '--providers.kubernetesingressnginx.publishservice=edge/rel-portico',
        '--providers.kubernetesingressnginx.controllerClass=k8s.io/ingress-nginx',
        '--providers.kubernetesingressnginx.ingressClass=nginx',
        '--providers.kubernetesingressnginx.ingressClassByName=true',
        '--providers.kubernetesingressnginx.watchIngressWithoutClass=true',
        '--providers.kubernetesingressnginx.defaultBackendService=edge/fallback',
        '--providers.kubernetesingressnginx.disableSvcExternalName=false',
        '--providers.kubernetesingressnginx.throttleDuration=2s',
        '--providers.kubernetesingressnginx.proxyBodySize=8388608',
        '--providers.kubernetesingressnginx.proxyReadTimeout=120',
        '--providers.kubernetesingressnginx.httpEntryPoint=web',
        '--providers.kubernetesingressnginx.httpsEntryPoint=websecure',
      ]),
    );
    // nulls, empty strings and empty lists render nothing (Traefik's yaml2CommandLineArgs)
    expect(args.filter((a) => /modsec|proxyBuffering|watchNamespace|=$/i.test(a))).toEqual([]);

    const sc = loadStaticConfig({ argv: args, env: {}, cwd: os.tmpdir() });
    expect(staticWarnings(sc)).toEqual([]);
    expect(sc.providers.kubernetesGateway).toMatchObject({
      experimentalChannel: true,
      namespaces: ['apps', 'edge'],
      labelSelector: 'team=edge',
      nativeLBByDefault: true,
      statusAddress: { service: { name: 'rel-portico', namespace: 'edge' } },
    });
    expect(sc.providers.kubernetesIngressNGINX).toMatchObject({
      ingressClass: 'nginx',
      controllerClass: 'k8s.io/ingress-nginx',
      ingressClassByName: true,
      watchIngressWithoutClass: true,
      publishService: 'edge/rel-portico',
      defaultBackendService: 'edge/fallback',
      httpEntryPoint: 'web',
      httpsEntryPoint: 'websecure',
    });
    // both providers read and write what they need, and nothing more
    expect(enabledProviders(objects)).toEqual(['ingress', 'crd', 'gateway', 'nginx']);
    checkRbac(objects, ['ingress', 'crd', 'gateway', 'nginx']);
  });

  it("the ingress-nginx provider alone needs no rule beyond the Ingress provider's", async () => {
    const objects = await render({
      providers: {
        kubernetesIngress: { enabled: false },
        kubernetesCRD: { enabled: false },
        kubernetesIngressNGINX: { enabled: true, publishService: { enabled: true } },
      },
    });
    expect(await validateAll(objects)).toEqual([]);
    expect(enabledProviders(objects)).toEqual(['nginx']);
    checkRbac(objects, ['nginx']);
  });

  /** The Gateway API's own schemas (@kubernetes-models/gateway-api), and only the fields they declare. */
  function validateGatewayObject(o: any): string[] {
    const Model = o.kind === 'Gateway' ? GatewayModel : GatewayClassModel;
    const errors: string[] = [];
    try {
      new Model(o).validate();
    } catch (err) {
      errors.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
    }
    // the generated models, like CRD schemas, let unknown fields through: check the ones we render
    const known: Record<string, string[]> = {
      '': ['apiVersion', 'kind', 'metadata', 'spec'],
      spec: ['gatewayClassName', 'controllerName', 'listeners', 'infrastructure', 'defaultScope'],
      listener: ['name', 'port', 'protocol', 'hostname', 'allowedRoutes', 'tls'],
      tls: ['mode', 'certificateRefs'],
    };
    const unknown = (at: string, obj: object, keys: string[]) =>
      Object.keys(obj)
        .filter((k) => !keys.includes(k))
        .forEach((k) => errors.push(`${o.kind}/${o.metadata.name}: ${at}.${k}: unknown field`));
    unknown('', o, known['']!);
    unknown('spec', o.spec, known.spec!);
    for (const l of o.spec.listeners ?? []) {
      unknown('listener', l, known.listener!);
      if (l.tls) unknown('tls', l.tls, known.tls!);
    }
    return errors;
  }

  it("creates a GatewayClass and a Gateway whose listeners are entrypoints, as Traefik's chart does", async () => {
    const objects = await render({
      providers: { kubernetesGateway: { enabled: true } },
      gateway: {
        listeners: {
          web: { port: 8000, protocol: 'HTTP', hostname: '', namespacePolicy: { from: 'All' } },
          websecure: {
            port: 8443,
            protocol: 'HTTPS',
            hostname: '*.example.com',
            certificateRefs: [{ kind: 'Secret', name: 'example-tls' }],
          },
        },
      },
    });
    const gatewayObjects = objects.filter((o) => o.apiVersion === 'gateway.networking.k8s.io/v1');
    expect(gatewayObjects.map((o) => o.kind).sort()).toEqual(['Gateway', 'GatewayClass']);
    expect(gatewayObjects.flatMap(validateGatewayObject)).toEqual([]);
    expect(await validateAll(objects.filter((o) => !gatewayObjects.includes(o)))).toEqual([]);

    const gatewayClass = one(objects, 'GatewayClass');
    const gateway = one(objects, 'Gateway');
    expect(gatewayClass.metadata.name).toBe('portico');
    expect(GATEWAY_CONTROLLERS).toContain(gatewayClass.spec.controllerName);
    expect(gatewayClass.spec.controllerName).toBe('portico.io/gateway-controller');
    expect(gateway.metadata).toMatchObject({ name: 'portico-gateway', namespace: 'edge' });
    expect(gateway.spec.gatewayClassName).toBe(gatewayClass.metadata.name);
    expect(gateway.spec.listeners).toEqual([
      { name: 'web', port: 8000, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
      {
        name: 'websecure',
        port: 8443,
        protocol: 'HTTPS',
        hostname: '*.example.com',
        tls: { certificateRefs: [{ kind: 'Secret', name: 'example-tls' }] },
      },
    ]);
    // each listener's port is an entrypoint's (Portico maps listeners to entrypoints by port)
    const args = one(objects, 'Deployment').spec.template.spec.containers[0].args as string[];
    const sc = loadStaticConfig({ argv: args, env: {}, cwd: os.tmpdir() });
    const ports = Object.values(sc.entryPoints).map((ep) => ep.port);
    for (const l of gateway.spec.listeners) expect(ports, l.name).toContain(l.port);
  });

  it("takes over Traefik's GatewayClass: name traefik, controller traefik.io/gateway-controller", async () => {
    const objects = await render({
      providers: { kubernetesGateway: { enabled: true } },
      gatewayClass: { name: 'traefik', controllerName: 'traefik.io/gateway-controller' },
      gateway: { name: 'traefik-gateway', namespace: 'apps', annotations: { a: 'b' } },
    });
    const gatewayClass = one(objects, 'GatewayClass');
    const gateway = one(objects, 'Gateway');
    expect([gatewayClass, gateway].flatMap(validateGatewayObject)).toEqual([]);
    expect(gatewayClass.spec.controllerName).toBe('traefik.io/gateway-controller');
    expect(GATEWAY_CONTROLLERS).toContain(gatewayClass.spec.controllerName);
    expect(gateway.metadata).toMatchObject({
      name: 'traefik-gateway',
      namespace: 'apps',
      annotations: { a: 'b' },
    });
    expect(gateway.spec.gatewayClassName).toBe('traefik');
    // Traefik's default: one HTTP listener on the web port
    expect(gateway.spec.listeners).toEqual([{ name: 'web', port: 8000, protocol: 'HTTP' }]);
  });

  it('gateway.enabled and gatewayClass.enabled turn them off; with the provider off neither is rendered', async () => {
    const off = await render({
      providers: { kubernetesGateway: { enabled: true } },
      gateway: { enabled: false },
      gatewayClass: { enabled: false },
    });
    expect(off.filter((o) => o.apiVersion.startsWith('gateway.'))).toEqual([]);
    const noProvider = await render({
      gateway: { enabled: true },
      gatewayClass: { enabled: true },
    });
    expect(noProvider.filter((o) => o.apiVersion.startsWith('gateway.'))).toEqual([]);
  });

  it.each([
    [
      { listeners: { web: { port: 9999, protocol: 'HTTP' } } },
      'port 9999 is not declared in ports',
    ],
    [{ listeners: { websecure: { port: 8443, protocol: 'HTTPS' } } }, 'certificateRefs'],
    // null removes the default web listener (Helm's way to delete a default key)
    [{ listeners: null }, 'at least one listener'],
  ])('refuses a Gateway Portico could not serve: %j', async (gateway, message) => {
    await expect(
      render({ providers: { kubernetesGateway: { enabled: true } }, gateway }),
    ).rejects.toThrow(message);
  });

  it.each([
    ['deployment.replicas=two', 'deployment.replicas: Invalid type'],
    ['ports.web.port=0', 'ports.web.port: Must be greater than or equal to 1'],
    ['log.level=LOUD', 'log.level: Does not match pattern'],
    ['service.type=Public', 'service.type: service.type must be one of'],
    // Portico refuses to start with it (IngressNightmare): refused before rendering
    [
      'providers.kubernetesIngressNGINX.allowSnippetAnnotations=true',
      'allowSnippetAnnotations: providers.kubernetesIngressNGINX.allowSnippetAnnotations must be one of',
    ],
    [
      'providers.kubernetesIngressNGINX.proxyBuffering=true',
      'providers.kubernetesIngressNGINX.proxyBuffering: Invalid type. Expected: null',
    ],
    [
      'gatewayClass.controllerName=example.com/other',
      'controllerName: gatewayClass.controllerName must be one of',
    ],
  ])('values.schema.json refuses --set %s', async (set, message) => {
    await expect(runTool(helm, ['template', 'rel', CHART_DIR, '--set', set])).rejects.toThrow(
      message,
    );
  });

  it('rbac, the IngressClass, the PDB and the Service can be turned off', async () => {
    const objects = await render({
      rbac: { enabled: false },
      ingressClass: { enabled: false },
      podDisruptionBudget: { enabled: false },
      service: { enabled: false },
      serviceAccount: { name: 'existing' },
    });
    expect(await validateAll(objects)).toEqual([]);
    const kinds = new Set(objects.map((o) => o.kind));
    expect([...kinds].sort()).toEqual(['CustomResourceDefinition', 'Deployment']);
    expect(one(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe('existing');
  });
});

describe('docs/deploy-kubernetes.md', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/deploy-kubernetes.md'), 'utf8');

  it("the extraObjects for Traefik's chart are valid and grant what Portico needs beyond it", async () => {
    const marker = doc.indexOf(
      '<!-- deploy-manifests.test.ts validates the objects of this block -->',
    );
    expect(marker).toBeGreaterThan(0);
    const block = /```yaml\n([\s\S]*?)```/.exec(doc.slice(marker))![1]!;
    // Traefik's chart renders the names through its templates; any name will do here
    const values = parseDocs(block.replace(/\{\{[^}]*\}\}/g, 'rel-traefik'))[0] as any;
    const objects = values.extraObjects as KubeObject[];
    expect(await validateAll(objects)).toEqual([]);
    const rules = one(objects, 'ClusterRole').rules as any[];
    expect(verbsFor(rules, 'networking.k8s.io', 'ingresses/status')).toEqual(['patch', 'update']);
    for (const def of CRD_RESOURCES.filter((d) => d.group === 'portico.io'))
      expect(verbsFor(rules, def.group, def.plural), def.plural).toEqual(['get', 'list', 'watch']);
    expect(verbsFor(rules, '', 'events')).toEqual(['create']);
    // Traefik's chart grants update on the Gateway API statuses; Portico writes merge patches
    for (const def of STATUS_WRITTEN.gateway)
      expect(verbsFor(rules, def.group, `${def.plural}/status`), def.plural).toEqual(['patch']);
    expect(one(objects, 'Role').rules).toEqual(one(manifests(), 'Role').rules);
    expect(values.versionOverride).toMatch(/^v3\./);
  });

  it('says how the checks get helm and kubectl: installed once, never fetched by the tests', () => {
    expect(doc).toContain('node .ci/kube-tools.mjs');
    expect(doc).not.toMatch(/cannot be fetched|fetched by the test/i);
  });

  it("the health check's working forms: PORTICO_PING=true or a configuration file, not flags", () => {
    const section = doc.slice(doc.indexOf('### Health check'));
    expect(section).toContain('PORTICO_PING=true');
    expect(section).toContain('/etc/portico/portico.yml');
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const comment = dockerfile.slice(0, dockerfile.indexOf('HEALTHCHECK '));
    expect(comment.slice(comment.lastIndexOf('EXPOSE'))).toContain('PORTICO_PING=true');
    expect(comment.slice(comment.lastIndexOf('EXPOSE'))).not.toMatch(/--ping or/);
  });

  it('the values table names every top-level value of the chart', () => {
    const values = readDocs(path.join(CHART_DIR, 'values.yaml'))[0] as object;
    const table = doc.slice(doc.indexOf('### Values'), doc.indexOf("### Portico's image"));
    for (const key of Object.keys(values)) expect(table, key).toContain(`\`${key}`);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  /** instructions with their continuation lines joined, comments dropped */
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
  const stages: { from: string; name?: string; ops: { op: string; args: string }[] }[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const [from, as, name] = ins.args.split(/\s+/);
      stages.push({ from: from!, name: as?.toUpperCase() === 'AS' ? name : undefined, ops: [] });
    } else stages.at(-1)?.ops.push(ins);
  }
  const runtime = stages.at(-1)!;
  const ops = (op: string) => runtime.ops.filter((i) => i.op === op).map((i) => i.args);

  it('is multi-stage on Node LTS slim, and the runtime stage installs production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const arg = instructions.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    expect(arg?.args).toMatch(/^NODE_IMAGE=node:(2[2-9]|[3-9]\d)-slim$/);
    expect(stages.map((s) => s.from)).toEqual(stages.map(() => '${NODE_IMAGE}'));
    const build = stages[0]!;
    expect(build.ops.some((i) => i.op === 'RUN' && /npm ci\b/.test(i.args))).toBe(true);
    expect(build.ops.some((i) => i.op === 'RUN' && /npm run build\b/.test(i.args))).toBe(true);
    const install = ops('RUN').find((r) => /npm ci\b/.test(r));
    expect(install).toMatch(/--omit=dev/);
    // `prepare` runs the TypeScript build, which needs the dev dependencies
    expect(install).toMatch(/--ignore-scripts/);
    expect(ops('COPY')).toContain(`--from=${build.name} /src/dist ./dist`);
  });

  it('runs as a numeric non-root user, exposes the ports, checks health with portico healthcheck', () => {
    const [user] = ops('USER');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
    expect(ops('EXPOSE').join(' ').split(/\s+/).sort()).toEqual(['443', '80', '8000', '8080']);
    expect(ops('HEALTHCHECK').join(' ')).toMatch(/CMD \["portico", "healthcheck"\]$/);
    expect(ops('ENTRYPOINT')).toEqual(['["portico"]']);
  });

  it('copies only what exists and what .dockerignore lets through', () => {
    const allowed = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = instructions
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) {
      expect(existsSync(path.join(ROOT, src)), src).toBe(true);
      expect(allowed, src).toContain(src);
    }
    // what Portico reads from its package at run time (src/kernel/package-info.ts users)
    expect(sources).toEqual(
      expect.arrayContaining(['package.json', 'dashboard', 'deploy/quickstart']),
    );
  });
});
