/*
 * What the API writes to: a node:http response in the cluster primary's
 * control server, or, inside a data-plane process, an adapter over the
 * request's ResponseWriter (`ctx.writer`) so that middlewares on a router to
 * `api@internal` (compress, headers, ...) see the answer like any other.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RequestContext } from '../kernel/context.js';

export type HeaderValues = Record<string, string | number | readonly string[]>;

export interface ApiResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers: HeaderValues): unknown;
  write(chunk: string | Buffer): unknown;
  end(chunk?: string | Buffer): unknown;
  /** the client went away (event streams stop on it) */
  once(event: 'close', listener: () => void): unknown;
}

/** the request's ResponseWriter seen as an ApiResponse */
export function writerResponse(ctx: RequestContext): ApiResponse {
  return {
    get headersSent() {
      return ctx.writer.headersSent;
    },
    writeHead(status, headers) {
      const flat: string[] = [];
      for (const [name, value] of Object.entries(headers)) {
        if (typeof value === 'object') for (const v of value) flat.push(name, v);
        else flat.push(name, String(value));
      }
      return ctx.writer.writeHead(status, undefined, flat);
    },
    write: (chunk) => ctx.writer.write(chunk),
    end: (chunk) => (chunk === undefined ? ctx.writer.end() : ctx.writer.end(chunk)),
    once: (event, listener) => ctx.res.once(event, listener),
  };
}

/** a node:http response (the control server's) seen as an ApiResponse */
export function nodeResponse(res: ServerResponse): ApiResponse {
  return {
    get headersSent() {
      return res.headersSent;
    },
    writeHead: (status, headers) => res.writeHead(status, headers as OutgoingHttpHeaders),
    write: (chunk) => res.write(chunk),
    end: (chunk) => (chunk === undefined ? res.end() : res.end(chunk)),
    once: (event, listener) => res.once(event, listener),
  };
}
