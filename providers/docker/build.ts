/*
 * The Docker provider's pure half: container data in, dynamic configuration
 * out, no I/O (the event loop around dockerode lives next to it). It follows
 * Traefik's Docker provider (pkg/provider/docker/config.go, shared.go,
 * pkg/provider/configuration.go): filtering by `enable`, constraints, running
 * state and health; a default service and router per container; the default
 * rule from a template; servers addressed on the chosen network; containers
 * merged by name so replicas of one compose service share one service.
 *
 * Where Traefik drops a whole container on one bad label (and only logs it),
 * Portico reports each bad label (container, key, value, reason) and leaves out
 * only the element the label belongs to (issue 3).
 */
import type {
  DynamicConfig,
  ElementError,
  MiddlewareConfig,
  RouterConfig,
  ServerConfig,
  ServiceConfig,
} from '../../src/config/dynamic.js';
import { decodeLabels, parseLabelBool, type LabelIssue } from '../../src/config/labels.js';
import { stableKey } from '../../src/config/objects.js';
import { compileRe2, type GoRegexp } from '../../src/rules/regex.js';

/* ------------------------------------------------------------------ types */

export interface ContainerNetwork {
  /** network name as Docker reports it (compose prefixes the project: `myproj_proxy`) */
  name: string;
  /** NetworkSettings.Networks[name].IPAddress */
  ipAddress?: string;
  /** NetworkSettings.Networks[name].GlobalIPv6Address, used when there is no IPv4 */
  ipv6Address?: string;
}

export interface ContainerPort {
  /** container-side port */
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** published binding, when any */
  hostIp?: string;
  hostPort?: number;
}

/** What the provider needs of one container (`docker inspect`), as plain data. */
export interface ContainerInfo {
  id: string;
  /** container name, with or without Docker's leading `/` */
  name: string;
  /** Config.Labels, compose labels (`com.docker.compose.project`/`.service`) included */
  labels: Record<string, string>;
  /** State.Status (`running`, `exited`, `paused`, `created`, ...) and State.Health.Status */
  state: { status: string; health?: string };
  /** HostConfig.NetworkMode: `bridge`, `host`, `container:<id|name>`, a network name */
  networkMode?: string;
  /** NetworkSettings.Networks, in Docker's order */
  networks: ContainerNetwork[];
  /** exposed ports (NetworkSettings.Ports keys), with their bindings when published */
  ports: ContainerPort[];
  /** Config.StopSignal (e.g. SIGQUIT for nginx images): a kill with it means the container is stopping */
  stopSignal?: string;
}

export interface DockerBuildOptions {
  /** expose containers without an `enable` label (default true) */
  exposedByDefault?: boolean;
  /** default ``Host(`{{ normalize .Name }}`)`` */
  defaultRule?: string;
  /** default network to reach containers on; label `docker.network` overrides */
  network?: string;
  /** ``Label(`k`,`v`)``, ``LabelRegex(`k`,`re`)``, `!`, `&&`, `||`, parentheses */
  constraints?: string;
  /** keep services of unhealthy or starting containers with no servers (503 rather than 404) */
  allowEmptyServices?: boolean;
  /** label roots in precedence order (default `['portico', 'traefik']`) */
  prefixes?: readonly string[];
}

export interface LabelDiagnostic {
  /** container name, without the leading `/` */
  container: string;
  key: string;
  value: string;
  message: string;
  level: 'error' | 'warning';
}

export interface DockerBuildResult {
  /** unqualified names; references kept as written */
  config: DynamicConfig;
  errors: ElementError[];
  diagnostics: LabelDiagnostic[];
}

export const DEFAULT_RULE = 'Host(`{{ normalize .Name }}`)';
export const DEFAULT_PREFIXES: readonly string[] = ['portico', 'traefik'];
const PROVIDER = 'docker';
const COMPOSE_PROJECT = 'com.docker.compose.project';
const COMPOSE_SERVICE = 'com.docker.compose.service';

