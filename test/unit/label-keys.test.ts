/*
 * Reading flat label keys into the key tree (src/config/label-keys.ts), before
 * any schema is applied. What the tree decodes to is in labels.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { readLabelKeys } from '../../src/config/label-keys.js';
import { decodeLabels } from '../../src/config/labels.js';

const prefixes = ['portico', 'traefik'];

describe('readLabelKeys', () => {
  it('groups keys per element, ignoring case, first spelling kept', () => {
    const tree = readLabelKeys(
      {
        'traefik.http.routers.Web.rule': 'Host(`a`)',
        'traefik.http.routers.web.TLS.domains[0].main': 'a.example',
      },
      { prefixes },
    );
    const web = tree.sections.get('routers')!.get('web')!;
    // sorted key order: `Web` comes before `web`
    expect(web.name).toBe('Web');
    expect([...web.children.keys()].sort()).toEqual(['rule', 'tls']);
    const domains = web.children.get('tls')!.children.get('domains')!;
    expect([...domains.children.keys()]).toEqual(['[0]']);
    expect(tree.prefix).toBe('traefik');
    expect(tree.issues).toEqual([]);
  });

  it('lets the first prefix win, and says so when the values differ', () => {
    const tree = readLabelKeys(
      { 'portico.http.routers.r.rule': 'Host(`p`)', 'traefik.http.routers.r.rule': 'Host(`t`)' },
      { prefixes },
    );
    expect(tree.sections.get('routers')!.get('r')!.children.get('rule')!.leaves).toEqual([
      { key: 'portico.http.routers.r.rule', value: 'Host(`p`)' },
    ]);
    expect(tree.issues).toEqual([
      {
        key: 'traefik.http.routers.r.rule',
        value: 'Host(`t`)',
        message: 'ignored: "portico.http.routers.r.rule" takes precedence',
        level: 'warning',
      },
    ]);
  });

  it("sets the caller's keys aside and marks malformed keys", () => {
    const tree = readLabelKeys(
      { 'traefik.enable': 'true', 'traefik.http.routers.r..rule': 'x' },
      { prefixes, providerKeys: ['enable'] },
    );
    expect(tree.extra).toEqual({ enable: { key: 'traefik.enable', value: 'true' } });
    expect([...tree.malformedKeys]).toEqual(['traefik.http.routers.r..rule']);
    expect(tree.issues[0]!.message).toBe('malformed key: empty segment or bad [n] index');
  });

  it('reports a section name that is an Object property (not a section) as unknown', () => {
    const tree = readLabelKeys({ 'traefik.http.constructor.x.y': 'z' }, { prefixes });
    expect(tree.issues.map((i) => i.message)).toEqual(['unknown section "http.constructor"']);
    expect(decodeLabels({ 'traefik.http.constructor.x.y': 'z' }, { prefixes }).issues).toHaveLength(
      1,
    );
  });
});
