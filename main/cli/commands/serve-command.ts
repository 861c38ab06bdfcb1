import type { Command } from 'commander';
import { RunSummaryService } from '../../engine/ai/summary-service.js';
import { formatDuration, parseDuration } from '../../engine/model/duration.js';
import { UltravisorNode } from '../../engine/node.js';
import type { RunEvent } from '../../engine/runner/run-events.js';
import type { SchedulerEvent, SchedulerStatus } from '../../engine/triggers/scheduler.js';
import { defaultPort } from '../../server/api-server.js';
import { ApiServerService } from '../../server/api-server-service.js';
import { tokenPath } from '../../server/node-token.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';

export interface ServeOptions {
  grace: string;
  quiet: boolean;
  /** Address the API listens on (default 127.0.0.1). */
  host?: string;
  /** API port (default 4717; 0 picks a free one). */
  port?: string;
}

/** Parses `--port`: 0 to 65535 (undefined: the default port, or a free one when it is taken). */
function parsePort(text: string | undefined): number {
  if (text === undefined) return defaultPort;
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65535)
    throw new UsageError(`--port "${text}" is not a port (0-65535; 0 picks a free one)`);
  return port;
}

/** The warning `serve` prints when the API listens beyond this machine (undefined for loopback). */
export function exposureWarning(host: string, port: number): string | undefined {
  const loopback =
    host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
  if (loopback) return undefined;
  return `warning: listening on ${host}, not only on this machine: anyone who can reach ${host}:${port} and holds the token can run commands here (the API is plain HTTP: prefer an SSH tunnel or a TLS proxy)`;
}

function clockTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** What `serve` prints at start: every operation, its triggers and when they fire next. */
export function describeArmed(status: SchedulerStatus, now: number): string[] {
  const lines: string[] = [];
  if (status.paused) lines.push('the node is paused: nothing fires until `ultravisor ops resume --all`');
  const armed = status.operations.reduce((n, op) => n + op.triggers.filter((t) => t.armed).length, 0);
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(`${plural(status.operations.length, 'operation')}, ${plural(armed, 'trigger')} armed`);
  for (const op of status.operations) {
    lines.push(`  ${op.id}${op.paused ? '  (paused)' : ''}`);
    if (op.triggers.length === 0) lines.push('    no triggers (manual only: `ultravisor trigger`)');
    for (const t of op.triggers) {
      const state = !t.enabled ? 'disabled' : !t.armed ? 'not armed' : '';
      const next =
        t.nextAt === undefined
          ? ''
          : `  ${t.kind === 'condition' ? 'next check' : 'next'} ${clockTime(t.nextAt)} (in ${formatDuration(Math.max(0, t.nextAt - now))})`;
      lines.push(
        `    ${t.triggerId.padEnd(14)} ${t.description}${next}${state === '' ? '' : `  [${state}]`}`,
      );
    }
  }
  return lines;
}

function eventLine(event: SchedulerEvent): string | undefined {
  const stamp = new Date().toISOString().slice(11, 19);
  const who = `${event.operationId} ${event.triggerId}`;
  switch (event.type) {
    case 'fired':
      return `${stamp} ▶ ${who}  run ${event.runId}  (${event.latenessMs} ms late)`;
    case 'queued':
      return `${stamp} ⋯ ${who}  queued behind the run in progress`;
    case 'skipped':
      return `${stamp} ↷ ${who}  skipped${event.count > 1 ? ` ×${event.count}` : ''}: ${event.reason}`;
    case 'error':
      return `${stamp} ! ${who}  ${event.error}`;
    default:
      return event satisfies never;
  }
}

function runLine(event: RunEvent): string | undefined {
  if (event.type !== 'run-ended') return undefined;
  const mark = event.status === 'success' ? '✔' : event.status === 'cancelled' ? '⊘' : '✖';
  const took =
    event.manifest.durationMs === undefined ? '' : `  ${formatDuration(event.manifest.durationMs)}`;
  const why = event.manifest.error === undefined ? '' : `  ${event.manifest.error}`;
  return `${new Date().toISOString().slice(11, 19)} ${mark} ${event.operationId}  run ${event.runId} ${event.status}${took}${why}`;
}

/**
 * `ultravisor serve`: runs the node until SIGINT or SIGTERM.
 *
 * The first signal stops firing and gives running runs the grace period; a second one cancels
 * them at once. Every run's manifest says how it ended.
 */