/* ---------------------------------------------------------------- naming */

/** Traefik's `normalize`: every run of characters that are not letters or digits becomes `-`. */
export function normalizeName(name: string): string {
  return name
    .split(/[^\p{L}\p{N}]+/u)
    .filter((s) => s !== '')
    .join('-');
}

function containerName(c: ContainerInfo): string {
  return c.name.replace(/^\//, '');
}

/** `<service>_<project>` for compose containers (so replicas share it), else the container name. */
export function serviceNameOf(c: ContainerInfo): string {
  const project = c.labels[COMPOSE_PROJECT];
  const service = c.labels[COMPOSE_SERVICE];
  const base = project && service ? `${service}_${project}` : containerName(c);
  return normalizeName(base);
}

/* ------------------------------------------------------- default rule template */

interface TemplateModel {
  Name: string;
  ContainerName: string;
  Labels: Record<string, string>;
}

type Template = (model: TemplateModel) => string;

const FUNCS: Record<string, (s: string) => string> = {
  normalize: normalizeName,
  lower: (s) => s.toLowerCase(),
  upper: (s) => s.toUpperCase(),
  trim: (s) => s.trim(),
};

/**
 * Compiles the subset of Go templates a default rule needs: `{{ .Name }}`,
 * `{{ .ContainerName }}`, `{{ .Labels.key }}`, `{{ index .Labels "a.b" }}`,
 * the functions normalize/lower/upper/trim, applied directly or through `|`.
 * Anything else is an error rather than a silently wrong rule.
 */
export function compileRuleTemplate(source: string): Template {
  const parts: (string | ((m: TemplateModel) => string))[] = [];
  let rest = source;
  while (rest !== '') {
    const open = rest.indexOf('{{');
    if (open < 0) {
      if (rest.includes('}}')) throw new Error('unexpected "}}"');
      parts.push(rest);
      break;
    }
    parts.push(rest.slice(0, open));
    const close = rest.indexOf('}}', open);
    if (close < 0) throw new Error('unclosed action "{{"');
    const action = rest
      .slice(open + 2, close)
      .replace(/^-\s|\s-$/g, '')
      .trim();
    parts.push(compileAction(action));
    rest = rest.slice(close + 2);
  }
  return (model) => parts.map((p) => (typeof p === 'string' ? p : p(model))).join('');
}

function tokenize(action: string): string[] {
  const tokens: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\||[^\s|"`]+)\s*/y;
  let pos = 0;
  while (pos < action.length) {
    re.lastIndex = pos;
    const m = re.exec(action);
    if (!m) throw new Error(`cannot read "{{ ${action} }}"`);
    tokens.push(m[1]!);
    pos = re.lastIndex;
  }
  return tokens;
}

function compileAction(action: string): (m: TemplateModel) => string {
  if (action === '') throw new Error('empty action "{{ }}"');
  const commands = splitPipe(tokenize(action));
  let fn: ((m: TemplateModel) => string) | undefined;
  for (const cmd of commands) {
    fn = compileCommand(cmd, fn, action);
  }
  return fn!;
}

function splitPipe(tokens: string[]): string[][] {
  const out: string[][] = [[]];
  for (const t of tokens) {
    if (t === '|') out.push([]);
    else out[out.length - 1]!.push(t);
  }
  return out;
}

function compileArg(token: string, action: string): (m: TemplateModel) => string {
  if (/^".*"$/s.test(token)) {
    const text = JSON.parse(token) as string;
    return () => text;
  }
  if (/^`.*`$/s.test(token)) {
    const text = token.slice(1, -1);
    return () => text;
  }
  if (token === '.Name') return (m) => m.Name;
  if (token === '.ContainerName') return (m) => m.ContainerName;
  const label = /^\.Labels\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(token);
  if (label) return (m) => m.Labels[label[1]!] ?? '';
  throw new Error(
    `unsupported "${token}" in "{{ ${action} }}": use .Name, .ContainerName, .Labels.key or index .Labels "key"`,
  );
}

function compileCommand(
  cmd: string[],
  piped: ((m: TemplateModel) => string) | undefined,
  action: string,
): (m: TemplateModel) => string {
  const [head, ...args] = cmd;
  if (head === undefined) throw new Error(`empty command in "{{ ${action} }}"`);
  if (head === 'index') {
    if (args.length !== 2 || args[0] !== '.Labels' || piped) {
      throw new Error(`index takes .Labels and a key in "{{ ${action} }}"`);
    }
    const key = compileArg(args[1]!, action);
    return (m) => m.Labels[key(m)] ?? '';
  }
  const func = FUNCS[head];
  if (func) {
    const argFns = args.map((a) => compileArg(a, action));
    const inputs = piped ? [...argFns, piped] : argFns;
    if (inputs.length !== 1) throw new Error(`${head} takes one argument in "{{ ${action} }}"`);
    const input = inputs[0]!;
    return (m) => func(input(m));
  }
  if (head.startsWith('.') || head.startsWith('"') || head.startsWith('`')) {
    if (args.length > 0 || piped) throw new Error(`unexpected arguments in "{{ ${action} }}"`);
    return compileArg(head, action);
  }
  throw new Error(
    `unsupported function "${head}" in "{{ ${action} }}" (supported: index, ${Object.keys(FUNCS).join(', ')})`,
  );
}

/* ------------------------------------------------------------ constraints */

type Predicate = (labels: Record<string, string>) => boolean;

/**
 * Parses a constraints expression as Traefik's (vulcand/predicate) grammar:
 * `Label(k, v)` (exact value; an absent label reads as ""), `LabelRegex(k, re)`
 * (unanchored match), `!`, `&&`, `||` and parentheses; arguments in backticks
 * or double quotes.
 */
export function parseConstraints(expr: string): Predicate {
  const tokens: string[] = [];
  const re = /\s*(&&|\|\||!|\(|\)|,|`[^`]*`|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*)/y;
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(expr);
    if (!m) throw new Error(`unexpected "${expr.slice(pos).trim().slice(0, 20)}" at ${pos}`);
    tokens.push(m[1]!);
    pos = re.lastIndex;
  }
  let i = 0;
  const peek = () => tokens[i];
  const expect = (t: string) => {
    if (tokens[i] !== t)
      throw new Error(`expected "${t}", got ${tokens[i] ? `"${tokens[i]}"` : 'the end'}`);
    i++;
  };
  const str = (): string => {
    const t = tokens[i++];
    if (t === undefined) throw new Error('expected a quoted string, got the end');
    if (t.startsWith('`')) return t.slice(1, -1);
    if (t.startsWith('"')) return JSON.parse(t) as string;
    throw new Error(`expected a quoted string, got "${t}"`);
  };
  const or = (): Predicate => {
    let left = and();
    while (peek() === '||') {
      i++;
      const l = left;
      const r = and();
      left = (labels) => l(labels) || r(labels);
    }
    return left;
  };
  const and = (): Predicate => {
    let left = not();
    while (peek() === '&&') {
      i++;
      const l = left;
      const r = not();
      left = (labels) => l(labels) && r(labels);
    }
    return left;
  };
  const not = (): Predicate => {
    if (peek() === '!') {
      i++;
      const inner = not();
      return (labels) => !inner(labels);
    }
    return atom();
  };
  const atom = (): Predicate => {
    const t = tokens[i++];
    if (t === '(') {
      const inner = or();
      expect(')');
      return inner;
    }
    if (t === 'Label' || t === 'LabelRegex') {
      expect('(');
      const key = str();
      expect(',');
      const value = str();
      expect(')');
      if (t === 'Label') return (labels) => (labels[key] ?? '') === value;
      // Go's regexp in Traefik; RE2 here too, linear in the (container-chosen) label value
      let regex: GoRegexp;
      try {
        regex = compileRe2(value);
      } catch (err) {
        throw new Error(`invalid regular expression in LabelRegex: ${(err as Error).message}`, {
          cause: err,
        });
      }
      return (labels) => regex.test(labels[key] ?? '');
    }
    throw new Error(
      t === undefined
        ? 'unexpected end of expression'
        : `unexpected "${t}", expected Label, LabelRegex, ! or (`,
    );
  };
  if (tokens.length === 0) return () => true;
  const predicate = or();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]}"`);
  return predicate;
}

