/*
 * A response a middleware holds back before any of it reaches the client: its head, then its
 * body. buffering holds one to bound its size (maxResponseBodyBytes); compress holds one until
 * the body is large enough to be worth compressing (minResponseBodyBytes).
 */
import type { ResponseWriter } from '../src/kernel/context.js';

export class HeldResponse {
  status = 0;
  statusText: string | undefined = undefined;
  /** flat [name, value, ...] */
  head: string[] = [];
  /** body bytes held so far, counted on after take() so the whole body's size stays known */
  bytes = 0;
  private chunks: Buffer[] = [];

  holdHead(status: number, statusText: string | undefined, head: string[]): void {
    this.status = status;
    this.statusText = statusText;
    this.head = head;
  }

  add(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.chunks.push(b);
    this.bytes += b.length;
  }

  /** The body held so far, as one buffer; it is no longer held. */
  take(): Buffer {
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    return body;
  }

  /** Lets go of the head and the body (the response will not be sent). */
  drop(): void {
    this.chunks = [];
    this.head = [];
  }

  /** Sends the held head with the body's Content-Length (in place of any it had), then the body. */
  sendWithLength(to: ResponseWriter, body: Buffer): unknown {
    const out: string[] = [];
    const h = this.head;
    for (let i = 0; i < h.length; i += 2)
      if (h[i]!.toLowerCase() !== 'content-length') out.push(h[i]!, h[i + 1]!);
    out.push('content-length', String(body.length));
    this.head = [];
    to.writeHead(this.status, this.statusText, out);
    return to.end(body);
  }
}
