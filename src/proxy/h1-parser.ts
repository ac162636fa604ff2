/*
 * Node's llhttp binding for the HTTP/1.1 client. It comes from
 * `_http_common`, which Node documents as deprecated (DEP0199). It is loaded
 * on first use, checked (API shape and a parse of a known response), and when
 * it is missing or wrong, or PORTICO_H1_CLIENT=undici is set, the pool runs
 * its connections on undici (h1-undici.ts): a Node release without the
 * binding costs speed, not the service. docs/architecture.md "Node internals".
 */
import { createRequire } from 'node:module';

export interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
export interface HttpParserClass {
  new (): NodeHttpParser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

/**
 * Checks a candidate HTTPParser: the constants this client indexes by, and a
 * parse of a known response with the callbacks it relies on. Anything else
 * (thrown, missing, another shape) → null, and the undici client is used.
 */
export function probeHttpParser(load: () => unknown): HttpParserClass | null {
  try {
    const P = (load() as { HTTPParser?: unknown } | null)?.HTTPParser as
      HttpParserClass | undefined;
    if (typeof P !== 'function') return null;
    for (const k of [
      'RESPONSE',
      'kOnHeaders',
      'kOnHeadersComplete',
      'kOnBody',
      'kOnMessageComplete',
    ]) {
      if (typeof (P as unknown as Record<string, unknown>)[k] !== 'number') return null;
    }
    const parser = new P();
    let status = 0;
    let headers: string[] = [];
    let body = '';
    let complete = false;
    parser.initialize(P.RESPONSE, {}, 1024, 0);
    parser[P.kOnHeadersComplete] = (
      _major: number,
      _minor: number,
      h: string[],
      _method: unknown,
      _url: unknown,
      s: number,
    ): number => {
      status = s;
      headers = h;
      return 0;
    };
    parser[P.kOnBody] = (chunk: Buffer) => {
      body += chunk.toString('latin1');
    };
    parser[P.kOnMessageComplete] = () => {
      complete = true;
    };
    const ret = parser.execute(
      Buffer.from('HTTP/1.1 200 OK\r\nX-A: b\r\ncontent-length: 2\r\n\r\nok'),
    );
    parser.close();
    const ok =
      !(ret instanceof Error) &&
      status === 200 &&
      headers[0] === 'X-A' &&
      headers[1] === 'b' &&
      body === 'ok' &&
      complete;
    return ok ? P : null;
  } catch {
    return null;
  }
}

let httpParser: HttpParserClass | null | undefined;
/** Node's llhttp binding, loaded and checked once, on first use; null when this Node has none that works. */
export function nativeHttpParser(): HttpParserClass | null {
  if (httpParser === undefined) {
    httpParser = probeHttpParser(() => createRequire(import.meta.url)('_http_common'));
  }
  return httpParser;
}

export type H1ClientKind = 'native' | 'undici';

/** PORTICO_H1_CLIENT=undici forces the undici connections; otherwise the binding when it works. */
export function h1ClientKind(env: NodeJS.ProcessEnv = process.env): H1ClientKind {
  if (env.PORTICO_H1_CLIENT === 'undici') return 'undici';
  return nativeHttpParser() !== null ? 'native' : 'undici';
}