/* ---------------------------------------------------------------- address */

function pickAddress(
  c: ContainerInfo,
  network: string | undefined,
  all: readonly ContainerInfo[],
  warn: (message: string) => void,
  depth = 0,
): string | undefined {
  const addrOf = (n: ContainerNetwork) => n.ipAddress || n.ipv6Address || undefined;
  if (network) {
    const chosen = c.networks.find((n) => n.name === network);
    if (chosen && addrOf(chosen)) return addrOf(chosen);
    if (!chosen && c.networks.length > 0) {
      warn(
        `network "${network}" not found on the container (it has: ${c.networks.map((n) => n.name).join(', ')}); maybe the compose project prefix is missing; using the first network`,
      );
    }
  }
  const mode = c.networkMode ?? '';
  if (mode === 'host') return '127.0.0.1';
  if (mode.startsWith('container:') && depth < 3) {
    const ref = mode.slice('container:'.length);
    const target = all.find(
      (o) => o.id === ref || o.id.startsWith(ref) || containerName(o) === ref,
    );
    if (!target) {
      warn(`shares the network of container "${ref}", which is not in the list`);
      return undefined;
    }
    return pickAddress(target, network, all, warn, depth + 1);
  }
  for (const n of c.networks) {
    const addr = addrOf(n);
    if (addr) return addr;
  }
  return undefined;
}

