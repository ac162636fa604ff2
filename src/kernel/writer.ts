/*
 * Response writer wrappers. A middleware that must see or change part of
 * what the next handler answers (the head, the body, the end) installs a
 * wrapper in ctx.writer; everything it does not change goes on to the writer
 * it wrapped, as Go's ResponseWriter wrappers do in Traefik. WriterWrapper is
 * that delegation once: a wrapper extends it and overrides only its part.
 *
 * Trailers (gRPC's grpc-status, checksums) are part of "everything": a
 * wrapper that does not forward addTrailers drops them, and a gRPC client
 * behind a headers or circuitBreaker middleware sees its call fail.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { ResponseWriter } from './context.js';

export class WriterWrapper implements ResponseWriter {
  constructor(protected readonly inner: ResponseWriter) {}

  get headersSent(): boolean {
    return this.inner.headersSent;
  }
  get destroyed(): boolean {
    return this.inner.destroyed;
  }
  writeHead(status: number, statusText: string | undefined, headers: string[]): unknown {
    return this.inner.writeHead(status, statusText, headers);
  }
  write(chunk: Buffer | string): boolean {
    return this.inner.write(chunk);
  }
  end(chunk?: Buffer | string): unknown {
    return this.inner.end(chunk);
  }
  destroy(err?: Error): unknown {
    return this.inner.destroy(err);
  }
  once(event: 'drain', listener: () => void): unknown {
    return this.inner.once(event, listener);
  }
  on(event: 'drain', listener: () => void): unknown {
    return this.inner.on(event, listener);
  }
  addTrailers(trailers: string[]): void {
    writeTrailers(this.inner, trailers);
  }
}

/**
 * Hands trailers (flat [name, value, ...]) to `writer`: a wrapper takes the
 * flat list; the client's own response takes them in its own shape. Node
 * sends them on a chunked HTTP/1.1 response (HTTP/1.1 has no other place
 * for them) and on HTTP/2, where the compatibility response wants an object
 * (given pairs, it would send each pair's index as a trailer name).
 */
export function writeTrailers(writer: ResponseWriter, trailers: string[]): void {
  if (writer instanceof http2.Http2ServerResponse) {
    const byName: Record<string, string | string[]> = {};
    for (let i = 0; i < trailers.length; i += 2) {
      const name = trailers[i]!.toLowerCase();
      const value = trailers[i + 1]!;
      const seen = byName[name];
      byName[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    writer.addTrailers(byName);
    return;
  }
  if (writer instanceof http.ServerResponse) {
    const pairs: [string, string][] = [];
    for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i]!, trailers[i + 1]!]);
    writer.addTrailers(pairs);
    return;
  }
  writer.addTrailers?.(trailers);
}
