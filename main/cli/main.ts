import { Command, CommanderError, Option } from 'commander';
import { ApiError } from '../api/contract-client.js';
import { OperationFileError } from '../engine/model/operation-error.js';
import { operationJsonSchema } from '../engine/model/operation-json-schema.js';
import { ParamError } from '../engine/runner/params.js';
import { cliContext, exitCodes, UsageError, type CliContext } from './cli-context.js';
import { runCommand } from './commands/run-command.js';
import { registerDataCommands } from './commands/data-command.js';
import { registerFilesCommands } from './commands/files-command.js';
import { registerRunsCommands } from './commands/runs-command.js';
import { registerStoreCommands } from './commands/store-command.js';
import { validateCommand } from './commands/validate-command.js';
import { registerNextCommand } from './commands/next-command.js';
import { registerOpsCommands } from './commands/ops-command.js';
import { registerServeCommand } from './commands/serve-command.js';
import { registerTriggerCommand } from './commands/trigger-command.js';
import { registerStateCommands } from './commands/state-command.js';
import { registerNotificationsCommands } from './commands/notifications-command.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Builds the `ultravisor` command tree; each action sets the exit code through `setExit`. */
export function buildProgram(setExit: (code: number) => void): Command {
  const root = new Command('ultravisor')
    .description(
      'Like a supervisor, only ULTRA: run operations — graphs of tasks — and keep a manifest of every run.',
    )
    .addOption(
      new Option(
        '--data-dir <dir>',
        'where Ultravisor keeps everything (default: $ULTRAVISOR_HOME, else ~/.local/share/ultravisor)',
      ),
    )
    .showHelpAfterError()
    .exitOverride();
  const ctx = (): CliContext => cliContext(root.opts<{ dataDir?: string }>().dataDir);

  root
    .command('run')
    .description('run an operation file once in the foreground (exit 0 success, 1 failed, 2 invalid input)')
    .argument('<file>', 'operation file (YAML or JSON)')
    .option('-p, --param <name=value>', 'set a param (repeatable)', collect, [])
    .option('--json', 'print the final manifest as JSON on stdout (progress goes to stderr)', false)
    .action(async (file: string, opts: { param: string[]; json: boolean }) =>
      setExit(await runCommand(ctx(), file, opts)),
    );

  root
    .command('validate')
    .description('check operation files without running them (exit 2 when any is invalid)')
    .argument('<files...>', 'operation files (YAML or JSON)')
    .action(async (files: string[]) => setExit(await validateCommand(ctx(), files)));

  root
    .command('schema')
    .description('print the JSON Schema of operation files (for editor completion)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(operationJsonSchema(), null, 2)}\n`);
      setExit(exitCodes.ok);
    });

  registerRunsCommands(root, ctx, setExit);
  registerStoreCommands(root, ctx, setExit);
  registerDataCommands(root, ctx, setExit);
  registerFilesCommands(root, ctx, setExit);
  registerServeCommand(root, ctx, setExit);
  registerOpsCommands(root, ctx, setExit);
  registerTriggerCommand(root, ctx, setExit);
  registerNextCommand(root, ctx, setExit);
  registerStateCommands(root, ctx, setExit);
  registerNotificationsCommands(root, ctx, setExit);

  return root;
}

/** Runs the CLI with `argv` (as in process.argv) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number = exitCodes.ok;
  try {
    await buildProgram((c) => (code = c)).parseAsync([...argv]);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? exitCodes.ok : exitCodes.invalid;
    }
    if (err instanceof OperationFileError || err instanceof ParamError || err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return exitCodes.invalid;
    }
    if (err instanceof ApiError) {
      // The running node refused or failed the request; its message says what and where.
      process.stderr.write(`ultravisor: ${err.message}\n`);
      return err.code === 'bad-request' || err.code === 'not-found' ? exitCodes.invalid : exitCodes.failed;
    }
    process.stderr.write(`ultravisor: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return exitCodes.failed;
  }
}
