import { stat, statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { ConditionCheck } from '../model/trigger-spec.js';
import type { StateStores } from '../state/state-stores.js';
import { launch } from '../tasks/launcher.js';
import { superviseGroup } from '../tasks/process-tree.js';
import { evaluateExpression, isTruthy, parseExpression } from '../template/index.js';

/** Busy and total CPU time across all cores, from `os.cpus()`. */
export interface CpuSample {
  busy: number;
  total: number;
}

/** What one evaluation of a check needs besides the check itself. */
export interface CheckContext {
  /** Aborts on timeout or when the scheduler stops. */
  signal: AbortSignal;
  /** Relative paths resolve against this folder (the operation file's). */
  baseDir: string;
  state?: StateStores;
  /** The previous `file: changed` signature, if any. */
  previousSignature?: string;
  /** The CPU sample of the previous check; the next one is returned in the outcome. */
  previousCpu?: CpuSample;
  /** Upper bound for checks without their own timeout. */
  timeoutMs: number;
}

/** A check's result: the condition's value, plus what the next check compares against. */
export interface CheckOutcome {
  value: boolean;
  signature?: string;
  cpu?: CpuSample;
  /** Measured figures for the manifest's trigger detail, e.g. `{ freeBytes }`. */
  detail: Record<string, unknown>;
}

/** Evaluates a condition check; throws when it cannot tell (which never fires the trigger). */
export type CheckRunner = (check: ConditionCheck, ctx: CheckContext) => Promise<CheckOutcome>;

/** How much of an HTTP body a check reads. */
const maxBodyBytes = 1024 * 1024;

export function cpuSample(): CpuSample {
  let busy = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

function pathOf(path: string, ctx: CheckContext): string {
  return isAbsolute(path) ? path : resolve(ctx.baseDir, path);
}

async function fileSignature(path: string): Promise<string> {
  try {
    const info = await stat(path);
    return `${info.size}:${info.mtimeMs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
}

async function readBody(response: Response): Promise<unknown> {
  if (response.body === null) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  // Node's web streams are async iterable; the DOM-less lib types do not say so.
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(chunk));
    size += chunk.byteLength;
    if (size > maxBodyBytes) throw new Error(`response body is larger than ${maxBodyBytes} bytes`);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function shellCheck(
  check: Extract<ConditionCheck, { check: 'shell' }>,
  ctx: CheckContext,
): Promise<CheckOutcome> {
  const [file, ...args] =
    typeof check.command === 'string' ? ['/bin/sh', '-c', check.command] : check.command;
  if (file === undefined) throw new Error('empty command');
  const timeoutMs = check.timeout ?? ctx.timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  const child = await launch(file, args, { cwd: ctx.baseDir });
  const exit = await superviseGroup(child, { signal, graceMs: 2000 });
  if (exit.aborted) {
    throw new Error(timeout.aborted ? `command timed out after ${timeoutMs} ms (killed)` : 'check cancelled');
  }
  const exitCode = exit.code ?? 128;
  return { value: exitCode === check.exitCode, detail: { exitCode } };
}

async function httpCheck(
  check: Extract<ConditionCheck, { check: 'http' }>,
  ctx: CheckContext,
): Promise<CheckOutcome> {
  const timeoutMs = check.timeout ?? ctx.timeoutMs;
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
  let response: Response;
  try {
    response = await fetch(check.url, { signal, redirect: 'follow' });
  } catch (err) {
    throw new Error(`GET ${check.url} failed: ${errorText(err)}`, { cause: err });
  }
  const body =
    check.expect === undefined ? (await response.body?.cancel(), undefined) : await readBody(response);
  let value =
    check.status === undefined ? check.expect !== undefined || response.ok : response.status === check.status;
  if (value && check.expect !== undefined) {
    const scope = {
      response: {
        status: response.status,
        ok: response.ok,
        headers: Object.fromEntries(response.headers),
        body,
      },
    };
    value = isTruthy(evaluateExpression(parseExpression(check.expect), scope));
  }
  return { value, detail: { status: response.status } };
}

/** The real checks: file system, `os`, HTTP, state documents and child processes. */
export const runCheck: CheckRunner = async (check, ctx) => {
  switch (check.check) {
    case 'disk': {
      const info = await statfs(pathOf(check.path, ctx));
      const freeBytes = info.bavail * info.bsize;
      return { value: freeBytes < check.below, detail: { freeBytes } };
    }
    case 'cpu': {
      const now = cpuSample();
      const before = ctx.previousCpu;
      if (before === undefined || now.total <= before.total) {
        // No interval to measure yet: report not busy, and measure from here next time.
        return { value: false, cpu: now, detail: {} };
      }
      const percent = ((now.busy - before.busy) / (now.total - before.total)) * 100;
      return {
        value: percent > check.above,
        cpu: now,
        detail: { cpuPercent: Math.round(percent * 10) / 10 },
      };
    }
    case 'memory': {
      const total = totalmem();
      const percent = ((total - freemem()) / total) * 100;
      return { value: percent > check.above, detail: { memoryPercent: Math.round(percent * 10) / 10 } };
    }
    case 'load': {
      const [load1 = 0] = loadavg();
      return { value: load1 > check.above, detail: { load1 } };
    }
    case 'file': {
      const signature = await fileSignature(pathOf(check.path, ctx));
      switch (check.state) {
        case 'exists':
          return { value: signature !== 'missing', detail: {} };
        case 'missing':
          return { value: signature === 'missing', detail: {} };
        case 'changed': {
          // The first look only records what the file is like; a change is a difference from it.
          const changed = ctx.previousSignature !== undefined && ctx.previousSignature !== signature;
          return {
            value: changed,
            signature,
            detail: changed ? { was: ctx.previousSignature, now: signature } : {},
          };
        }
        default:
          return check.state satisfies never;
      }
    }
    case 'http':
      return httpCheck(check, ctx);
    case 'state': {
      if (ctx.state === undefined) throw new Error('no state stores on this node');
      const scope = { state: { global: ctx.state.global.get(), node: ctx.state.node.get() } };
      return { value: isTruthy(evaluateExpression(parseExpression(check.expect), scope)), detail: {} };
    }
    case 'shell':
      return shellCheck(check, ctx);
    default:
      return check satisfies never;
  }
};
