import { writeJsonAtomic } from '../atomic-write.js';
import type { Manifest } from '../model/manifest.js';

/**
 * Keeps a run's manifest on disk: written at start, after every task, at the end, and — for long
 * forEach tasks — at most once per `progressIntervalMs` in between.
 *
 * Writes are serialised; a burst of progress updates coalesces into one write.
 */
export class ManifestWriter {
  private chain: Promise<void> = Promise.resolve();
  private pendingProgress: NodeJS.Timeout | undefined;
  private lastWrite = 0;
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    readonly manifest: Manifest,
    private readonly progressIntervalMs = 1000,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Writes now (after everything already queued). */
  async flush(): Promise<void> {
    if (this.pendingProgress) {
      clearTimeout(this.pendingProgress);
      this.pendingProgress = undefined;
    }
    const snapshot = JSON.parse(JSON.stringify(this.manifest)) as Manifest;
    const write = this.chain.then(async () => {
      this.lastWrite = Date.now();
      await writeJsonAtomic(this.path, snapshot);
    });
    this.chain = write.catch((err: unknown) => {
      this.failure = err as Error;
      this.onError(err as Error);
    });
    await this.chain;
  }

  /** Asks for a write soon; cheap to call on every execution. */
  progress(): void {
    if (this.pendingProgress) return;
    const wait = Math.max(0, this.progressIntervalMs - (Date.now() - this.lastWrite));
    this.pendingProgress = setTimeout(() => {
      this.pendingProgress = undefined;
      void this.flush();
    }, wait);
    this.pendingProgress.unref();
  }

  /** The last write error, if any (the run still ends; the CLI reports it). */
  get error(): Error | undefined {
    return this.failure;
  }
}
