/*
 * Kubernetes label selectors (`app=web,tier notin (cache),!canary`), as
 * k8s.io/apimachinery's labels.Parse reads them: Traefik parses a provider's
 * labelSelector with it before watching, and the API server reads the same
 * text from the `labelSelector` query parameter. Portico checks the syntax
 * when it loads the static configuration, so a typo stops start-up naming the
 * option instead of failing every list call; the parsed form also lets
 * Portico (and the tests' API server) filter objects with Kubernetes'
 * semantics.
 *
 * Grammar (apimachinery pkg/labels/selector.go):
 *   selector    = [ requirement { "," requirement } ]
 *   requirement = key | "!" key | key ("=" | "==" | "!=") [value]
 *               | key ("in" | "notin") "(" [value] { "," [value] } ")"
 *               | key (">" | "<") integer
 * Keys are qualified names ([DNS-subdomain "/"] name), values label values.
 */
import { PorticoError } from '../kernel/errors.js';

export type LabelOperator = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | '>' | '<';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** '=' and '!=': one value (may be ''); 'in'/'notin': at least one; '>'/'<': one integer */
  values: string[];
}

/** A selector that does not parse; `position` is the 0-based character offset. */
export class LabelSelectorError extends PorticoError {
  readonly position: number;
  constructor(message: string, position: number) {
    super('PORTICO_ERR_LABEL_SELECTOR', `${message} at position ${position}`);
    this.position = position;
    this.name = 'LabelSelectorError';
  }
}

// apimachinery's validation.IsQualifiedName / IsValidLabelValue / IsDNS1123Subdomain
const NAME = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** why `key` is not a label key (qualified name), or undefined */
function keyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))
      return 'its prefix must be a lower-case DNS subdomain (example.com/)';
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name))
    return 'a name is 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return undefined;
}

/** why `value` is not a label value, or undefined ('' is a value) */
function valueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME.test(value))
    return 'a value is at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return undefined;
}

interface Token {
  /** an identifier (key, value or keyword) or one of the operators and punctuation */
  kind: 'id' | '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '>' | '<' | 'end';
  text: string;
  position: number;
}

const SPECIAL = new Set(['!', '=', '(', ')', ',', '>', '<']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pair = text.slice(i, i + 2);
    if (pair === '!=' || pair === '==') {
      tokens.push({ kind: pair, text: pair, position: i });
      i += 2;
    } else if (SPECIAL.has(c)) {
      tokens.push({ kind: c as Token['kind'], text: c, position: i });
      i++;
    } else {
      const start = i;
      while (i < text.length && !SPECIAL.has(text[i]!) && !/\s/.test(text[i]!)) i++;
      tokens.push({ kind: 'id', text: text.slice(start, i), position: start });
    }
  }
  tokens.push({ kind: 'end', text: '', position: text.length });
  return tokens;
}

const shown = (t: Token): string => (t.kind === 'end' ? 'the end' : JSON.stringify(t.text));

/** Parses a label selector; '' (and blanks) select everything. Throws LabelSelectorError. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const tokens = tokenize(text);
  let at = 0;
  const peek = (): Token => tokens[at]!;
  const next = (): Token => tokens[at++]!;
  const fail = (message: string, t: Token): never => {
    throw new LabelSelectorError(message, t.position);
  };

  const key = (): string => {
    const t = next();
    if (t.kind !== 'id') fail(`expected a label key, found ${shown(t)}`, t);
    const problem = keyProblem(t.text);
    if (problem) fail(`invalid label key ${JSON.stringify(t.text)}: ${problem}`, t);
    return t.text;
  };
  const value = (t: Token): string => {
    const problem = valueProblem(t.text);
    if (problem) fail(`invalid label value ${JSON.stringify(t.text)}: ${problem}`, t);
    return t.text;
  };

  const requirement = (): LabelRequirement => {
    if (peek().kind === '!') {
      next();
      return { key: key(), operator: '!', values: [] };
    }
    const k = key();
    const op = next();
    if (op.kind === 'end' || op.kind === ',') {
      at--;
      return { key: k, operator: 'exists', values: [] };
    }
    if (op.kind === '=' || op.kind === '==' || op.kind === '!=') {
      // `app=` selects an empty value, as apimachinery's parseExactValue reads it
      const v = peek();
      if (v.kind === 'end' || v.kind === ',')
        return { key: k, operator: op.kind === '!=' ? '!=' : '=', values: [''] };
      next();
      if (v.kind !== 'id') fail(`expected a label value, found ${shown(v)}`, v);
      return { key: k, operator: op.kind === '!=' ? '!=' : '=', values: [value(v)] };
    }
    if (op.kind === '>' || op.kind === '<') {
      const v = next();
      if (v.kind !== 'id' || !/^[+-]?\d+$/.test(v.text))
        fail(`${op.kind} needs a whole number, found ${shown(v)}`, v);
      return { key: k, operator: op.kind, values: [v.text] };
    }
    if (op.kind === 'id' && (op.text === 'in' || op.text === 'notin')) {
      const open = next();
      if (open.kind !== '(') fail(`expected "(" after ${op.text}, found ${shown(open)}`, open);
      const values: string[] = [];
      if (peek().kind === ')') fail(`${op.text} needs at least one value`, next());
      for (;;) {
        const v = next();
        // `(a,,b)` and `(a,)` hold an empty value, as apimachinery reads them
        if (v.kind === ',' || v.kind === ')') {
          values.push('');
          if (v.kind === ')') break;
          continue;
        }
        if (v.kind !== 'id') fail(`expected a label value or ")", found ${shown(v)}`, v);
        values.push(value(v));
        const sep = next();
        if (sep.kind === ')') break;
        if (sep.kind !== ',') fail(`expected "," or ")", found ${shown(sep)}`, sep);
      }
      return { key: k, operator: op.text, values };
    }
    return fail(
      `unexpected ${shown(op)} after ${JSON.stringify(k)}; expected =, ==, !=, in, notin, > or <`,
      op,
    );
  };

  const requirements: LabelRequirement[] = [];
  if (peek().kind === 'end') return requirements;
  for (;;) {
    requirements.push(requirement());
    const sep = next();
    if (sep.kind === 'end') return requirements;
    if (sep.kind !== ',') fail(`unexpected ${shown(sep)}; requirements are separated by ","`, sep);
  }
}

/** Whether an object's labels satisfy every requirement (apimachinery's Requirement.Matches). */
export function matchesLabelSelector(
  requirements: readonly LabelRequirement[],
  labels: Readonly<Record<string, string>> = {},
): boolean {
  return requirements.every(({ key, operator, values }) => {
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const v = has ? labels[key]! : undefined;
    switch (operator) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case '=':
      case 'in':
        return has && values.includes(v!);
      // an object without the label satisfies != and notin
      case '!=':
      case 'notin':
        return !has || !values.includes(v!);
      case '>':
      case '<': {
        if (!has || !/^[+-]?\d+$/.test(v!)) return false;
        const n = Number(v);
        const bound = Number(values[0]);
        return operator === '>' ? n > bound : n < bound;
      }
    }
  });
}
