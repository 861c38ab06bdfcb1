import { loadOperationFile } from '../../engine/model/load-operation.js';
import { OperationFileError } from '../../engine/model/operation-error.js';
import { exitCodes, type CliContext } from '../cli-context.js';

/** `ultravisor validate <file>...`: checks files without running anything. */
export async function validateCommand(ctx: CliContext, files: readonly string[]): Promise<number> {
  let bad = 0;
  for (const file of files) {
    try {
      const { operation } = await loadOperationFile(file);
      ctx.out.write(
        `✔ ${file}: ${operation.id} (${operation.tasks.length} tasks, ${operation.triggers.length} triggers)\n`,
      );
    } catch (err) {
      if (!(err instanceof OperationFileError)) throw err;
      bad++;
      ctx.err.write(`✖ ${err.message}\n`);
    }
  }
  return bad === 0 ? exitCodes.ok : exitCodes.invalid;
}
