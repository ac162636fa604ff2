/*
 * What the service manager and the middleware builder share about the elements they build:
 * the API's view of each one (status, errors, users), marking one disabled with its reason,
 * and building every element so that those no router uses show their errors too (Traefik
 * reports every configured service and middleware, used or not).
 */
import type { ElementError } from '../config/dynamic.js';
import type { MiddlewareInfo, ServiceInfo } from '../table/table.js';
import { CycleError, errorMessage, providerOf } from './elements.js';

/** A service's or a middleware's view (the two have the same shape). */
export type ElementView = ServiceInfo & MiddlewareInfo;

/** The view of `name` in the table's views: the one there, else a new, enabled one. */
export function elementView(
  infos: Map<string, ElementView>,
  name: string,
  type: string,
): ElementView {
  const view: ElementView = infos.get(name) ?? {
    name,
    provider: providerOf(name),
    type,
    status: 'enabled',
    errors: [],
    usedBy: [],
  };
  infos.set(name, view);
  return view;
}

/** Marks the element disabled with the error's reason, on its view and in the table's errors. */
export function disableElement(
  view: ElementView,
  errors: ElementError[],
  error: ElementError,
): void {
  view.status = 'disabled';
  view.errors.push(error.message);
  errors.push(error);
}

/** Calls `build` for every name; a failure is the builder's to record, the others still run. */
export function buildEach(names: Iterable<string>, build: (name: string) => unknown): void {
  for (const name of names) {
    try {
      build(name);
    } catch {
      // recorded on the element already
    }
  }
}

/**
 * Builds each element once by name: later calls get the same result, or the same error, and an
 * element met again while it is being built is a loop (Traefik's "recursion detected").
 * `fail` records a failure on the element the first time it happens.
 */
export class BuildOnce<T> {
  private readonly built = new Map<string, T | Error>();
  /** the elements being built right now: meeting one again is a cycle */
  private readonly building = new Set<string>();

  /** `what` names the kind in the cycle message: `cycle through <what> "<name>"` */
  constructor(private readonly what: string) {}

  get(name: string, make: () => T, fail: (err: Error) => void): T {
    const done = this.built.get(name);
    if (done instanceof Error) throw done;
    if (done !== undefined) return done;
    if (this.building.has(name)) throw new CycleError(`cycle through ${this.what} "${name}"`);
    this.building.add(name);
    try {
      const value = make();
      this.built.set(name, value);
      return value;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(errorMessage(err));
      this.built.set(name, e);
      fail(e);
      throw e;
    } finally {
      this.building.delete(name);
    }
  }
}
