import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The engine's one logger: JSON lines on stderr, level from `ULTRAVISOR_LOG` (default `warn`).
 *
 * stderr keeps stdout free for command output such as `run --json`.
 */
export function createLogger(level = process.env.ULTRAVISOR_LOG ?? 'warn'): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
