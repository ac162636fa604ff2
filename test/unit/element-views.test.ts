/*
 * The element views the service manager and the middleware builder share
 * (src/routing/element-views.ts): what the API shows for a service or middleware that failed.
 */

import { describe, expect, it } from 'vitest';
import type { ElementError } from '../../src/config/dynamic.js';
import {
  buildEach,
  disableElement,
  elementView,
  type ElementView,
} from '../../src/routing/element-views.js';

describe('elementView', () => {
  it('adds an enabled view with the provider of the qualified name', () => {
    const infos = new Map<string, ElementView>();
    const view = elementView(infos, 'auth@docker', 'basicAuth');
    expect(view).toEqual({
      name: 'auth@docker',
      provider: 'docker',
      type: 'basicAuth',
      status: 'enabled',
      errors: [],
      usedBy: [],
    });
    expect(infos.get('auth@docker')).toBe(view);
  });

  it('keeps the view the table has already (its users stay)', () => {
    const infos = new Map<string, ElementView>();
    elementView(infos, 'web@file', 'loadBalancer').usedBy.push('r@file');
    expect(elementView(infos, 'web@file', 'loadBalancer').usedBy).toEqual(['r@file']);
  });
});

describe('disableElement', () => {
  it('marks the view disabled with the reason and adds the error to the table', () => {
    const infos = new Map<string, ElementView>();
    const view = elementView(infos, 'web@file', 'loadBalancer');
    const errors: ElementError[] = [];
    disableElement(view, errors, { kind: 'service', name: 'web@file', message: 'boom' });
    expect(view).toMatchObject({ status: 'disabled', errors: ['boom'] });
    expect(errors).toEqual([{ kind: 'service', name: 'web@file', message: 'boom' }]);
  });
});

describe('buildEach', () => {
  it('builds every name even when some throw', () => {
    const built: string[] = [];
    buildEach(['a', 'b', 'c'], (name) => {
      built.push(name);
      if (name === 'b') throw new Error('b fails');
    });
    expect(built).toEqual(['a', 'b', 'c']);
  });
});
