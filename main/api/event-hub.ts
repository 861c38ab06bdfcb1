import type { Logger } from '../engine/logger.js';
import type { RunEvent } from '../engine/runner/run-events.js';
import { events, type EventName, type EventPayload } from './contract.js';
import { incompleteUtf8Tail } from './utf8-tail.js';

/** One published event: its sequence number, name, payload and (task.log) the run it belongs to. */
export interface HubEvent<E extends EventName = EventName> {
  seq: number;
  event: E;
  payload: EventPayload<E>;
  /** The run a task.log event belongs to, for per-connection log subscriptions. */
  logRun?: string;
  /** The event as a server message, serialised once and shared by every connection. */
  readonly wire: string;
}

export type HubListener = (event: HubEvent) => void;

export interface EventHubOptions {
  logger: Logger;
  /** How many events (task.log excluded) to keep for reconnecting clients. Default 2000. */
  replay?: number;
  now?: () => number;
}

/**
 * Numbers every event, fans it out to listeners, and keeps the recent ones for replay.
 *
 * Sequence numbers only grow, so a client that reconnects says the last one it saw and gets what
 * it missed, or learns (`gap`) that some are gone and it must re-fetch. task.log events are
 * numbered but not kept: they can be re-read with logs.read, and would push everything else out.
 */
export class EventHub {
  /**
   * Starts at the clock in microseconds, so numbers from an earlier life of the node (before a
   * restart) are always smaller and a client resuming across a restart is told about the gap.
   */
  private readonly firstSeq: number;
  private seqValue: number;
  /** The highest seq dropped from the replay buffer. */
  private evicted = 0;
  private readonly listeners = new Set<HubListener>();
  private readonly recent: HubEvent[] = [];
  private readonly replayCap: number;
  /** Per task execution log: bytes sent as text so far, and the start of a character still incomplete. */
  private readonly logs = new Map<string, { sent: number; carry: Buffer }>();

  constructor(private readonly options: EventHubOptions) {
    this.replayCap = options.replay ?? 2000;
    this.firstSeq = (options.now ?? Date.now)() * 1000;
    this.seqValue = this.firstSeq;
  }

  /** The latest sequence number given out. */
  get seq(): number {
    return this.seqValue;
  }

  /** Hears every event; returns a function that stops it. */
  subscribe(listener: HubListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `since` still held (task.log excluded); `gap` when older ones were let go. */
  replaySince(since: number): { events: HubEvent[]; gap: boolean } {
    // Numbers from before this hub started (another life of the node), or ones evicted from the
    // buffer, cannot be replayed; task.log events are never kept, and are not a gap.
    const gap = since < this.firstSeq || since < this.evicted || since > this.seqValue;
    return { events: gap ? [] : this.recent.filter((e) => e.seq > since), gap };
  }

  /** Publishes an event after checking its payload against the contract (a misfit is logged and dropped). */
  publish<E extends EventName>(event: E, payload: EventPayload<E>, logRun?: string): HubEvent<E> | undefined {
    if (event !== 'task.log') {
      const checked = events[event].safeParse(payload);
      if (!checked.success) {
        // A bug on our side; log it loudly and send nothing malformed.
        this.options.logger.error(
          { event, issues: checked.error.issues },
          'event payload does not fit the contract',
        );
        // Never thrown: this runs inside the engine's emit, and a bad event must not break a run.
        return undefined;
      }
    }
    const seq = ++this.seqValue;
    let wire: string | undefined;
    const hubEvent: HubEvent<E> = {
      seq,
      event,
      payload,
      ...(logRun === undefined ? {} : { logRun }),
      get wire() {
        wire ??= JSON.stringify({ type: 'event', seq, event, payload });
        return wire;
      },
    };
    if (event !== 'task.log') {
      this.recent.push(hubEvent);
      if (this.recent.length > this.replayCap) {
        const gone = this.recent.shift();
        if (gone !== undefined) this.evicted = gone.seq;
      }
    }
    for (const listener of this.listeners) {
      try {
        listener(hubEvent);
      } catch (err) {
        this.options.logger.error({ err, event }, 'event listener failed');
      }
    }
    return hubEvent;
  }

  /** Turns one engine event into API events. */
  publishRunEvent(event: RunEvent): void {
    switch (event.type) {
      case 'run-started': {
        const m = event.manifest;
        this.publish('run.started', {
          runId: event.runId,
          operationId: event.operationId,
          ...(m.operation.name === undefined ? {} : { operationName: m.operation.name }),
          trigger: m.trigger.kind,
          startedAt: m.startedAt,
          ...(m.parent === undefined ? {} : { parentRunId: m.parent.runId }),
        });
        break;
      }
      case 'task-started':
        this.publish('run.progress', {
          runId: event.runId,
          taskId: event.taskId,
          phase: 'task-started',
          ...(event.items === undefined ? {} : { items: event.items }),
        });
        break;
      case 'execution-ended':
        this.publish('run.progress', {
          runId: event.runId,
          taskId: event.taskId,
          phase: 'execution-ended',
          status: event.status,
          index: event.index,
          done: event.done,
          total: event.total,
        });
        break;
      case 'task-ended':
        this.publish('run.progress', {
          runId: event.runId,
          taskId: event.taskId,
          phase: 'task-ended',
          status: event.status,
          ...(event.durationMs === undefined ? {} : { durationMs: event.durationMs }),
          ...(event.error === undefined ? {} : { error: event.error }),
        });
        break;
      case 'task-log': {
        const key = `${event.runId}\u0000${event.taskId}\u0000${event.index}`;
        let log = this.logs.get(key);
        if (log === undefined) {
          log = { sent: 0, carry: Buffer.alloc(0) };
          this.logs.set(key, log);
        }
        // Text is cut at character boundaries; `offset` is where it starts in the log file, exactly.
        const data = log.carry.length === 0 ? event.chunk : Buffer.concat([log.carry, event.chunk]);
        const cut = data.length - incompleteUtf8Tail(data);
        log.carry = Buffer.from(data.subarray(cut));
        if (cut === 0) break;
        const offset = log.sent;
        log.sent += cut;
        const text = data.subarray(0, cut).toString('utf8');
        this.publish(
          'task.log',
          { runId: event.runId, taskId: event.taskId, index: event.index, offset, text },
          event.runId,
        );
        break;
      }
      case 'run-ended': {
        const m = event.manifest;
        const prefix = `${event.runId}\u0000`;
        for (const key of this.logs.keys()) if (key.startsWith(prefix)) this.logs.delete(key);
        this.publish('run.ended', {
          runId: event.runId,
          operationId: event.operationId,
          status: event.status,
          startedAt: m.startedAt,
          ...(m.endedAt === undefined ? {} : { endedAt: m.endedAt }),
          ...(m.durationMs === undefined ? {} : { durationMs: m.durationMs }),
          ...(m.error === undefined ? {} : { error: m.error }),
          ...(m.summary === undefined ? {} : { summaryTitle: m.summary.title }),
        });
        break;
      }
      default:
        event satisfies never;
    }
  }
}
