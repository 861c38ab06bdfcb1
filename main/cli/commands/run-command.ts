import { RunSummaryService } from '../../engine/ai/summary-service.js';
import type { Manifest } from '../../engine/model/manifest.js';
import { loadOperationFile } from '../../engine/model/load-operation.js';
import { openEngine } from '../../engine/open-engine.js';
import { resolveParams } from '../../engine/runner/params.js';
import { exitCodes, parseParams, type CliContext } from '../cli-context.js';
import { ProgressView } from '../progress.js';
import { printManifest } from './runs-command.js';

export interface RunOptions {
  param: string[];
  json: boolean;
}

/**
 * `ultravisor run <file>`: runs once in the foreground; Ctrl-C cancels and still writes the manifest.
 *
 * The run's status and end time are on disk when it ends; the command then waits for the run's
 * summary (bounded by the LLM's timeout plus a margin) and prints the manifest as recorded, with the
 * LLM summary when a model answered and the fallback when none did.
 */
export async function runCommand(ctx: CliContext, file: string, options: RunOptions): Promise<number> {
  const params = parseParams(options.param);
  const loaded = await loadOperationFile(file);
  resolveParams(loaded.operation, params); // bad params fail here, before the data dir is touched
  const engine = await openEngine(ctx.dataDir, ctx.logger);
  const summaries = new RunSummaryService({ engine, logger: ctx.logger });
  summaries.attach();
  const view = new ProgressView(options.json ? ctx.err : ctx.out);
  let rootRunId: string | undefined;
  engine.on('event', (event) => {
    rootRunId ??= event.type === 'run-started' ? event.runId : undefined;
    view.handle(event, rootRunId);
  });
  const handle = engine.start({
    operation: loaded.operation,
    file: loaded.file,
    params,
    trigger: { kind: 'manual', firedAt: new Date().toISOString() },
  });
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      ctx.err.write('\nforced exit: the manifest may be incomplete\n');
      process.exit(130);
    }
    ctx.err.write(`\n${signal}: cancelling (again to force)…\n`);
    handle.cancel(`cancelled by ${signal}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const ended = await handle.done;
    view.stop();
    const manifest = await withSummary(summaries, ended, summaries.summaryWaitMs(loaded.operation));
    if (options.json) ctx.out.write(`${JSON.stringify(manifest, null, 2)}\n`);
    else printManifest(ctx, manifest, { tasks: false });
    return manifest.status === 'success' ? exitCodes.ok : exitCodes.failed;
  } finally {
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    summaries.detach();
    engine.close();
  }
}

/** The run's manifest once its summary is written (as ended, if it cannot be read again). */
async function withSummary(summaries: RunSummaryService, ended: Manifest, waitMs: number): Promise<Manifest> {
  const outcome = await summaries.settled(ended.runId, { abortAfterMs: waitMs });
  if (outcome?.summary === undefined) return ended;
  return { ...ended, summary: outcome.summary };
}
