import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LlmPool } from '../engine/ai/llm-pool.js';
import { NotificationFeed } from '../engine/ai/notification-feed.js';
import type { RunSummaryService } from '../engine/ai/summary-service.js';
import type { Logger } from '../engine/logger.js';
import { loadNodeIdentity, type NodeIdentity } from '../engine/node-identity.js';
import type { UltravisorNode } from '../engine/node.js';
import type { OperationChange } from '../engine/operations/operation-store.js';
import type { RunEvent } from '../engine/runner/run-events.js';
import type { StateChange } from '../engine/state/json-document.js';
import type { CallReply } from './contract.js';
import { dispatch, type CallContext, type Handlers } from './dispatch.js';
import { EventHub } from './event-hub.js';
import { createHandlers, nodeStatus, type HandlerDeps } from './handlers.js';
import { SettingsStore } from './settings-store.js';

/** The version in package.json, read once. */
export function ultravisorVersion(): string {
  try {
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8');
    return z.object({ version: z.string() }).parse(JSON.parse(text)).version;
  } catch {
    return '0.0.0';
  }
}

export interface ApiOptions {
  logger?: Logger;
  /** The node's notifications feed; by default one over the node's stores database. */
  feed?: NotificationFeed;
  /** The node's LLM pool; by default the API's own. */
  llm?: LlmPool;
  /**
   * The node's run summary service: runs.summarize goes through it and its rewrites become
   * run.summary events. Without one, runs.summarize answers `unavailable`.
   */
  summaries?: RunSummaryService;
  /** The download path of a stored file (the HTTP transport signs it). */
  fileLink?: (id: number) => string;
  /** Events kept for reconnecting clients (default 2000). */
  replay?: number;
  now?: () => number;
}

/**
 * The API over one node, transport-neutral: the handlers, the event hub and their wiring.
 *
 * Every transport (HTTP + WebSocket, the in-process channel, the desktop IPC) calls {@link call}
 * and listens to {@link hub}; none of them knows a method by name.
 */
export class Api {
  readonly hub: EventHub;
  readonly settings: SettingsStore;
  private readonly handlers: Handlers;
  private readonly handlerDeps: HandlerDeps;
  private readonly logger: Logger;
  private readonly detach: (() => void)[] = [];
  private statusTimer: NodeJS.Immediate | undefined;
  private feed: NotificationFeed | undefined;
  private readonly ownsLlm: boolean;
  private readonly llm: LlmPool;
  fileLink: (id: number) => string;

  private constructor(
    readonly node: UltravisorNode,
    readonly identity: NodeIdentity,
    private readonly options: ApiOptions,
  ) {
    this.logger = (options.logger ?? node.logger).child({ component: 'api' });
    this.hub = new EventHub({
      logger: this.logger,
      ...(options.replay === undefined ? {} : { replay: options.replay }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    this.settings = new SettingsStore(node.dataDir);
    this.ownsLlm = options.llm === undefined;
    this.llm = options.llm ?? new LlmPool();
    this.feed = options.feed;
    this.fileLink = options.fileLink ?? ((id) => `/files/${id}`);
    this.handlerDeps = this.deps();
    this.handlers = createHandlers(this.handlerDeps);
  }

  /** Builds the API over a node (opened or started) and starts relaying its events. */
  static async create(node: UltravisorNode, options: ApiOptions = {}): Promise<Api> {
    const identity = await loadNodeIdentity(node.dataDir);
    const api = new Api(node, identity, options);
    api.attach();
    return api;
  }

  private deps(): HandlerDeps {
    return {
      node: this.node,
      identity: this.identity,
      settings: this.settings,
      logger: this.logger,
      version: ultravisorVersion(),
      startedAt: (this.options.now ?? Date.now)(),
      eventSeq: () => this.hub.seq,
      feed: () => this.notificationFeed(),
      llm: this.llm,
      ...(this.options.summaries === undefined ? {} : { summaries: this.options.summaries }),
      fileLink: (id) => this.fileLink(id),
      changed: () => {
        this.statusChanged();
      },
      ...(this.options.now === undefined ? {} : { now: this.options.now }),
    };
  }

  /** Runs one call: method lookup, input validation, handler, output check. */
  call(method: string, input: unknown, ctx: CallContext): Promise<CallReply> {
    return dispatch(this.handlers, method, input, ctx, this.logger);
  }

  /** The notifications feed over the node's database, opened on first use. */
  notificationFeed(): NotificationFeed | undefined {
    if (this.feed === undefined) {
      const stores = this.node.engine.stores;
      if (stores === undefined) return undefined;
      this.feed = new NotificationFeed(stores.db);
      this.watchFeed(this.feed);
    }
    return this.feed;
  }

  private watchFeed(feed: NotificationFeed): void {
    this.detach.push(
      feed.onAdded((n) => {
        this.hub.publish('notification.added', n);
      }),
    );
  }

  private attach(): void {
    const { node } = this;
    // Open the stores first, so the run index hears a run end before API clients do: a client
    // that calls runs.get on run.ended sees the final row.
    if (node.engine.stores === undefined)
      this.logger.warn('the stores are not open: runs, data and files calls will fail');
    const onRun = (event: RunEvent): void => {
      // Runs inside the engine's emit: whatever goes wrong here must not reach the run.
      try {
        this.hub.publishRunEvent(event);
        if (event.type === 'run-started' || event.type === 'run-ended') this.statusChanged();
      } catch (err) {
        this.logger.error({ err, event: event.type }, 'run event not relayed');
      }
    };
    node.engine.on('event', onRun);
    this.detach.push(() => node.engine.off('event', onRun));

    for (const scope of ['global', 'node'] as const) {
      const doc = node.engine.state[scope];
      const onChange = (change: StateChange): void => {
        this.hub.publish('state.changed', {
          scope,
          path: change.path,
          op: change.op,
          ...(change.value === undefined ? {} : { value: change.value }),
        });
      };
      doc.on('change', onChange);
      this.detach.push(() => doc.off('change', onChange));
    }

    const onOperation = (change: OperationChange): void => {
      this.hub.publish('operations.changed', { id: change.id, change: change.type });
      this.statusChanged();
    };
    node.operations.on('change', onOperation);
    this.detach.push(() => node.operations.off('change', onOperation));

    if (this.feed !== undefined) this.watchFeed(this.feed);
    else this.notificationFeed();

    const summaries = this.options.summaries;
    if (summaries !== undefined) {
      this.detach.push(
        summaries.onSummary((written) => {
          this.hub.publish('run.summary', written);
        }),
      );
    }
  }

  /** Publishes node.status once for a burst of changes. */
  statusChanged(): void {
    if (this.statusTimer !== undefined) return;
    this.statusTimer = setImmediate(() => {
      this.statusTimer = undefined;
      try {
        this.hub.publish('node.status', nodeStatus(this.handlerDeps));
      } catch (err) {
        this.logger.error({ err }, 'node.status event failed');
      }
    });
  }

  /** Stops relaying events and releases what the API opened. */
  close(): void {
    for (const undo of this.detach.splice(0).reverse()) undo();
    if (this.statusTimer !== undefined) clearImmediate(this.statusTimer);
    this.statusTimer = undefined;
    if (this.ownsLlm) this.llm.close();
  }
}
