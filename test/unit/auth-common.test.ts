/*
 * The option checks and user lines basicAuth and digestAuth share (middlewares/auth-common.ts).
 * What a request sees is in test/integration/middlewares/basic-auth.test.ts and digest-auth.test.ts.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authSettings, userRecords } from '../../middlewares/auth-common.js';

function thrown(f: () => unknown): { message: string; field?: string } {
  try {
    f();
  } catch (err) {
    return err as { message: string; field?: string };
  }
  throw new Error('did not throw');
}

describe('authSettings', () => {
  it.each([
    [{}, { realm: 'traefik', headerField: undefined, removeHeader: false }],
    [{ realm: '' }, { realm: 'traefik', headerField: undefined, removeHeader: false }],
    [
      { realm: 'staff', headerField: 'X-Auth-User', removeHeader: true },
      { realm: 'staff', headerField: 'x-auth-user', removeHeader: true },
    ],
  ])('%j', (options, expected) => {
    expect(authSettings(options)).toEqual(expected);
  });

  it.each([
    [{ realm: 'a"b' }, 'realm'],
    [{ realm: 'a\nb' }, 'realm'],
    [{ headerField: 'X User' }, 'headerField'],
  ])('%j is refused on its option', (options, field) => {
    expect(thrown(() => authSettings(options))).toMatchObject({ field });
  });
});

describe('userRecords', () => {
  it('gives the users file first, then users, each split into its fields', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'auth-common-')), 'users');
    writeFileSync(file, '# comment\n\nann:r:h1\n');
    expect([...userRecords({ usersFile: file, users: ['bob:r:h2'] }, 3, 'bad')]).toEqual([
      { fields: ['ann', 'r', 'h1'], field: 'usersFile' },
      { fields: ['bob', 'r', 'h2'], field: 'users[0]' },
    ]);
  });

  it.each([['bob'], ['bob:h:extra'], [':h']])(
    '%s is refused with the format, on its option',
    (line) => {
      const err = thrown(() => [
        ...userRecords({ users: ['ann:h', line] }, 2, 'must be name:hash'),
      ]);
      expect(err).toMatchObject({ field: 'users[1]' });
      expect(err.message).toContain('must be name:hash');
    },
  );

  it('gives the lines before a bad one first (the caller checks them in order)', () => {
    const seen: string[] = [];
    expect(() => {
      for (const { fields } of userRecords({ users: ['ann:h', 'bad'] }, 2, 'must be name:hash'))
        seen.push(fields[0] as string);
    }).toThrow();
    expect(seen).toEqual(['ann']);
  });
});
