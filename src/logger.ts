/**
 * Structured logs: one JSON object per line on stderr (pino), so an operator's collector can
 * parse them: `{"level":"info","time":"2026-11-27T23:03:41.192Z","pid":4242,"msg":"...",...fields}`.
 * `level` filters by severity (LOG_LEVEL: debug, info, warn, error, silent; default info).
 * Fields that could carry a credential (`authorization`, `x-api-key`, `apiKey` at the top level,
 * `authorization` and `x-api-key` under `headers` or `req.headers`) are redacted by pino whatever
 * the caller passes; the request log names a key only by its configured name.
 */
import { pino } from 'pino';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Whether a line at `level` would be written: a caller skips building fields that would be dropped. */
  enabled?(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
}

const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof levels;

// explicit paths: pino's wildcard paths (`*.authorization`) cost ~9 µs a line, these next to nothing
const REDACT = [
  'authorization',
  '"x-api-key"',
  'apiKey',
  'headers.authorization',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

/**
 * A logger at `level` (an unknown level is info). `write` receives each line (with its "\n");
 * without it lines go synchronously to stderr, so the last lines before an exit are not lost.
 */
export function createLogger(level: LogLevel = 'info', write?: (line: string) => void): Logger {
  const p = pino(
    {
      level: level in levels ? level : 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
      // `errorFields` already shaped `err` (name, message, code, stack); pino's own serializer would drop `code`
      serializers: { err: (e: unknown) => e },
    },
    write === undefined ? pino.destination({ dest: 2, sync: true }) : { write },
  );
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    enabled: (l) => p.isLevelEnabled(l),
  };
}

export const silentLogger: Logger = createLogger('silent');

/** An error as a log field: message and stack for operators (never sent to clients). */
export function errorFields(e: unknown): Record<string, unknown> {
  if (e instanceof Error) return { err: { name: e.name, message: e.message, code: (e as { code?: unknown }).code, stack: e.stack } };
  return { err: String(e) };
}
