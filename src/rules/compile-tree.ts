/*
 * The boolean part of compiling a rule, shared by the HTTP and TCP rule languages (both parse
 * to parser.ts's NodeOf grammar, as Traefik builds both with pkg/rules.NewParser): `!`, `&&`
 * and `||` around leaves that each language compiles itself.
 */
import type { MatcherNodeOf, NodeOf } from './parser.js';

export type Predicate<C> = (ctx: C) => boolean;

/**
 * The operands of a chain of one operator, left to right (`a && b && c` → [a, b, c]). The
 * parser builds such chains as left-deep trees; they are walked with an explicit stack so a
 * rule of thousands of `||` does not recurse thousands deep.
 */
export function flattenChain<N extends string>(node: NodeOf<N>, type: 'and' | 'or'): NodeOf<N>[] {
  const out: NodeOf<N>[] = [];
  const pending: NodeOf<N>[] = [node];
  while (pending.length > 0) {
    const n = pending.pop() as NodeOf<N>;
    if (n.type === type) pending.push(n.right, n.left);
    else out.push(n);
  }
  return out;
}

/**
 * One predicate for a rule tree: `leaf` compiles each matcher call (and throws for a bad one),
 * operands are evaluated left to right and stop at the first that decides.
 */
export function compileRuleTree<N extends string, C>(
  node: NodeOf<N>,
  leaf: (matcher: MatcherNodeOf<N>) => Predicate<C>,
): Predicate<C> {
  switch (node.type) {
    case 'matcher':
      return leaf(node);
    case 'not': {
      const inner = compileRuleTree(node.operand, leaf);
      return (ctx) => !inner(ctx);
    }
    case 'and':
    case 'or': {
      const parts = flattenChain(node, node.type).map((n) => compileRuleTree(n, leaf));
      // the common two-operand case without a loop (request path)
      if (parts.length === 2) {
        const [a, b] = parts as [Predicate<C>, Predicate<C>];
        return node.type === 'and' ? (ctx) => a(ctx) && b(ctx) : (ctx) => a(ctx) || b(ctx);
      }
      if (node.type === 'and') {
        return (ctx) => {
          for (let i = 0; i < parts.length; i++) if (!(parts[i] as Predicate<C>)(ctx)) return false;
          return true;
        };
      }
      return (ctx) => {
        for (let i = 0; i < parts.length; i++) if ((parts[i] as Predicate<C>)(ctx)) return true;
        return false;
      };
    }
  }
}
