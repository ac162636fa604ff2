/*
 * The `portico` command: `run` (the default), `check`, `version`, `--help`.
 * Invalid static configuration is the one place that exits the process
 * itself: code 2, with a message naming the option and the reason.
 */
import path from 'node:path';
import { packageRoot, packageVersion } from './kernel/package-info.js';
import { loadStaticConfig, staticOptionsHelp } from './config/static.js';
import type { StaticConfig } from './config/static-types.js';
import { StaticConfigError } from './kernel/errors.js';
import {
  isClusterWorker,
  runPrimary,
  runSingle,
  runWorker,
  QUICKSTART_WHOAMI_PORT,
} from './runtime.js';
import { createLogger } from './observability/logger.js';
import { loadDynamicSources } from '../providers/file/index.js';
import {
  buildDockerConfig,
  createDockerClient,
  listContainers,
} from '../providers/docker/index.js';
import type { ProviderSnapshot } from './config/provider.js';
import { mergeSnapshots } from './config/aggregate.js';
import { compile } from './routing/compile.js';
import { StateRegistry } from './kernel/state.js';
import { ListenError } from './routing/router-server.js';
import { installCrashGuard } from './server/crash-guard.js';
import { h1ClientKind } from './proxy/h1-pool.js';
import { redactLabelValue, redactText } from './config/redact.js';
import { schemaCommand } from './config/schema/command.js';
import {
  ExplainError,
  explainApiUrl,
  formatExplain,
  parseExplainArgs,
  type ExplainResult,
} from './api/explain.js';

const VERSION = packageVersion();

const USAGE = `portico ${VERSION}: a container-native edge router and API gateway

Usage:
  portico [run] [options]      start the router
  portico --quickstart         start with the embedded quickstart: file provider on
                               deploy/quickstart/dynamic.yml and a demo upstream (whoami)
  portico check [options]      load the static and dynamic configuration, report every error, exit 1 if any
  portico check --docker       the same for the containers of a running Docker daemon (bad labels included)
  portico check --kubernetes [--manifests=PATH ...]
                               the same for the Ingresses and Traefik CRDs of a cluster (the API
                               server of providers.kubernetesIngress/kubernetesCRD, in-cluster or
                               KUBECONFIG), or of manifest files/directories, each object that
                               cannot be translated named with its field and reason
  portico migrate ingress-nginx [--manifests=PATH ...]
                               per nginx-class Ingress (of manifests, or of the cluster), which
                               nginx.ingress.kubernetes.io annotations Portico honours, approximates,
                               ignores or refuses: the report to read before switching
  portico explain URL [--method=GET] [--header='Name: value' ...] [--entryPoint=web]
                  [--api=http://127.0.0.1:8080] [--json]
                               which router of a running portico takes URL, and why the others
                               do not (exit 0 matched, 1 none, 2 usage, 3 API unreachable)
  portico healthcheck [options] GET /ping on the ping entrypoint of the same static
                               configuration (for Docker HEALTHCHECK); exit 0 healthy, 1 not
  portico schema --dynamic     print the JSON Schema of the dynamic configuration file (for editors)
  portico schema --static      the same for the static configuration file
  portico schema --crd         print Traefik's CRDs (traefik.io/v1alpha1) as Portico validates them, as YAML
  portico version              print the version
  portico --help               this text

Static options use Traefik's names, from a YAML file (--configFile), PORTICO_* variables
and flags (--entryPoints.web.address=:8000). Later sources win: file < env < flags.
`;

