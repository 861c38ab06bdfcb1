/** Abort reason: somebody cancelled the run (Ctrl-C, the API, a parent's cancellation). */
export class RunCancelled extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'RunCancelled';
  }
}

/** Abort reason: the operation's `timeout` passed. */
export class RunTimedOut extends Error {
  constructor(readonly ms: number) {
    super(`run timed out after ${ms} ms`);
    this.name = 'RunTimedOut';
  }
}

/** Abort reason: the task's `timeout` passed for one execution. */
export class TaskTimedOut extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TaskTimedOut';
  }
}

/** Waits `ms`, resolving early (false) if the signal aborts first. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
