/** How an aborted execution is described: the runner aborts with a reason naming a cancel or a timeout. */
export type AbortKind = 'cancelled' | 'timed out';

const timeoutReasonNames = new Set(['TaskTimedOut', 'RunTimedOut', 'TimeoutError']);

/**
 * Tells a timeout from a cancellation by the abort reason's error name.
 *
 * Matched by name rather than class so task kinds do not depend on the runner's modules; the
 * runner (not this text) decides the recorded status.
 */
export function abortKind(signal: AbortSignal): AbortKind {
  const reason: unknown = signal.reason;
  return reason instanceof Error && timeoutReasonNames.has(reason.name) ? 'timed out' : 'cancelled';
}

/**
 * The message for an execution stopped by its abort signal, e.g. `timed out after 5000 ms: …`.
 *
 * Uses the reason's own message when it already names the kind, so it is not repeated.
 */
export function abortMessage(signal: AbortSignal, detail?: string): string {
  const kind = abortKind(signal);
  const reason: unknown = signal.reason;
  const said =
    reason instanceof Error ? reason.message.trim() : typeof reason === 'string' ? reason.trim() : '';
  const head = said === '' || said === kind ? kind : said.includes(kind) ? said : `${kind} (${said})`;
  return detail === undefined ? head : `${head}: ${detail}`;
}