export async function serveCommand(ctx: CliContext, options: ServeOptions): Promise<number> {
  const graceMs = parseDuration(options.grace);
  if (graceMs === undefined)
    throw new UsageError(`--grace "${options.grace}" is not a duration (e.g. 30s, 2m)`);
  const port = parsePort(options.port);
  const host = options.host ?? '127.0.0.1';
  const node = await UltravisorNode.open({ dataDir: ctx.dataDir, logger: ctx.logger });
  // One feed, one LLM pool and one summary service for the node and the API, so notification.added
  // and run.summary reach clients and runs.summarize goes through the node's own service.
  const summaries = new RunSummaryService({
    engine: node.engine,
    findOperation: (id) => node.operations.get(id)?.operation,
    logger: ctx.logger,
  });
  await node.use(summaries);
  const feed = summaries.feed;
  const api = new ApiServerService({
    host,
    port,
    portFallback: options.port === undefined,
    llm: node.engine.llm.pool,
    summaries,
    ...(feed === undefined ? {} : { feed }),
  });
  await node.use(api);
  try {
    await node.start();
  } catch (err) {
    ctx.err.write(`ultravisor serve: ${err instanceof Error ? err.message : String(err)}\n`);
    return exitCodes.failed;
  }
  const out = (line: string | undefined): void => {
    if (line !== undefined && !options.quiet) ctx.out.write(`${line}\n`);
  };
  ctx.out.write(`ultravisor serve: ${ctx.dataDir} (pid ${process.pid})\n`);
  const listening = api.info;
  if (listening !== undefined) {
    const warning = exposureWarning(host, listening.port);
    if (warning !== undefined) ctx.err.write(`${warning}\n`);
    if (listening.fellBack)
      ctx.err.write(`port ${port} is in use: listening on ${listening.port} instead (--port to choose)\n`);
    ctx.out.write(`api: ${listening.url} (token in ${tokenPath(ctx.dataDir)})\n`);
    ctx.out.write(`open: ${listening.url}/#token=${listening.token}\n`);
  }
  for (const problem of node.operations.listProblems()) ctx.out.write(`  ! not loaded: ${problem.error}\n`);
  for (const line of describeArmed(node.scheduler.status(), Date.now())) ctx.out.write(`${line}\n`);
  node.scheduler.on('event', (event) => {
    out(eventLine(event));
  });
  node.engine.on('event', (event) => {
    out(runLine(event));
  });
  ctx.out.write(
    `ready: stop with Ctrl-C or SIGTERM (running runs get ${formatDuration(graceMs)} to finish)\n`,
  );

  const signalled = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const running = node.runningRuns().length;
  ctx.out.write(
    `\n${signalled}: no new firings${running > 0 ? `; waiting up to ${formatDuration(graceMs)} for ${running} running run(s) (again to cancel now)` : ''}\n`,
  );
  const cancelNow = (signal: NodeJS.Signals): void => {
    ctx.out.write(`${signal}: cancelling running runs now\n`);
    void node.engine.cancelAll(`node stopping: cancelled by a second ${signal}`);
  };
  process.on('SIGINT', cancelNow);
  process.on('SIGTERM', cancelNow);
  try {
    const report = await node.stop({ graceMs });
    if (report.running > 0) {
      ctx.out.write(
        `stopped: ${report.running - report.cancelled} run(s) finished, ${report.cancelled} cancelled after the grace period\n`,
      );
    } else {
      ctx.out.write('stopped\n');
    }
  } finally {
    process.off('SIGINT', cancelNow);
    process.off('SIGTERM', cancelNow);
  }
  return exitCodes.ok;
}

export function registerServeCommand(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  root
    .command('serve')
    .description(
      'run this node: fire operations on their schedules, conditions and after other runs, until stopped',
    )
    .option(
      '--grace <duration>',
      'on SIGINT/SIGTERM, how long running runs may finish before they are cancelled',
      '30s',
    )
    .option('--quiet', 'print only the start and stop summary, not every firing and run', false)
    .option(
      '--host <address>',
      'address the API and web UI listen on (anything but loopback prints a warning)',
      '127.0.0.1',
    )
    .option(
      '--port <port>',
      `API and web UI port (default ${defaultPort}, or a free one when that is taken; 0 picks a free one)`,
    )
    .action(async (opts: ServeOptions) => {
      setExit(await serveCommand(ctx(), opts));
    });
}
