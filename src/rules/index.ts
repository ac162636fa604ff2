/*
 * Public entry point of the rule language: parse a Traefik v3 rule, compile it into a request
 * predicate, and derive the routing metadata (host index entries, default priority) from it.
 */

import { compileRule, ruleHosts, rulePriority, type Matcher } from './matchers.js';
import { parseRule } from './parser.js';

export { RuleSyntaxError } from '../kernel/errors.js';
export {
  MATCHER_NAMES,
  parseRule,
  type MatcherName,
  type RuleBinaryNode,
  type RuleMatcherNode,
  type RuleNode,
  type RuleNotNode,
} from './parser.js';
export {
  canonicalRuleHost,
  compileRule,
  ruleHosts,
  rulePriority,
  type MatchContext,
  type Matcher,
} from './matchers.js';

export interface BuiltRule {
  matcher: Matcher;
  /** Exact hosts for the router's host index, or null when the rule is not host-bound. */
  hosts: string[] | null;
  priority: number;
}

/** Parses and compiles in one step; throws RuleSyntaxError for an invalid rule. */
export function buildRule(rule: string): BuiltRule {
  const node = parseRule(rule);
  return { matcher: compileRule(node), hosts: ruleHosts(node), priority: rulePriority(rule) };
}
