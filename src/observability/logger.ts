/*
 * The application log (pino). JSON by default; `common` prints one readable
 * line per record for people watching a terminal. Secrets never reach it:
 * authorization and cookie headers are redacted wherever they appear.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.token',
];

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
    redact: REDACT,
    formatters: { level: (label: string) => ({ level: label }) },
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
