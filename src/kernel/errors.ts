/* Coded errors: callers branch on `code`, people read `message`. */

export class PorticoError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'PorticoError';
  }
}

/** Invalid static configuration: the CLI prints it and exits with code 2. */
export class StaticConfigError extends PorticoError {
  readonly option: string;
  constructor(option: string, reason: string) {
    super('PORTICO_ERR_STATIC_CONFIG', `invalid static option ${option}: ${reason}`);
    this.option = option;
    this.name = 'StaticConfigError';
  }
}

/** A rule that does not parse; `position` is the 0-based character offset. */
export class RuleSyntaxError extends PorticoError {
  readonly position: number;
  constructor(message: string, position: number) {
    super('PORTICO_ERR_RULE_SYNTAX', `${message} at position ${position}`);
    this.position = position;
    this.name = 'RuleSyntaxError';
  }
}

/** A dynamic-config element that cannot be built; the compiler records it and moves on. */
export class ConfigElementError extends PorticoError {
  readonly field: string | undefined;
  constructor(message: string, field?: string, options?: { cause?: unknown }) {
    super('PORTICO_ERR_CONFIG_ELEMENT', field ? `${field}: ${message}` : message, options);
    this.field = field;
    this.name = 'ConfigElementError';
  }
}