/** Label port, else the only or lowest exposed TCP port (UDP ports cannot serve HTTP). */
function pickPort(c: ContainerInfo): number | undefined {
  const tcp = c.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port);
  return tcp.length > 0 ? Math.min(...tcp) : undefined;
}

/* ------------------------------------------------------------------ build */

interface Contribution {
  container: string;
  routers: Record<string, RouterConfig>;
  services: Record<string, ServiceConfig>;
  middlewares: Record<string, MiddlewareConfig>;
}

/**
 * Translates containers into the Docker provider's dynamic configuration.
 * Pure: the same containers and options always give the same result.
 */
export function buildDockerConfig(
  containers: readonly ContainerInfo[],
  opts: DockerBuildOptions = {},
): DockerBuildResult {
  const exposedByDefault = opts.exposedByDefault ?? true;
  const prefixes = opts.prefixes ?? DEFAULT_PREFIXES;
  const errors: ElementError[] = [];
  const diagnostics: LabelDiagnostic[] = [];
  const providerError = (field: string, message: string) =>
    errors.push({ kind: 'provider', name: PROVIDER, field, message });

  let template: Template | undefined;
  let templateError: string | undefined;
  try {
    template = compileRuleTemplate(opts.defaultRule ?? DEFAULT_RULE);
  } catch (err) {
    templateError = `invalid defaultRule template: ${(err as Error).message}`;
    providerError('defaultRule', templateError);
  }

  let constraints: Predicate | undefined;
  if (opts.constraints && opts.constraints.trim() !== '') {
    try {
      constraints = parseConstraints(opts.constraints);
    } catch (err) {
      // as Traefik: a constraints error keeps every container out
      constraints = () => false;
      providerError('constraints', `invalid constraints expression: ${(err as Error).message}`);
    }
  }

  // Traefik merges per-container configs in the order of `<name>-<id>`
  const ordered = [...containers].sort((a, b) => {
    const ka = `${serviceNameOf(a)}-${a.id}`;
    const kb = `${serviceNameOf(b)}-${b.id}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });

  const contributions: Contribution[] = [];
  for (const c of ordered) {
    const contribution = buildContainer(c);
    if (contribution) contributions.push(contribution);
  }

  const config = merge(contributions, errors);
  return { config, errors, diagnostics };

  function buildContainer(c: ContainerInfo): Contribution | undefined {
    const cname = containerName(c);
    const pending: LabelDiagnostic[] = [];
    const diag = (key: string, value: string, message: string, level: 'error' | 'warning') =>
      pending.push({ container: cname, key, value, message, level });
    const flush = () => {
      for (const d of pending) {
        diagnostics.push(d);
        if (d.level === 'error') {
          providerError(`${d.container} label ${d.key}`, d.message);
        }
      }
    };

    const decoded = decodeLabels(c.labels, {
      prefixes,
      providerKeys: ['enable', 'docker'],
      serversTransports: false,
    });
    const prefix = decoded.prefix ?? prefixes[0] ?? 'traefik';

    let enable = exposedByDefault;
    const enableLabel = decoded.extra['enable'];
    if (enableLabel) {
      const b = parseLabelBool(enableLabel.value);
      if (b === undefined) {
        diag(
          enableLabel.key,
          enableLabel.value,
          'expected true or false; the container is left out until this is fixed',
          'error',
        );
        flush();
        return undefined;
      }
      enable = b;
    }
    if (!enable) return undefined;
    if (constraints && !constraints(c.labels)) return undefined;

    let network = opts.network;
    let allowNonRunning = false;
    for (const [path, { key, value }] of Object.entries(decoded.extra)) {
      if (path === 'enable') continue;
      if (path === 'docker.network') network = value;
      else if (path === 'docker.allownonrunning') {
        const b = parseLabelBool(value);
        if (b === undefined) diag(key, value, `expected true or false, got "${value}"`, 'error');
        else allowNonRunning = b;
      } else {
        diag(key, value, 'unknown label; known: docker.network, docker.allownonrunning', 'error');
      }
    }

    const running = c.state.status === 'running';
    const ownLabels = Object.keys(c.labels).filter((k) => {
      const lower = k.toLowerCase();
      return prefixes.some((p) => lower.startsWith(p.toLowerCase() + '.'));
    });
    // allowEmptyServices: a *labelled* service whose containers are all stopped answers 503, not 404
    // (an unlabelled stopped container stays out even with exposedByDefault)
    const keepStopped = opts.allowEmptyServices === true && ownLabels.length > 0;
    if (!running && !allowNonRunning && !keepStopped) return undefined;
    const health = c.state.health ?? '';
    const healthy = health === '' || health === 'none' || health === 'healthy';
    // Traefik keeps a container with a health check out until it is healthy (starting included)
    if (!healthy && !opts.allowEmptyServices) return undefined;
    const serveTraffic = running && healthy;

    for (const issue of decoded.issues) reportIssue(issue);

    const serviceName = serviceNameOf(c);
    const routers: Record<string, RouterConfig> = {};
    const services: Record<string, ServiceConfig> = {};
    const middlewares: Record<string, MiddlewareConfig> = { ...decoded.http.middlewares };

    // services: the labelled ones, or a default one named after the container
    const declaredServices = decoded.declared.service;
    const labelServices = Object.entries(decoded.http.services);
    // like Traefik: a container that only has tcp/udp labels gets no invented HTTP router or service
    const onlyOtherProtocols =
      ownLabels.length > 0 &&
      ownLabels.every((k) => /^[^.]+\.(tcp|udp|enable|docker)\b/i.test(k)) &&
      ownLabels.some((k) => /^[^.]+\.(tcp|udp)\./i.test(k));
    if (onlyOtherProtocols) {
      flush();
      return undefined;
    }
    if (declaredServices.length === 0) labelServices.push([serviceName, { loadBalancer: {} }]);
    for (const [name, svc] of labelServices) {
      const built = buildService(name, svc as Record<string, unknown>);
      if (built) services[name] = built;
    }

    // routers: the labelled ones, or a default one when the service is unambiguous
    const allServiceNames = declaredServices.length > 0 ? declaredServices : [serviceName];
    const labelRouters = Object.entries(decoded.http.routers);
    if (decoded.declared.router.length === 0) {
      if (allServiceNames.length > 1) {
        diag(
          `${prefix}.http.routers`,
          '',
          `no default router: the container defines ${allServiceNames.length} services (${allServiceNames.join(', ')}); add a router label naming one`,
          'warning',
        );
      } else labelRouters.push([serviceName, {}]);
    }
    for (const [name, r] of labelRouters) {
      const router: Record<string, unknown> = { ...r };
      if (router.rule === undefined || router.rule === '') {
        const ruleKey = `${prefix}.http.routers.${name}.rule`;
        if (!template) {
          diag(
            ruleKey,
            '',
            `no rule, and the default rule cannot be used: ${templateError}`,
            'error',
          );
          continue;
        }
        const rule = template({ Name: serviceName, ContainerName: cname, Labels: c.labels });
        if (rule === '') {
          diag(ruleKey, '', 'no rule, and the default rule renders empty', 'error');
          continue;
        }
        router.rule = rule;
      }
      if (router.service === undefined || router.service === '') {
        if (allServiceNames.length > 1) {
          diag(
            `${prefix}.http.routers.${name}.service`,
            '',
            `router cannot be linked automatically: the container defines ${allServiceNames.length} services (${allServiceNames.join(', ')}); name one`,
            'error',
          );
          continue;
        }
        router.service = allServiceNames[0]!;
      }
      // key order as in the file provider, for readable snapshots
      routers[name] = orderRouter(router);
    }

    flush();
    return { container: cname, routers, services, middlewares };

    function reportIssue(issue: LabelIssue) {
      diag(issue.key, issue.value, issue.message, issue.level);
    }

    function buildService(name: string, svc: Record<string, unknown>): ServiceConfig | undefined {
      const lb = svc.loadBalancer as Record<string, unknown> | undefined;
      if (!lb) return svc as ServiceConfig;
      const { server, servers, ...rest } = lb as {
        server?: Record<string, unknown>;
        servers?: Record<string, unknown>[];
      };
      const base = `${prefix}.http.services.${name}.loadbalancer`;
      const described = [...(server ? [server] : []), ...(servers ?? [])];
      if (described.length > 1) {
        diag(
          `${base}.servers`,
          '',
          'labels describe one server per container (loadbalancer.server.*); the container is the server',
          'error',
        );
        return undefined;
      }
      const s = described[0] ?? {};
      const out: ServiceConfig = { loadBalancer: { ...rest } };
      if (!serveTraffic) {
        out.loadBalancer!.servers = [];
        return out;
      }
      let url: string;
      if (typeof s.url === 'string') {
        if (s.port !== undefined || s.scheme !== undefined) {
          diag(
            `${base}.server.url`,
            s.url,
            'defining scheme or port is not allowed when url is defined',
            'error',
          );
          return undefined;
        }
        url = s.url;
      } else {
        const port = (s.port as number | undefined) ?? pickPort(c);
        if (port === undefined) {
          diag(
            `${base}.server.port`,
            '',
            'port is missing: the container exposes no TCP port; set this label',
            'error',
          );
          return undefined;
        }
        const warnings: string[] = [];
        const ip = pickAddress(c, network, containers, (m) => warnings.push(m));
        for (const w of warnings) {
          diag(
            network ? `${prefix}.docker.network` : `${base}.server.port`,
            network ?? '',
            w,
            'warning',
          );
        }
        if (!ip) {
          diag(
            `${base}.server.port`,
            String(s.port ?? ''),
            'no IP address found for the container on any network; the server is left out',
            'error',
          );
          return undefined;
        }
        const host = ip.includes(':') ? `[${ip}]` : ip;
        url = `${(s.scheme as string | undefined) ?? 'http'}://${host}:${port}`;
      }
      const entry: ServerConfig = { url };
      if (s.weight !== undefined) entry.weight = s.weight as number;
      if (s.preservePath !== undefined) entry.preservePath = s.preservePath as boolean;
      out.loadBalancer!.servers = [entry];
      return out;
    }
  }
}

