import { TaskFailure, type TaskKind } from './task-kind.js';

/** `operation:` — run another operation as a child run; fails when the child does not succeed. */
export const operationTask: TaskKind<'operation'> = {
  kind: 'operation',
  async run(ctx) {
    const { spec } = ctx;
    const params = ctx.renderDeep(spec.params) as Record<string, unknown>;
    const child = await ctx.runChild({
      ...(spec.id === undefined ? {} : { id: spec.id }),
      ...(spec.file === undefined ? {} : { file: ctx.renderString(spec.file) }),
      params,
    });
    ctx.log.note(`child run ${child.runId} ended: ${child.status} (${child.manifest})`);
    const output = {
      runId: child.runId,
      status: child.status,
      manifest: child.manifest,
      outputs: child.outputs,
    };
    if (child.status !== 'success') {
      throw new TaskFailure(`child run ${child.runId} ended with ${child.status}`, {
        output,
        childRunId: child.runId,
      });
    }
    return { output, childRunId: child.runId };
  },
};
