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

/** `ultravisor run <file>`: runs once in the foreground; Ctrl-C cancels and still writes the manifest. */
export async function runCommand(ctx: CliContext, file: string, options: RunOptions): Promise<number> {
  const params = parseParams(options.param);
  const loaded = await loadOperationFile(file);
  resolveParams(loaded.operation, params); // bad params fail here, before the data dir is touched
  const engine = await openEngine(ctx.dataDir, ctx.logger);
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
    const manifest = await handle.done;
    view.stop();
    if (options.json) ctx.out.write(`${JSON.stringify(manifest, null, 2)}\n`);
    else printManifest(ctx, manifest, { tasks: false });
    return manifest.status === 'success' ? exitCodes.ok : exitCodes.failed;
  } finally {
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
