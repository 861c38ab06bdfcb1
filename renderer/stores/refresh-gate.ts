/**
 * Runs an async refresh at most once at a time; requests made meanwhile fold into one more run after it.
 *
 * Events can ask for a refresh many times a second (a burst of run starts); the node should see
 * one request in flight and one queued, never a pile. The returned promise settles when a refresh
 * that started after the request has finished.
 */
export function refreshGate(refresh: () => Promise<void>): () => Promise<void> {
  let current: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const request = (): Promise<void> => {
    if (current === undefined) {
      current = refresh().finally(() => {
        current = undefined;
      });
      return current;
    }
    queued ??= current
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return request();
      });
    return queued;
  };
  return request;
}
