import { formatDuration } from '../engine/model/duration.js';
import type { RunEvent } from '../engine/runner/run-events.js';

const symbols: Record<string, string> = {
  success: '✔',
  failure: '✖',
  timeout: '⏱',
  cancelled: '⊘',
  skipped: '↷',
};

interface Active {
  started: number;
  done: number;
  total?: number;
}

function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total}`;
}

/**
 * Draws a run's progress: one line per task as it ends, and on a terminal a live status line
 * with elapsed times and a bar for forEach tasks.
 */
export class ProgressView {
  private readonly active = new Map<string, Active>();
  private timer: NodeJS.Timeout | undefined;
  private statusShown = false;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }) {}

  private get live(): boolean {
    return this.out.isTTY === true;
  }

  handle(event: RunEvent, rootRunId: string | undefined): void {
    if (rootRunId !== undefined && event.runId !== rootRunId) return;
    switch (event.type) {
      case 'run-started':
        this.print(`▶ ${event.operationId}  run ${event.runId}`);
        if (this.live) this.timer = setInterval(() => this.drawStatus(), 200);
        break;
      case 'task-started':
        this.active.set(event.taskId, {
          started: Date.now(),
          done: 0,
          ...(event.items === undefined ? {} : { total: event.items }),
        });
        if (!this.live)
          this.print(`  … ${event.taskId}${event.items === undefined ? '' : ` (${event.items} items)`}`);
        break;
      case 'execution-ended': {
        const a = this.active.get(event.taskId);
        if (a) a.done = event.done;
        if (
          !this.live &&
          a?.total !== undefined &&
          a.total >= 10 &&
          event.done % Math.ceil(a.total / 10) === 0
        ) {
          this.print(`    ${event.taskId} ${bar(event.done, a.total)}`);
        }
        break;
      }
      case 'task-ended': {
        const took = event.durationMs === undefined ? '' : `  ${formatDuration(event.durationMs)}`;
        const why = event.error === undefined ? '' : `  ${event.error}`;
        this.active.delete(event.taskId);
        this.print(
          `  ${symbols[event.status] ?? '•'} ${event.taskId}${took}${event.status === 'skipped' ? '  skipped' : why}`,
        );
        break;
      }
      case 'run-ended':
        this.stop();
        break;
      case 'task-log':
        break;
      default:
        event satisfies never;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearStatus();
  }

  private print(line: string): void {
    this.clearStatus();
    this.out.write(`${line}\n`);
    this.drawStatus();
  }

  private clearStatus(): void {
    if (this.statusShown) this.out.write('\r\x1b[2K');
    this.statusShown = false;
  }

  private drawStatus(): void {
    if (!this.live || this.active.size === 0 || this.timer === undefined) return;
    const now = Date.now();
    const parts = [...this.active.entries()].map(([id, a]) => {
      const elapsed = formatDuration(now - a.started);
      return a.total === undefined ? `${id} ${elapsed}` : `${id} ${bar(a.done, a.total, 12)} ${elapsed}`;
    });
    this.out.write(`\r\x1b[2K  ⋯ ${parts.join('  ·  ')}`.slice(0, 200));
    this.statusShown = true;
  }
}
