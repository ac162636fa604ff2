/*
 * Reading a client's request body whole: the one routine for the steps that
 * must hold a body before it goes on (buffering, retry, forwardAuth's
 * forwardBody, gRPC-Web's text mode). It counts against a limit, stops at
 * the first byte past it, and reports a body that broke off (stream error,
 * or the client closing before the end) instead of waiting for an end that
 * never comes. What to answer in each case is the caller's: a 413, a 401, or
 * nothing when the client is gone.
 */
import type { IncomingMessage } from 'node:http';

export interface WholeBody {
  /** the body in one buffer (a single chunk as it came; an empty body is an empty buffer) */
  done(body: Buffer): void;
  /**
   * More than `max` bytes arrived: reading stopped and the stream is paused.
   * The caller answers; it resume()s the stream to discard the rest, or
   * leaves it paused and closes the connection after the answer.
   */
  tooLarge(): void;
  /** the stream failed or closed before its end: there is no body, and usually nobody to answer */
  gone(err: Error): void;
}

/**
 * Reads `req` to its end, up to `max` bytes (negative: no limit). Exactly one
 * of the callbacks runs, once, from the stream's events. The caller checks
 * first whether there is a body to read at all (requestHasBody, ctx.body).
 */
export function readWholeBody(req: IncomingMessage, max: number, on: WholeBody): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const cleanup = (): void => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (max >= 0 && size > max) {
      cleanup();
      chunks.length = 0;
      req.pause();
      on.tooLarge();
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => {
    cleanup();
    on.done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onError = (err: Error): void => {
    cleanup();
    chunks.length = 0;
    on.gone(err);
  };
  const onClose = (): void => {
    // 'close' after 'end' is the normal order, and cleanup() has run by then
    if (!req.readableEnded)
      onError(new Error('the client closed the request before its body ended'));
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
}