function loadOrExit(argv: string[]): StaticConfig {
  try {
    return loadStaticConfig({ argv, env: process.env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof StaticConfigError) {
      process.stderr.write(redactText(`portico: ${err.message}\n`));
      process.exit(2);
    }
    throw err;
  }
}

function quickstartConfig(sc: StaticConfig, argv: string[]): StaticConfig {
  if (!sc.quickstart) return sc;
  const hasFile =
    argv.some((a) => /^--providers\.file\./i.test(a)) || sc.providers.file !== undefined;
  if (!hasFile) {
    sc.providers.file = {
      filename: path.join(packageRoot(), 'deploy/quickstart/dynamic.yml'),
      watch: true,
    };
  }
  return sc;
}

async function check(argv: string[]): Promise<number> {
  // `--docker` reads the Docker provider's containers once (the daemon must be running)
  const wantDocker = argv.includes('--docker');
  // the Kubernetes code (and @kubernetes/client-node) is loaded only when asked for
  const k8s = argv.some((a) => a === '--kubernetes' || a.startsWith('--manifests'))
    ? await import('./runtime-kubernetes.js')
    : undefined;
  const kube = k8s ? k8s.kubernetesCheckArgs(argv) : { want: false, manifests: [], rest: argv };
  const rest = kube.rest.filter((a) => a !== '--docker');
  const extra: string[] = [];
  if (wantDocker && !rest.some((a) => /^--providers\.docker/i.test(a)))
    extra.push('--providers.docker.watch=false');
  // --kubernetes alone checks both providers with their defaults
  if (kube.want && !rest.some((a) => /^--providers\.kubernetes/i.test(a)))
    extra.push('--providers.kubernetesIngress=true', '--providers.kubernetesCRD=true');
  const sc = quickstartConfig(loadOrExit([...rest, ...extra]), rest);
  const snapshots: ProviderSnapshot[] = [];
  if (sc.providers.file) {
    snapshots.push(
      await loadDynamicSources({
        ...(sc.providers.file.filename ? { filename: sc.providers.file.filename } : {}),
        ...(sc.providers.file.directory ? { directory: sc.providers.file.directory } : {}),
      }),
    );
  }
  if (sc.providers.docker) {
    const docker = createDockerClient(sc.providers.docker);
    let containers;
    try {
      containers = await listContainers(docker);
    } catch (err) {
      process.stdout.write(`docker: cannot list containers: ${(err as Error).message}\n`);
      return 1;
    }
    const result = buildDockerConfig(containers, {
      exposedByDefault: sc.providers.docker.exposedByDefault,
      defaultRule: sc.providers.docker.defaultRule,
      allowEmptyServices: sc.providers.docker.allowEmptyServices,
      ...(sc.providers.docker.network ? { network: sc.providers.docker.network } : {}),
      ...(sc.providers.docker.constraints ? { constraints: sc.providers.docker.constraints } : {}),
    });
    for (const d of result.diagnostics) {
      process.stdout.write(
        redactText(
          `docker ${d.level}: container ${d.container}: label ${d.key}=${JSON.stringify(redactLabelValue(d.key, d.value))}: ${d.message}\n`,
        ),
      );
    }
    process.stdout.write(
      `docker: ${containers.length} containers, ${result.diagnostics.length} label diagnostics\n`,
    );
    // every error counts for the exit code; bad labels were printed above with their container, key and value
    snapshots.push({ provider: 'docker', config: result.config, errors: result.errors });
  }
  let kubeErrors = 0;
  if (kube.want) {
    const k = await k8s!.checkKubernetesProviders(sc, kube.manifests, (line) =>
      process.stdout.write(redactText(`${line}\n`)),
    );
    kubeErrors = k.errors;
    snapshots.push(...k.snapshots);
  }
  if (snapshots.length === 0) {
    process.stdout.write(
      'no provider configured: nothing to check beyond the static configuration (ok)\n',
    );
    return 0;
  }
  const merged = mergeSnapshots(snapshots);
  const state = new StateRegistry();
  state.begin();
  const logger = createLogger({ level: 'fatal', format: 'json' });
  const table = compile(merged.config, {
    entryPoints: sc.entryPoints,
    transportDefaults: sc.serversTransport,
    state,
    logger,
    errors: merged.errors,
  });
  state.closeAll();
  for (const e of table.errors) {
    if (e.kind === 'provider' && e.name === 'docker' && e.field?.includes(' label ')) continue;
    process.stdout.write(
      redactText(`${e.kind} ${e.name}${e.field ? ` (${e.field})` : ''}: ${e.message}\n`),
    );
  }
  process.stdout.write(
    `${table.routers.size} routers, ${table.services.size} services, ${table.middlewares.size} middlewares, ${table.errors.length} errors\n`,
  );
  return table.errors.length === 0 && kubeErrors === 0 ? 0 : 1;
}

/** `portico migrate ingress-nginx [--manifests=PATH ...] [options]` */
async function migrate(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (what !== 'ingress-nginx') {
    process.stderr.write('portico: usage: portico migrate ingress-nginx [--manifests=PATH ...]\n');
    return 2;
  }
  const { kubernetesCheckArgs, migrateIngressNginx } = await import('./runtime-kubernetes.js');
  const kube = kubernetesCheckArgs(rest);
  const sc = loadOrExit(kube.rest);
  return migrateIngressNginx(sc, kube.manifests, (text) => process.stdout.write(redactText(text)));
}

async function run(argv: string[]): Promise<void> {
  if (isClusterWorker()) {
    const sc = JSON.parse(process.env.__PORTICO_STATIC!) as StaticConfig;
    installCrashGuard({
      report: (err, count) =>
        process.stderr.write(
          redactText(
            `portico worker ${process.pid}: uncaught exception ${count}, still serving: ${err.stack ?? err.message}\n`,
          ),
        ),
      giveUp: (err) => {
        process.stderr.write(
          redactText(
            `portico worker ${process.pid}: fatal: too many uncaught exceptions, last: ${err.stack ?? err.message}\n`,
          ),
        );
        process.exit(1);
      },
    });
    await runWorker(sc);
    return;
  }
  let sc = quickstartConfig(loadOrExit(argv), argv);
  if (sc.quickstart && !sc.api) {
    // the quickstart shows the dashboard, on loopback only: the API has no auth in insecure mode
    sc = quickstartConfig(
      loadOrExit([
        ...argv,
        '--api.insecure=true',
        // naming one entrypoint drops the default one: name the ones in force too
        ...Object.values(sc.entryPoints).map((e) => `--entryPoints.${e.name}.address=${e.address}`),
        ...(sc.entryPoints.traefik ? [] : ['--entryPoints.traefik.address=127.0.0.1:8080']),
      ]),
      argv,
    );
  }
  const logger = createLogger(sc.log);
  installCrashGuard({
    harmless: (err) =>
      logger.warn(
        { err: err.message, code: (err as NodeJS.ErrnoException).code },
        'socket error outside a request',
      ),
    // one request's failure is not the process's: logged, and the others keep being served
    report: (err, count) =>
      logger.error({ err, uncaughtExceptions: count }, 'uncaught exception, still serving'),
    giveUp: (err) => {
      logger.fatal({ err }, 'too many uncaught exceptions, exiting');
      process.exit(1);
    },
  });
  let running;
  try {
    running = sc.workers > 0 ? await runPrimary(sc, logger) : await runSingle(sc, logger);
  } catch (err) {
    if (err instanceof ListenError || (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      logger.error({ err: (err as Error).message }, 'cannot start');
      process.stderr.write(redactText(`portico: ${(err as Error).message}\n`));
      process.exit(1);
    }
    throw err;
  }
  const web = Object.values(sc.entryPoints).map((e) => {
    const host = e.host === '' || e.host === '0.0.0.0' ? 'localhost' : e.host;
    // a UDP entrypoint has no URL; TCP ones speak HTTP, HTTPS and TCP alike
    return e.udp !== undefined
      ? `${e.name} → udp ${host}:${e.port}`
      : `${e.name} → http://${host}:${e.port}`;
  });
  const h1Client = h1ClientKind();
  logger.info({ entryPoints: web, h1Client }, 'portico started');
  if (h1Client === 'undici' && process.env.PORTICO_H1_CLIENT !== 'undici') {
    // docs/architecture.md "Node internals": this Node lacks the llhttp binding the fast client uses
    logger.warn(
      'the HTTP/1.1 upstream client runs on undici: this Node release has no usable llhttp binding (slower, same behaviour)',
    );
  }
  if (sc.quickstart) {
    const ep = Object.values(sc.entryPoints).find((e) => e.name !== 'traefik')!;
    const dash = sc.entryPoints.traefik;
    process.stdout.write(
      `\nPortico quickstart is running.\n` +
        `  demo route:    curl http://localhost:${ep.port}/whoami   (or http://whoami.localhost:${ep.port}/)\n` +
        (dash
          ? `  dashboard:     http://localhost:${dash.port}/dashboard/   (API: /api/overview)\n`
          : '') +
        `  demo upstream: http://127.0.0.1:${QUICKSTART_WHOAMI_PORT} (whoami)\n` +
        `  configuration: ${sc.providers.file?.filename ?? sc.providers.file?.directory} (edit it: changes are live)\n` +
        `  stop:          Ctrl-C\n\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    running.close().then(
      () => {
        logger.info('stopped');
        logger.flush?.();
        setTimeout(() => process.exit(0), 50).unref();
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** `portico explain`: asks a running portico's API (/api/explain) and prints the answer. */
async function explain(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseExplainArgs(argv);
  } catch (err) {
    if (!(err instanceof ExplainError)) throw err;
    process.stderr.write(`portico explain: ${err.message}\n${USAGE}`);
    return 2;
  }
  const url = explainApiUrl(args);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    process.stderr.write(
      `portico explain: cannot reach the API at ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}\n` +
        `  start portico with --api.insecure=true (the API then listens on :8080), or pass --api=<url of the API>\n`,
    );
    return 3;
  }
  const body = await res.text();
  if (res.status !== 200) {
    let message = body.trim();
    try {
      const parsed = JSON.parse(body) as { error?: string; message?: string };
      message = parsed.error ?? parsed.message ?? message;
    } catch {
      // not JSON: print the body as it is
    }
    process.stderr.write(`portico explain: the API at ${url} answered ${res.status}: ${message}\n`);
    // a 400 is about what was asked (a bad URL or entrypoint); anything else means no usable API
    return res.status === 400 ? 2 : 3;
  }
  let result: ExplainResult;
  try {
    result = JSON.parse(body) as ExplainResult;
  } catch {
    process.stderr.write(`portico explain: the API at ${url} did not answer JSON\n`);
    return 3;
  }
  process.stdout.write(args.json ? JSON.stringify(result, null, 2) + '\n' : formatExplain(result));
  return result.matched === null ? 1 : 0;
}

/**
 * Traefik's `healthcheck` command: read the same static configuration the router
 * runs with, find the ping entrypoint and ask it. A wildcard address is asked on
 * loopback. Exit 0 on 200, 1 otherwise (the body or error is printed).
 */
async function healthcheck(argv: string[]): Promise<number> {
  const sc = loadOrExit(argv);
  if (!sc.ping) {
    process.stderr.write('portico: healthcheck needs ping enabled (--ping=true)\n');
    return 1;
  }
  const ep = sc.entryPoints[sc.ping.entryPoint]!;
  const host =
    ep.host === '' || ep.host === '0.0.0.0' ? '127.0.0.1' : ep.host === '::' ? '::1' : ep.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${ep.port}/ping`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = (await res.text()).trim();
    process.stdout.write(`${url}: ${res.status} ${body}\n`);
    return res.status === 200 ? 0 : 1;
  } catch (err) {
    process.stdout.write(`${url}: ${(err as Error).message}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE + '\nStatic options:\n' + staticOptionsHelp + '\n');
    return;
  }
  if (first === 'version' || first === '--version') {
    process.stdout.write(`portico ${VERSION} (node ${process.version})\n`);
    return;
  }
  if (first === 'explain') {
    process.exitCode = await explain(rest);
    return;
  }
  if (first === 'check') {
    process.exitCode = await check(rest);
    return;
  }
  if (first === 'healthcheck') {
    process.exitCode = await healthcheck(rest);
    return;
  }
  if (first === 'migrate') {
    process.exitCode = await migrate(rest);
    return;
  }
  if (first === 'schema') {
    // `portico schema --dynamic | head`: a reader that stops early is not an error
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
    const out = schemaCommand(rest);
    process.stdout.write(out.stdout);
    process.stderr.write(out.stderr);
    process.exitCode = out.code;
    return;
  }
  await run(first === 'run' ? rest : argv);
}
