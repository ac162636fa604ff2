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
import type { ElementError } from '../../src/config/dynamic.js';
import { compileRe2, type GoRegexp } from '../../src/rules/regex.js';
import {
  buildContainer,
  type BuildContext,
  type Predicate,
  type Template,
  type TemplateModel,
} from './container.js';
import { merge, type Contribution } from './merge.js';
import {
  DEFAULT_PREFIXES,
  DEFAULT_RULE,
  normalizeName,
  PROVIDER,
  serviceNameOf,
  type ContainerInfo,
  type DockerBuildOptions,
  type DockerBuildResult,
  type LabelDiagnostic,
} from './model.js';

export {
  DEFAULT_PREFIXES,
  DEFAULT_RULE,
  normalizeName,
  serviceNameOf,
  type ContainerInfo,
  type ContainerNetwork,
  type ContainerPort,
  type DockerBuildOptions,
  type DockerBuildResult,
  type LabelDiagnostic,
} from './model.js';

/* ------------------------------------------------------- default rule template */

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

/* ------------------------------------------------------------------ build */

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

  const ctx: BuildContext = {
    containers,
    opts,
    prefixes,
    exposedByDefault,
    template,
    templateError,
    constraints,
  };
  const contributions: Contribution[] = [];
  for (const c of ordered) {
    const result = buildContainer(c, ctx);
    for (const d of result.diagnostics) {
      diagnostics.push(d);
      if (d.level === 'error') providerError(`${d.container} label ${d.key}`, d.message);
    }
    if (result.contribution) contributions.push(result.contribution);
  }

  const config = merge(contributions, errors);
  return { config, errors, diagnostics };
}
