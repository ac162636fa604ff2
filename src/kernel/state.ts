/*
 * State that must outlive a configuration swap when its element is unchanged:
 * health checkers, connection pools, passive-health records, round-robin
 * positions. Each compile acquires what it needs by key (element name plus a
 * hash of the config that shapes it); after the swap, whatever the new table
 * did not acquire is closed. Compiling is synchronous, so one generation at a
 * time is enough. Keys are built with stableKey (src/config/objects.ts).
 */

interface Entry {
  value: unknown;
  close: (() => void) | undefined;
}

export class StateRegistry {
  private entries = new Map<string, Entry>();
  private acquired: Set<string> | null = null;

  /** starts a compile generation */
  begin(): void {
    this.acquired = new Set();
  }

  acquire<T>(key: string, create: () => T, close?: (value: T) => void): T {
    this.acquired?.add(key);
    const existing = this.entries.get(key);
    if (existing !== undefined) return existing.value as T;
    const value = create();
    this.entries.set(key, { value, close: close ? () => close(value) : undefined });
    return value;
  }

  /** closes everything the finished generation did not acquire */
  commit(): void {
    const keep = this.acquired;
    this.acquired = null;
    if (keep === null) return;
    for (const [key, entry] of this.entries) {
      if (keep.has(key)) continue;
      this.entries.delete(key);
      try {
        entry.close?.();
      } catch {
        // closing is best effort: a failing close must not stop the others
      }
    }
  }

  closeAll(): void {
    this.acquired = new Set();
    this.commit();
  }

  get size(): number {
    return this.entries.size;
  }
}
