/**
 * Structured logger pup writes to. Each method takes a message and optional fields; wire it to
 * pino, winston or `console`. Without a logger pup does not log and pays nothing for it.
 *
 * @example
 * const logger: Logger = {
 *   debug: (msg, fields) => pino.debug(fields ?? {}, msg),
 *   info: (msg, fields) => pino.info(fields ?? {}, msg),
 *   warn: (msg, fields) => pino.warn(fields ?? {}, msg),
 *   error: (msg, fields) => pino.error(fields ?? {}, msg),
 * };
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
