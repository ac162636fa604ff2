/* The API's pure parts: configuration diffs for the event stream (redaction: redact.test.ts). */
import { describe, expect, it } from 'vitest';
import { diffConfigs, isEmptyDiff } from '../../src/api/diff.js';

describe('diffConfigs', () => {
  const base = {
    http: {
      routers: {
        'a@file': { rule: 'Host(`a`)', service: 's@file' },
        'b@file': { rule: 'Host(`b`)', service: 's@file', priority: 5 },
      },
      services: { 's@file': { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } } },
    },
  };

  it('is empty for equal configurations, whatever the key order', () => {
    const same = {
      http: {
        services: { 's@file': { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } } },
        routers: {
          'b@file': { priority: 5, service: 's@file', rule: 'Host(`b`)' },
          'a@file': { service: 's@file', rule: 'Host(`a`)' },
        },
      },
    };
    expect(isEmptyDiff(diffConfigs(base, same))).toBe(true);
  });

  it('names added, removed and changed elements and the fields that changed', () => {
    const next = {
      http: {
        routers: {
          'b@file': { rule: 'Host(`b`)', service: 's@file', priority: 7, middlewares: ['m@file'] },
          'c@file': { rule: 'Host(`c`)', service: 's@file' },
        },
        services: { 's@file': { loadBalancer: { servers: [{ url: 'http://127.0.0.1:2' }] } } },
        middlewares: { 'm@file': { stripPrefix: { prefixes: ['/x'] } } },
      },
    };
    expect(diffConfigs(base, next)).toEqual({
      routers: {
        added: ['c@file'],
        removed: ['a@file'],
        changed: [{ name: 'b@file', fields: ['middlewares', 'priority'] }],
      },
      services: { added: [], removed: [], changed: [{ name: 's@file', fields: ['loadBalancer'] }] },
      middlewares: { added: ['m@file'], removed: [], changed: [] },
    });
  });

  it('treats the first configuration as everything added', () => {
    const d = diffConfigs({}, base);
    expect(d.routers.added).toEqual(['a@file', 'b@file']);
    expect(d.services.added).toEqual(['s@file']);
  });
});