const ROUTER_ORDER = [
  'entryPoints',
  'rule',
  'ruleSyntax',
  'priority',
  'middlewares',
  'service',
  'tls',
  'observability',
];

function orderRouter(router: Record<string, unknown>): RouterConfig {
  const out: Record<string, unknown> = {};
  for (const k of ROUTER_ORDER) if (router[k] !== undefined) out[k] = router[k];
  return out as unknown as RouterConfig;
}

/* ------------------------------------------------------------------ merge */

function merge(contributions: readonly Contribution[], errors: ElementError[]): DynamicConfig {
  const http = {
    routers: {} as Record<string, RouterConfig>,
    services: {} as Record<string, ServiceConfig>,
    middlewares: {} as Record<string, MiddlewareConfig>,
  };
  const kinds = [
    ['routers', 'router'],
    ['services', 'service'],
    ['middlewares', 'middleware'],
  ] as const;
  for (const [section, kind] of kinds) {
    const origins = new Map<string, { container: string; fingerprint: string }[]>();
    const conflicted = new Set<string>();
    for (const contribution of contributions) {
      for (const [name, value] of Object.entries(contribution[section])) {
        const fingerprint = stableKey(withoutServers(kind, value));
        const seen = origins.get(name);
        if (!seen) {
          origins.set(name, [{ container: contribution.container, fingerprint }]);
          (http[section] as Record<string, unknown>)[name] = structuredClone(value);
          continue;
        }
        seen.push({ container: contribution.container, fingerprint });
        if (seen[0]!.fingerprint !== fingerprint) {
          conflicted.add(name);
          continue;
        }
        if (kind === 'service') addServers(http.services[name]!, value as ServiceConfig);
      }
    }
    for (const name of conflicted) {
      delete (http[section] as Record<string, unknown>)[name];
      const first = origins.get(name)![0]!;
      const differing = origins
        .get(name)!
        .filter((o) => o.fingerprint !== first.fingerprint)
        .map((o) => `"${o.container}"`);
      const agreeing = origins
        .get(name)!
        .filter((o) => o.fingerprint === first.fingerprint)
        .map((o) => `"${o.container}"`);
      errors.push({
        kind,
        name: `${name}@${PROVIDER}`,
        message: `${kind} "${name}" is defined differently by containers ${agreeing.join(', ')} and ${differing.join(', ')}; it is left out until they agree`,
      });
    }
  }
  return { http };
}

/** Replicas differ only in their server: compare load balancers without servers (Traefik's Mergeable). */
function withoutServers(kind: string, value: unknown): unknown {
  if (kind !== 'service') return value;
  const svc = value as ServiceConfig;
  if (!svc.loadBalancer) return svc;
  const { servers: _servers, ...lb } = svc.loadBalancer;
  return { ...svc, loadBalancer: lb };
}

function addServers(target: ServiceConfig, from: ServiceConfig): void {
  const lb = target.loadBalancer;
  if (!lb || !from.loadBalancer?.servers) return;
  lb.servers ??= [];
  const known = new Set(lb.servers.map((s) => s.url));
  for (const s of from.loadBalancer.servers) {
    if (!known.has(s.url)) {
      lb.servers.push({ ...s });
      known.add(s.url);
    }
  }
}
