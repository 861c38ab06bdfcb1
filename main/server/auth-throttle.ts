/** Per-address failure counts that slow down token guessing. */
export interface AuthThrottleOptions {
  /** Failures allowed at full speed within the window (default 5). */
  freeFailures?: number;
  /** Delay after the first failure past the free ones; doubles with each further one (default 250 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Failures older than this are forgotten (default 15 min). */
  windowMs?: number;
  /** Most delayed answers pending at once per address; more are refused at once (default 8). */
  maxPending?: number;
  /** Addresses tracked at most; the oldest are forgotten first (default 10,000). */
  maxAddresses?: number;
  now?: () => number;
}

/** What to do with a failed attempt: answer after `delayMs`, or refuse it outright. */
export type ThrottleDecision = { action: 'delay'; delayMs: number } | { action: 'refuse' };

/**
 * Slows repeated authentication failures from one address: the first few are answered at once,
 * then each waits twice as long as the last (up to a cap), and only a few may wait at a time, so
 * parallel guessing gains nothing.
 *
 * A successful request does not reset the count: on a shared address (every local process is
 * 127.0.0.1) a guesser could otherwise clear its penalty through someone else's traffic.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, { times: number[]; pending: number }>();
  private readonly free: number;
  private readonly base: number;
  private readonly max: number;
  private readonly window: number;
  private readonly maxPending: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(options: AuthThrottleOptions = {}) {
    this.free = options.freeFailures ?? 5;
    this.base = options.baseDelayMs ?? 250;
    this.max = options.maxDelayMs ?? 10_000;
    this.window = options.windowMs ?? 15 * 60_000;
    this.maxPending = options.maxPending ?? 8;
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Records a failure from `address` and says how to answer it. */
  fail(address: string): ThrottleDecision {
    const now = this.now();
    let entry = this.failures.get(address);
    if (entry === undefined) {
      if (this.failures.size >= this.maxAddresses) {
        const oldest = this.failures.keys().next().value;
        if (oldest !== undefined) this.failures.delete(oldest);
      }
      entry = { times: [], pending: 0 };
      this.failures.set(address, entry);
    }
    entry.times = entry.times.filter((t) => now - t < this.window);
    entry.times.push(now);
    const over = entry.times.length - this.free;
    if (over <= 0) return { action: 'delay', delayMs: 0 };
    if (entry.pending >= this.maxPending) return { action: 'refuse' };
    return { action: 'delay', delayMs: Math.min(this.max, this.base * 2 ** (over - 1)) };
  }

  /** Marks a delayed answer as waiting; call the returned function when it has been sent. */
  hold(address: string): () => void {
    const entry = this.failures.get(address);
    if (entry === undefined) return () => undefined;
    entry.pending++;
    return () => {
      entry.pending = Math.max(0, entry.pending - 1);
    };
  }

  /** Failures counted for an address now. */
  count(address: string): number {
    const now = this.now();
    return this.failures.get(address)?.times.filter((t) => now - t < this.window).length ?? 0;
  }
}
