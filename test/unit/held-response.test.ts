/*
 * HeldResponse (middlewares/held-response.ts), the response buffering and compress hold back:
 * what the client gets when it is finally sent. End to end: buffering.test.ts, compress.test.ts.
 */

import { describe, expect, it } from 'vitest';
import type { ResponseWriter } from '../../src/kernel/context.js';
import { HeldResponse } from '../../middlewares/held-response.js';

/** a writer that records what reaches it */
function recorder() {
  const got: { head?: [number, string | undefined, string[]]; body?: string } = {};
  const writer: ResponseWriter = {
    headersSent: false,
    destroyed: false,
    writeHead: (status, statusText, headers) => (got.head = [status, statusText, headers]),
    write: () => true,
    end: (chunk) => (got.body = chunk === undefined ? '' : chunk.toString()),
    destroy: () => undefined,
    once: () => undefined,
    on: () => undefined,
  };
  return { writer, got };
}

describe('HeldResponse', () => {
  it('sends the held head with the whole body and its length in place of the one it had', () => {
    const held = new HeldResponse();
    held.holdHead(201, 'Made', ['Content-Type', 'text/plain', 'Content-Length', '999', 'X-A', '1']);
    held.add('hello, ');
    held.add(Buffer.from('world'));
    const { writer, got } = recorder();
    held.sendWithLength(writer, held.take());
    expect(got).toEqual({
      head: [201, 'Made', ['Content-Type', 'text/plain', 'X-A', '1', 'content-length', '12']],
      body: 'hello, world',
    });
  });

  it('counts the bytes held, also after they are taken', () => {
    const held = new HeldResponse();
    held.add('abc');
    held.add('€');
    expect(held.bytes).toBe(6);
    expect(held.take().toString()).toBe('abc€');
    expect(held.bytes).toBe(6);
    expect(held.take().length).toBe(0);
  });

  it('holds nothing after drop()', () => {
    const held = new HeldResponse();
    held.holdHead(200, undefined, ['X-A', '1']);
    held.add('abc');
    held.drop();
    expect(held.head).toEqual([]);
    expect(held.take().length).toBe(0);
  });
});
