/*
 * Small helpers shared by the compile steps (transports, service manager,
 * middleware builder, router manager): where a qualified name comes from,
 * the error that marks a reference cycle, and an error's text.
 */

/** `name@provider` → `provider` ('' when unqualified). */
export function providerOf(name: string): string {
  const at = name.lastIndexOf('@');
  return at === -1 ? '' : name.slice(at + 1);
}

/**
 * A service or middleware refers back to itself. Kept apart from other
 * failures: it is passed up unwrapped so every element on the loop reports
 * the same "cycle through" reason (Traefik's "recursion detected").
 */
export class CycleError extends Error {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
