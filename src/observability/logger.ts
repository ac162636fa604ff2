/*
 * The application log (pino). JSON by default; `common` prints one readable
 * line per record for people watching a terminal. Secrets never reach it:
 * every record (fields, message, errors) goes through the rule set the API
 * uses (src/config/redact.ts), so a provider error quoting a label value, a
 * URL with a password or a header map logs with "xxxx" in their place.
 */
import { pino, type Logger, type DestinationStream, type LogFn } from 'pino';
import { redact, redactText } from '../config/redact.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * The arguments of a log call with secrets masked, as one redaction scope so that a value
 * masked in the fields is masked where the message quotes it too. An Error given alone is
 * logged as pino would (`err`, its message as `msg`), from its redacted copy.
 */
function redactArguments(args: unknown[]): unknown[] {
  if (args.length === 0) return args;
  let list = args;
  const first = list[0];
  if (first instanceof Error) {
    list = [{ err: first }, ...(typeof list[1] === 'string' ? list.slice(1) : [first.message])];
  }
  if (list.length === 1 && typeof list[0] === 'string') return [redactText(list[0])];
  return redact(list);
}

function textDestination(fd: number): DestinationStream {
  const dest = pino.destination({ dest: fd, sync: true });
  return {
    write(line: string) {
      try {
        const {
          level,
          time,
          msg,
          pid: _pid,
          hostname: _h,
          ...rest
        } = JSON.parse(line) as Record<string, unknown>;
        const extras = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        dest.write(
          `${new Date(Number(time)).toISOString()} ${String(level).toUpperCase()} ${String(msg ?? '')}${extras ? ' ' + extras : ''}\n`,
        );
      } catch {
        dest.write(line);
      }
    },
  };
}

export function createLogger(opts: {
  level: LogLevel;
  format: 'json' | 'common';
  filePath?: string | undefined;
}): Logger {
  const base = {
    level: opts.level,
    formatters: { level: (label: string) => ({ level: label }) },
    // errors arrive serialised and redacted already (redactArguments); pino's serialiser would
    // re-read them as objects of type "Object"
    serializers: {
      err: (e: unknown): unknown => (e instanceof Error ? pino.stdSerializers.err(e) : e),
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: LogFn): void {
        (method as (...a: unknown[]) => void).apply(this, redactArguments(args));
      },
    },
  };
  if (opts.format === 'common') {
    const fd = opts.filePath
      ? pino.destination({ dest: opts.filePath, sync: true, mkdir: true })
      : undefined;
    return pino(base, fd ?? textDestination(1));
  }
  // application logs are rare: write them synchronously so none is lost when the process exits
  return pino(base, pino.destination({ dest: opts.filePath ?? 1, sync: true, mkdir: true }));
}
