/*
 * The boolean compiler shared by HTTP and TCP rules (src/rules/compile-tree.ts): operator
 * semantics over a stand-in leaf ("this matcher call is true"), left-to-right order, stopping at
 * the first operand that decides, and chains too long to recurse over.
 */

import { describe, expect, it } from 'vitest';
import { compileRuleTree, flattenChain } from '../../src/rules/compile-tree.js';
import { parseRule, type RuleNode } from '../../src/rules/index.js';

/** A leaf that is true when its call text (`Path(/a)`) is among the facts, and logs its calls. */
function compile(rule: string, calls: string[] = []): (facts: Set<string>) => boolean {
  return compileRuleTree(parseRule(rule), (m) => {
    const text = `${m.name}(${m.args.join(',')})`;
    return (facts: Set<string>) => {
      calls.push(text);
      return facts.has(text);
    };
  });
}

describe('compileRuleTree', () => {
  it.each([
    ['Path(`/a`)', ['Path(/a)'], true],
    ['Path(`/a`)', [], false],
    ['!Path(`/a`)', [], true],
    ['Path(`/a`) && Method(`GET`)', ['Path(/a)'], false],
    ['Path(`/a`) && Method(`GET`)', ['Path(/a)', 'Method(GET)'], true],
    ['Path(`/a`) || Method(`GET`)', ['Method(GET)'], true],
    ['Path(`/a`) || Method(`GET`) || Path(`/c`)', ['Path(/c)'], true],
    ['Path(`/a`) && Path(`/b`) && Path(`/c`)', ['Path(/a)', 'Path(/b)'], false],
    ['Path(`/a`) && Path(`/b`) && Path(`/c`)', ['Path(/a)', 'Path(/b)', 'Path(/c)'], true],
    ['Path(`/a`) && (Path(`/b`) || !Path(`/c`))', ['Path(/a)'], true],
    ['!(Path(`/a`) || Path(`/b`))', ['Path(/b)'], false],
  ])('%s with %j is %s', (rule, facts, expected) => {
    expect(compile(rule)(new Set(facts))).toBe(expected);
  });

  it.each([
    ['Path(`/a`) || Path(`/b`) || Path(`/c`)', ['Path(/b)'], ['Path(/a)', 'Path(/b)']],
    ['Path(`/a`) && Path(`/b`) && Path(`/c`)', ['Path(/a)'], ['Path(/a)', 'Path(/b)']],
    ['Path(`/a`) || Path(`/b`)', ['Path(/a)'], ['Path(/a)']],
  ])('%s evaluates left to right and stops at the deciding operand', (rule, facts, evaluated) => {
    const calls: string[] = [];
    compile(rule, calls)(new Set(facts));
    expect(calls).toEqual(evaluated);
  });

  it('compiles and evaluates a chain of 20,000 operands without running out of stack', () => {
    const rule = Array.from({ length: 20_000 }, (_, i) => `Path(\`/p${i}\`)`).join(' || ');
    expect(compile(rule)(new Set(['Path(/p19999)']))).toBe(true);
    expect(compile(rule)(new Set())).toBe(false);
  });
});

describe('flattenChain', () => {
  it('lists the operands of one operator left to right and keeps other operators whole', () => {
    const node = parseRule('Path(`/a`) && (Path(`/b`) || Path(`/c`)) && !Path(`/d`)');
    const show = (n: RuleNode): string => (n.type === 'matcher' ? (n.args[0] ?? '') : n.type);
    expect(flattenChain(node, 'and').map(show)).toEqual(['/a', 'or', 'not']);
  });
});
