/*
 * Small helpers for configuration objects, shared by the providers, the
 * validator, the label decoder and the state registry.
 */

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Assigns without ever touching a prototype, whatever the key (`__proto__` included). */
export function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Stable JSON (object keys sorted): equal strings for structurally equal values, for identity keys. */
export function stableKey(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) => {
      if (isPlainObject(v)) {
        const sorted: Record<string, unknown> = {};
        for (const k of Object.keys(v).sort()) setKey(sorted, k, v[k]);
        return sorted;
      }
      return v;
    }) ?? 'null'
  );
}
