/*
 * explain's account of a rule: which part of it failed on a request, and on
 * what. The rule is judged node by node through the compiler's own matcher
 * builder (compileMatcherCall), so the verdict is what the compiled rule
 * decides; only the reason is added.
 */
import type { RequestContext } from '../kernel/context.js';
import { parseRule, type RuleMatcherNode, type RuleNode } from '../rules/index.js';
// the compiler's own leaf builder: each part of a rule is judged exactly as it is compiled
import { compileMatcherCall } from '../rules/matchers.js';

function quote(arg: string): string {
  return arg.includes('`') ? JSON.stringify(arg) : '`' + arg + '`';
}

/** The rule text of a node, parenthesised where the operators' precedence needs it. */
export function renderRuleNode(node: RuleNode, parent?: RuleNode['type']): string {
  switch (node.type) {
    case 'matcher':
      return `${node.name}(${node.args.map(quote).join(', ')})`;
    case 'not':
      return '!' + renderRuleNode(node.operand, 'not');
    case 'and':
    case 'or': {
      const op = node.type === 'and' ? ' && ' : ' || ';
      const text = operands(node)
        .map((n) => renderRuleNode(n, node.type))
        .join(op);
      return parent === undefined || parent === node.type ? text : `(${text})`;
    }
  }
}

/** a && b && c parses left-deep: flatten it, as compileRule does, to evaluate in order. */
function operands(node: RuleNode): RuleNode[] {
  if (node.type !== 'and' && node.type !== 'or') return [node];
  const out: RuleNode[] = [];
  const pending: RuleNode[] = [node];
  while (pending.length > 0) {
    const n = pending.pop()!;
    if (n.type === node.type) pending.push(n.right, n.left);
    else out.push(n);
  }
  return out;
}

function headerSubject(name: string, ctx: RequestContext): string {
  const v = ctx.headers[name.toLowerCase()];
  if (v === undefined) return `header ${name} (absent)`;
  return `header ${name}: ${Array.isArray(v) ? v.join(' | ') : v}`;
}

function querySubject(key: string, ctx: RequestContext): string {
  const values = ctx.query().getAll(key);
  if (values.length === 0) return `query ${ctx.rawQuery === '' ? '(empty)' : ctx.rawQuery}`;
  return `query ${values.map((v) => `${key}=${v}`).join('&')}`;
}

/** What the matcher looked at, in the words of the explanation. */
function subject(node: RuleMatcherNode, ctx: RequestContext): string {
  switch (node.name) {
    case 'Host':
    case 'HostRegexp':
      return ctx.host === '' ? 'an empty host' : `host ${ctx.host}`;
    case 'Path':
    case 'PathPrefix':
    case 'PathRegexp':
      return `path ${ctx.path}`;
    case 'Method':
      return ctx.method;
    case 'Header':
    case 'HeaderRegexp':
      return headerSubject(node.args[0] ?? '', ctx);
    case 'Query':
    case 'QueryRegexp':
      return querySubject(node.args[0] ?? '', ctx);
    case 'ClientIP':
      return ctx.clientIp === '' ? 'client IP (none given)' : `client IP ${ctx.clientIp}`;
  }
}

export interface Verdict {
  ok: boolean;
  why: string;
}

/**
 * Evaluates a rule node by node with the compiler's matcher builder, short-circuiting like
 * the compiled rule, and keeps the reason: for `&&` the first part that failed, for `||`
 * every part (all failed) or the first that held, for `!` the verdict it inverted.
 */
function judge(node: RuleNode, ctx: RequestContext): Verdict {
  switch (node.type) {
    case 'matcher': {
      const ok = compileMatcherCall(node.name, node.args, { position: node.position })(ctx);
      return {
        ok,
        why: `${renderRuleNode(node)} ${ok ? 'matched' : 'did not match'} ${subject(node, ctx)}`,
      };
    }
    case 'not': {
      const inner = judge(node.operand, ctx);
      return {
        ok: !inner.ok,
        why: `${renderRuleNode(node)} ${inner.ok ? 'failed' : 'held'}: ${inner.why}`,
      };
    }
    case 'and': {
      const held: string[] = [];
      for (const part of operands(node)) {
        const v = judge(part, ctx);
        if (!v.ok) return v;
        held.push(v.why);
      }
      return { ok: true, why: held.join(', ') };
    }
    case 'or': {
      const failed: string[] = [];
      for (const part of operands(node)) {
        const v = judge(part, ctx);
        if (v.ok) return v;
        failed.push(v.why);
      }
      return { ok: false, why: failed.join('; ') };
    }
  }
}

/** The verdict on `rule` for the request; undefined when there is no rule to judge. */
export function explainRule(rule: string, ctx: RequestContext): Verdict | undefined {
  try {
    return judge(parseRule(rule), ctx);
  } catch {
    // a rule in the table always parses; an internal router without a recorded rule has no AST
    return undefined;
  }
}
