/*
 * What every piece of the ACME resolver shares: its error class (stable codes
 * callers branch on) and the logger subset it writes to.
 */
import { PorticoError } from '../../kernel/errors.js';

export class AcmeError extends PorticoError {
  readonly domain: string | undefined;
  constructor(code: string, message: string, domain?: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.domain = domain;
    this.name = 'AcmeError';
  }
}

/** The subset of a pino logger used here. */
export interface AcmeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: AcmeLogger = { debug() {}, info() {}, warn() {}, error() {} };

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The resolver was closed while the caller waited. */
export function closedError(resolver: string, domain?: string): AcmeError {
  return new AcmeError('PORTICO_ERR_ACME_CLOSED', `resolver ${resolver} is closed`, domain);
}
