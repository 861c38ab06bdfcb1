import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runDir } from '../data-dir.js';
import type { Logger } from '../logger.js';
import {
  effectiveRetention,
  nodeRetentionSchema,
  type NodeRetention,
  type RetentionPolicy,
} from '../model/retention-spec.js';
import { folderBytes, type FileStore } from './file-store.js';
import { readManifest } from './manifest-files.js';
import type { PruneCandidate, PruneRule, RunIndex } from './run-index.js';

/** Time for retention: what "now" is and how to wait; tests drive both. */
export interface RetentionClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock; its timers do not keep the process alive. */
export const systemClock: RetentionClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
    }),
};

/** The node-wide retention file: `<data-dir>/retention.json`. */
export function nodeRetentionPath(dataDir: string): string {
  return join(dataDir, 'retention.json');
}

/** Reads the node-wide retention defaults; all defaults when the file does not exist. */
export function loadNodeRetention(dataDir: string): NodeRetention {
  const path = nodeRetentionPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return nodeRetentionSchema.parse({});
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(
      `${path} is not JSON (${(err as Error).message}); fix it or delete it to use the defaults`,
      {
        cause: err,
      },
    );
  }
  const parsed = nodeRetentionSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${path}: ${issues}`);
  }
  return parsed.data;
}

/** One run retention removed (or would remove, in a dry run) and the rule that chose it. */
export interface PrunedRun extends PruneCandidate {
  reason: string;
}

export interface PruneReport {
  dryRun: boolean;
  removed: PrunedRun[];
  /** Chosen but left alone: running after all, or in use by this process. */
  skipped: (PrunedRun & { why: string })[];
  /** Runs whose size was measured for size rules in this pass. */
  measured: number;
  /** True when a pass stopped at its limit and more may be due. */
  more: boolean;
}

export interface RetentionOptions {
  /** Node-wide defaults and total budget. */
  node?: NodeRetention | RetentionPolicy;
  clock?: RetentionClock;
  /** Runs this process is executing; never removed whatever the index says. */
  isActive?: (runId: string) => boolean;
  logger?: Logger;
}

function describe(rule: PruneRule, policy: RetentionPolicy, scope: string): string {
  switch (rule.kind) {
    case 'keepRuns':
      return `${scope} keepRuns ${rule.keep}`;
    case 'maxAge':
      return `${scope} maxAge ${policy.maxAge ?? 0}ms`;
    case 'maxSize':
      return `${scope} size over ${rule.bytes} bytes`;
    default:
      return rule satisfies never;
  }
}

/**
 * Applies retention: per operation (its newest run's `retention`, node defaults for the rest) and
 * the node's total size budget. Removes a run's index rows, folder (manifest, logs, staging),
 * output files and their catalogue rows together; never a run that is running.
 */
export class RetentionPruner {
  private readonly clock: RetentionClock;

  constructor(
    private readonly stores: { runs: RunIndex; files: FileStore; dataDir: string },
    private readonly options: RetentionOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** One pass: chooses up to `limit` runs and removes them (or only reports them with `dryRun`). */
  async prune(options: { dryRun?: boolean; limit?: number } = {}): Promise<PruneReport> {
    const dryRun = options.dryRun ?? false;
    const limit = options.limit ?? 1000;
    const report: PruneReport = { dryRun, removed: [], skipped: [], measured: 0, more: false };
    const chosen = new Map<string, PrunedRun>();
    const choose = (candidates: PruneCandidate[], reason: string) => {
      for (const c of candidates) if (!chosen.has(c.runId)) chosen.set(c.runId, { ...c, reason });
      if (candidates.length >= limit) report.more = true;
    };
    const now = this.clock.now();
    const node = this.options.node;
    for (const { operationId, retention } of this.stores.runs.operationPolicies()) {
      const policy = effectiveRetention(retention, node);
      const rules: PruneRule[] = [];
      if (policy.keepRuns !== undefined) rules.push({ kind: 'keepRuns', keep: policy.keepRuns });
      if (policy.maxAge !== undefined) rules.push({ kind: 'maxAge', before: now - policy.maxAge });
      if (policy.maxSize !== undefined) {
        report.measured += await this.measure({ operationId });
        rules.push({ kind: 'maxSize', bytes: policy.maxSize });
      }
      for (const rule of rules) {
        choose(
          this.stores.runs.pruneCandidates({ operationId }, rule, limit),
          describe(rule, policy, operationId),
        );
      }
    }
    await this.remove([...chosen.values()].slice(0, limit), dryRun, report);
    const total = node !== undefined && 'maxTotalSize' in node ? node.maxTotalSize : undefined;
    if (total !== undefined && report.removed.length < limit) {
      // After the per-operation rules, so their removals count against the budget first.
      report.measured += await this.measure({});
      const rule: PruneRule = { kind: 'maxSize', bytes: total };
      const over = this.stores.runs
        .pruneCandidates({}, rule, limit - report.removed.length)
        .filter((c) => !chosen.has(c.runId))
        .map((c) => ({ ...c, reason: `node maxTotalSize ${total} bytes` }));
      await this.remove(over, dryRun, report);
    }
    return report;
  }

  /** Measures finished runs whose size is unknown; returns how many. */
  private async measure(scope: { operationId?: string }): Promise<number> {
    let n = 0;
    for (;;) {
      const batch = this.stores.runs.unsized(scope, 200);
      if (batch.length === 0) return n;
      for (const run of batch) {
        const bytes =
          (await folderBytes(runDir(this.stores.dataDir, run.operationId, run.runId))) +
          (await this.stores.files.runBytes(run.operationId, run.runId));
        this.stores.runs.setBytes(run.runId, bytes);
        n++;
      }
    }
  }

  private async remove(runs: readonly PrunedRun[], dryRun: boolean, report: PruneReport): Promise<void> {
    for (const run of runs) {
      const why = await this.reasonToKeep(run);
      if (why !== undefined) {
        report.skipped.push({ ...run, why });
        continue;
      }
      if (!dryRun) {
        // Folder first: if this is interrupted, the manifest may survive and reindex brings the
        // run back for the next pass to finish; the reverse would leave files no index knows.
        await rm(runDir(this.stores.dataDir, run.operationId, run.runId), { recursive: true, force: true });
        await this.stores.files.removeRun(run.operationId, run.runId);
        this.stores.runs.remove([run.runId]);
        this.options.logger?.info({ runId: run.runId, reason: run.reason }, 'retention removed a run');
      }
      report.removed.push(run);
    }
  }

  /** Why a chosen run must stay, checked against the process, the index and the manifest itself. */
  private async reasonToKeep(run: PrunedRun): Promise<string | undefined> {
    if (this.options.isActive?.(run.runId)) return 'running in this process';
    if (this.stores.runs.status(run.runId) === 'running') return 'running';
    const manifest = await readManifest(
      join(runDir(this.stores.dataDir, run.operationId, run.runId), 'manifest.json'),
    ).catch(() => undefined);
    if (manifest?.status === 'running') return 'running (the manifest says so; the index was behind)';
    return undefined;
  }
}

/**
 * Prunes in the background every `intervalMs` until `signal` aborts; a pass that hit its limit is
 * followed at once by another. Errors are logged and the loop goes on.
 */
export async function runRetentionLoop(
  pruner: RetentionPruner,
  options: {
    intervalMs: number;
    signal: AbortSignal;
    clock?: RetentionClock;
    logger?: Logger;
    onPass?: (report: PruneReport | Error) => void;
  },
): Promise<void> {
  const clock = options.clock ?? systemClock;
  // A function, so the check after each await reads the signal anew.
  const aborted = () => options.signal.aborted;
  while (!aborted()) {
    let more = false;
    try {
      const report = await pruner.prune();
      more = report.more && report.removed.length > 0;
      options.onPass?.(report);
    } catch (err) {
      options.logger?.error({ err }, 'retention pass failed');
      options.onPass?.(err instanceof Error ? err : new Error(String(err)));
    }
    if (aborted()) break;
    if (!more) await clock.sleep(options.intervalMs, options.signal);
  }
}
