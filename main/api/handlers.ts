import { open, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { LlmPool } from '../engine/ai/llm-pool.js';
import { llmSettingsSchema } from '../engine/ai/llm-settings.js';
import type { NotificationFeed } from '../engine/ai/notification-feed.js';
import type { RunSummaryService } from '../engine/ai/summary-service.js';
import type { Logger } from '../engine/logger.js';
import type { Manifest as EngineManifest } from '../engine/model/manifest.js';
import { parseOperation } from '../engine/model/load-operation.js';
import { OperationFileError } from '../engine/model/operation-error.js';
import { triggerIds } from '../engine/model/trigger-spec.js';
import type { NodeIdentity } from '../engine/node-identity.js';
import type { UltravisorNode } from '../engine/node.js';
import { operationWarnings, type SavedOperation } from '../engine/operations/operation-store.js';
import { resolveParams } from '../engine/runner/params.js';
import type { JsonDocument } from '../engine/state/json-document.js';
import { findRunManifest, readManifest } from '../engine/store/manifest-files.js';
import type { RunRow as IndexRunRow } from '../engine/store/run-index.js';
import type { Stores } from '../engine/store/stores.js';
import { readControl, setOperationPaused, type ControlState } from '../engine/triggers/control-file.js';
import { describeTrigger } from '../engine/triggers/describe-trigger.js';
import type { GateOutcome } from '../engine/triggers/overlap-gate.js';
import { eventTriggers, upcomingFires } from '../engine/triggers/upcoming.js';
import { ApiError } from './contract-client.js';
import type { NodeStatus, OperationSummary, RunRow, TriggerOutcome } from './contract.js';
import type { Handlers } from './dispatch.js';
import type { SettingsStore } from './settings-store.js';
import { incompleteUtf8Tail } from './utf8-tail.js';

/** What the handlers work on: one node and the API's own pieces. */
export interface HandlerDeps {
  node: UltravisorNode;
  identity: NodeIdentity;
  settings: SettingsStore;
  logger: Logger;
  version: string;
  /** When the API (and so the served node) started, ms since the epoch. */
  startedAt: number;
  /** The latest event sequence number. */
  eventSeq: () => number;
  /** The notifications feed, when the node's stores are open. */
  feed: () => NotificationFeed | undefined;
  llm: LlmPool;
  /**
   * The node's run summary service (the one `serve` runs), for runs.summarize; undefined when
   * the API runs without one, and runs.summarize then answers `unavailable`.
   */
  summaries?: RunSummaryService;
  /** The download path of a stored file (the HTTP transport adds a short-lived ticket). */
  fileLink: (id: number) => string;
  /** Tells the API that node status changed (pause), so it publishes node.status. */
  changed: () => void;
  now?: () => number;
}

const defaultLogBytes = 64 * 1024;

function notFound(message: string): ApiError {
  return new ApiError('not-found', message);
}

function badInput(path: string, message: string): ApiError {
  return new ApiError('bad-request', `${path}: ${message}`, [{ path, message }]);
}

/** Time filters accept ISO text or epoch ms. */
function toMs(path: string, value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw badInput(path, `"${value}" is not a time: use ISO 8601 (2025-01-31T12:00:00Z) or epoch ms`);
  return ms;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A run's index row built from its manifest, for runs the index does not hold (yet). */
function rowFromManifest(m: EngineManifest, manifestPath: string): RunRow {
  return {
    runId: m.runId,
    operationId: m.operation.id,
    ...(m.operation.name === undefined ? {} : { operationName: m.operation.name }),
    status: m.status,
    trigger: m.trigger.kind,
    nodeId: m.node.id,
    nodeName: m.node.name,
    ...(m.parent === undefined ? {} : { parentRunId: m.parent.runId }),
    startedAt: m.startedAt,
    ...(m.endedAt === undefined ? {} : { endedAt: m.endedAt }),
    ...(m.durationMs === undefined ? {} : { durationMs: m.durationMs }),
    ...(m.error === undefined ? {} : { error: m.error }),
    ...(m.summary === undefined ? {} : { summaryTitle: m.summary.title, summaryText: m.summary.text }),
    dir: dirname(manifestPath),
    manifest: manifestPath,
  };
}

function outcomeOf(operationId: string, outcome: GateOutcome): TriggerOutcome {
  switch (outcome.type) {
    case 'started':
      return { outcome: 'started', runId: outcome.runId, operationId };
    case 'queued':
      return { outcome: 'queued', operationId };
    case 'skipped':
      return { outcome: 'skipped', operationId, reason: outcome.reason };
    case 'failed':
      return { outcome: 'failed', operationId, error: outcome.error };
    default:
      return outcome satisfies never;
  }
}

/** The node's status right now (synchronous, so events can carry it). */
export function nodeStatus(deps: HandlerDeps): NodeStatus {
  const { node } = deps;
  const now = (deps.now ?? Date.now)();
  const status = node.scheduler.status();
  const nextFires = status.operations
    .flatMap((op) => {
      const timed = op.triggers.filter((t) => t.kind !== 'condition' && t.nextAt !== undefined && t.armed);
      const soonest = timed.reduce<(typeof timed)[number] | undefined>(
        (best, t) => (best === undefined || (t.nextAt ?? Infinity) < (best.nextAt ?? Infinity) ? t : best),
        undefined,
      );
      return soonest?.nextAt === undefined
        ? []
        : [{ operationId: op.id, triggerId: soonest.triggerId, at: soonest.nextAt }];
    })
    .sort((a, b) => a.at - b.at)
    .map((f) => ({ ...f, at: iso(f.at) }));
  return {
    id: deps.identity.id,
    name: deps.identity.name,
    version: deps.version,
    pid: process.pid,
    dataDir: node.dataDir,
    startedAt: iso(deps.startedAt),
    uptimeMs: Math.max(0, now - deps.startedAt),
    paused: status.paused,
    operations: node.operations.list().length,
    activeRuns: node.runningRuns(),
    nextFires,
    eventSeq: deps.eventSeq(),
  };
}

/** Builds every handler of the contract over one node. */
export function createHandlers(deps: HandlerDeps): Handlers {
  const { node } = deps;
  const now = deps.now ?? Date.now;

  const stores = (): Stores => {
    const s = node.engine.stores;
    if (s === undefined)
      throw new ApiError('unavailable', "the node's stores could not be opened (see its log)");
    return s;
  };

  const saved = (id: string): SavedOperation => {
    const op = node.operations.get(id);
    if (op === undefined) throw notFound(`no operation "${id}" is saved on this node`);
    return op;
  };

  const summary = (op: SavedOperation, control: ControlState, at: number): OperationSummary => {
    const ids = triggerIds(op.operation.triggers);
    const scheduled = node.scheduler.status().operations.find((s) => s.id === op.id);
    const next = upcomingFires(op.operation, at, 1)[0];
    return {
      id: op.id,
      ...(op.operation.name === undefined ? {} : { name: op.operation.name }),
      ...(op.operation.description === undefined ? {} : { description: op.operation.description }),
      paused: op.id in control.pausedOperations,
      file: op.file,
      savedAt: op.savedAt.toISOString(),
      overlap: op.operation.overlap,
      running: scheduled?.running ?? 0,
      triggers: op.operation.triggers.map((t, i) => {
        const id = ids[i] ?? t.kind;
        const nextAt = scheduled?.triggers.find((s) => s.triggerId === id)?.nextAt;
        return {
          id,
          kind: t.kind,
          enabled: t.enabled,
          description: describeTrigger(t),
          ...(nextAt === undefined ? {} : { nextAt: iso(nextAt) }),
        };
      }),
      ...(next === undefined ? {} : { next: { at: iso(next.at), trigger: next.triggerId } }),
    };
  };

  /** The manifest path and index row of a run, from the index or (not indexed yet) the run folders. */
  const locateRun = async (runId: string): Promise<{ row: RunRow | undefined; manifestPath: string }> => {
    let indexed: IndexRunRow | undefined;
    try {
      indexed = stores().runs.get(runId);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
    if (indexed !== undefined) {
      const { tasks: _tasks, ...row } = indexed as IndexRunRow & { tasks?: unknown };
      return { row, manifestPath: indexed.manifest };
    }
    let found: string | undefined;
    try {
      found = await findRunManifest(node.dataDir, runId);
    } catch (err) {
      throw new ApiError('bad-request', (err as Error).message);
    }
    // Only an exact id: a prefix match is a CLI convenience, not an API one.
    if (found === undefined || !dirname(found).endsWith(`${sep}${runId}`)) {
      throw notFound(`no run "${runId}" on this node`);
    }
    return { row: undefined, manifestPath: found };
  };

  const readRun = async (runId: string): Promise<{ row: RunRow; manifest: EngineManifest }> => {
    const { row, manifestPath } = await locateRun(runId);
    let manifest: EngineManifest;
    try {
      manifest = await readManifest(manifestPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw notFound(`run "${runId}" has no manifest on disk any more`);
      throw err;
    }
    return { row: row ?? rowFromManifest(manifest, manifestPath), manifest };
  };

  const trigger = (id: string, params: Record<string, unknown>): TriggerOutcome => {
    const op = saved(id);
    try {
      resolveParams(op.operation, params);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new ApiError('bad-request', message, [{ path: 'params', message }]);
    }
    return outcomeOf(id, node.trigger(id, params));
  };

  const stateDoc = (scope: 'global' | 'node'): JsonDocument => node.engine.state[scope];

  const handlers: Handlers = {
    'node.status': () => nodeStatus(deps),
    'node.pause': async () => {
      await node.setPaused(true);
      deps.changed();
      return { paused: true as const };
    },
    'node.resume': async () => {
      await node.setPaused(false);
      deps.changed();
      return { paused: false as const };
    },
    'cluster.status': () => ({ role: 'standalone' as const, peers: [] }),

    'operations.list': async () => {
      const control = await readControl(node.dataDir);
      const at = now();
      return {
        paused: control.paused,
        operations: node.operations.list().map((op) => summary(op, control, at)),
        problems: node.operations.listProblems(),
      };
    },
    'operations.get': async ({ id }) => {
      const op = saved(id);
      return { operation: summary(op, await readControl(node.dataDir), now()), text: op.text };
    },
    'operations.save': async ({ text, source }) => {
      const result = await node.addOperation(text, source ?? 'operation text');
      return {
        id: result.saved.id,
        replaced: result.replaced,
        file: result.saved.file,
        warnings: result.warnings,
      };
    },
    'operations.validate': ({ text, source }) => {
      try {
        const operation = parseOperation(text, source ?? 'operation text');
        const warnings = operationWarnings(operation, (id) => node.operations.has(id) || id === operation.id);
        return { valid: true as const, id: operation.id, warnings };
      } catch (err) {
        if (!(err instanceof OperationFileError)) throw err;
        return {
          valid: false as const,
          message: err.message,
          issues: err.issues.map((i) => ({
            path: i.path,
            message: i.message,
            ...(i.line === undefined ? {} : { line: i.line }),
            ...(i.column === undefined ? {} : { column: i.column }),
          })),
        };
      }
    },
    'operations.delete': async ({ id }) => {
      if (!(await node.removeOperation(id))) throw notFound(`no operation "${id}" is saved on this node`);
      const control = await readControl(node.dataDir);
      if (id in control.pausedOperations) await setOperationPaused(node.dataDir, id, false);
      return { id, removed: true as const };
    },
    'operations.pause': async ({ id }) => {
      saved(id);
      await node.setOperationPaused(id, true);
      deps.changed();
      return { id, paused: true as const };
    },
    'operations.resume': async ({ id }) => {
      saved(id);
      await node.setOperationPaused(id, false);
      deps.changed();
      return { id, paused: false as const };
    },
    'operations.trigger': ({ id, params }) => trigger(id, params ?? {}),
    'operations.next': ({ id, count, from }) => {
      const ops = id === undefined ? node.operations.list() : [saved(id)];
      const start = toMs('from', from) ?? now();
      const n = count ?? (id === undefined ? 10 : 5);
      const fires = ops
        .flatMap((op) =>
          upcomingFires(op.operation, start, n).map((f) => ({
            operationId: op.id,
            at: iso(f.at),
            triggerId: f.triggerId,
            kind: f.kind,
            description: f.description,
            ms: f.at,
          })),
        )
        .sort((a, b) => a.ms - b.ms || (a.operationId < b.operationId ? -1 : 1))
        .slice(0, n)
        .map(({ ms: _ms, ...f }) => f);
      return {
        fires,
        eventTriggers: ops.flatMap((op) =>
          eventTriggers(op.operation).map((t) => ({ operationId: op.id, ...t })),
        ),
      };
    },

    'runs.list': (input) => {
      const from = toMs('from', input.from);
      const to = toMs('to', input.to);
      const page = stores().runs.list({
        ...(input.operationId === undefined ? {} : { operationId: input.operationId }),
        ...(input.status === undefined ? {} : { status: input.status }),
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        ...(input.text === undefined ? {} : { text: input.text }),
        ...(input.limit === undefined ? {} : { limit: input.limit }),
        ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
      });
      return page;
    },
    'runs.get': async ({ runId }) => {
      const { row, manifest } = await readRun(runId);
      return { run: row, manifest };
    },
    'runs.cancel': ({ runId, reason }) => ({
      runId,
      cancelled: node.engine.cancel(runId, reason ?? 'cancelled through the API'),
    }),
    'runs.retry': async ({ runId }) => {
      const { manifest } = await readRun(runId);
      if (manifest.parent !== undefined) {
        throw new ApiError(
          'bad-request',
          `run ${runId} is a child run of ${manifest.parent.runId}: retry that run instead`,
        );
      }
      return trigger(manifest.operation.id, manifest.params);
    },

    'runs.summarize': async ({ runId }) => {
      const { manifest } = await readRun(runId);
      if (manifest.status === 'running') {
        throw new ApiError('bad-request', `run ${runId} is still running: summarize it once it ends`);
      }
      const summaries = deps.summaries;
      if (summaries === undefined) {
        throw new ApiError(
          'unavailable',
          'this node runs no summary service, so runs.summarize cannot work here: call it on `ultravisor serve`, or run `ultravisor runs summarize <runId>` with no node running',
        );
      }
      const summary = await summaries.retry(manifest.runId);
      return { runId: manifest.runId, summary };
    },

    'logs.read': async ({ runId, taskId, index, offset, length }) => {
      const { manifestPath } = await locateRun(runId);
      const dir = dirname(manifestPath);
      const logsDir = join(dir, 'logs');
      const at = index ?? 0;
      const live = node.engine.activeRuns().includes(runId);
      let relative: string | undefined;
      let known = false;
      try {
        const manifest = await readManifest(manifestPath);
        const task = manifest.tasks.find((t) => t.id === taskId);
        const runs = task?.executions.filter((e) => e.index === at) ?? [];
        // A running run's task may not have printed (nor be recorded as started) yet.
        known = runs.length > 0 || (live && task !== undefined);
        relative = runs[runs.length - 1]?.log;
      } catch {
        // The manifest may be mid-write or unreadable; fall back to the log file names.
      }
      const candidates =
        relative === undefined
          ? [join(logsDir, `${taskId}.${at}.log`), ...(at === 0 ? [join(logsDir, `${taskId}.log`)] : [])]
          : [resolve(dir, relative)];
      let file: string | undefined;
      let size = 0;
      for (const candidate of candidates) {
        if (!resolve(candidate).startsWith(`${logsDir}${sep}`)) continue;
        const info = await stat(candidate).catch(() => undefined);
        if (info?.isFile() === true) {
          file = candidate;
          size = info.size;
          break;
        }
      }
      if (file === undefined) {
        // A success that printed nothing has no log file, and a running one has none until it prints.
        if (known) return { text: '', offset: 0, nextOffset: 0, size: 0, eof: true, live };
        throw notFound(`run ${runId} has no log for task "${taskId}" (index ${at})`);
      }
      const start = Math.min(offset ?? 0, size);
      const want = Math.min(length ?? defaultLogBytes, size - start);
      const buffer = Buffer.alloc(want);
      let read = 0;
      if (want > 0) {
        const handle = await open(file, 'r');
        try {
          while (read < want) {
            const { bytesRead } = await handle.read(buffer, read, want - read, start + read);
            if (bytesRead === 0) break;
            read += bytesRead;
          }
        } finally {
          await handle.close();
        }
      }
      // Stop before a UTF-8 sequence cut by the range, so the next read starts on a character.
      const end = start + read < size ? read - incompleteUtf8Tail(buffer.subarray(0, read)) : read;
      return {
        text: buffer.subarray(0, end).toString('utf8'),
        offset: start,
        nextOffset: start + end,
        size,
        eof: start + end >= size,
        live,
      };
    },

    'state.get': ({ scope, path }) => {
      let value: unknown;
      try {
        value = stateDoc(scope).get(path);
      } catch (err) {
        throw badInput('path', (err as Error).message);
      }
      return { scope, path: path ?? '', value };
    },
    'state.set': async ({ scope, path, op, value }) => {
      const doc = stateDoc(scope);
      const kind = op ?? 'set';
      try {
        switch (kind) {
          case 'set':
            if (value === undefined)
              throw badInput('value', 'required to set a value (use op: delete to remove one)');
            await doc.set(path, value);
            break;
          case 'merge':
            if (typeof value !== 'object' || value === null || Array.isArray(value)) {
              throw badInput('value', 'merge needs an object');
            }
            await doc.merge(path, value);
            break;
          case 'delete':
            await doc.delete(path);
            break;
          default:
            kind satisfies never;
        }
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw badInput('path', (err as Error).message);
      }
      return { scope, path, op: kind };
    },

    'data.collections': () => ({ collections: stores().data.collections() }),
    'data.query': (input) => {
      const from = toMs('from', input.from);
      const to = toMs('to', input.to);
      return stores().data.query({
        collection: input.collection,
        ...(input.key === undefined ? {} : { key: input.key }),
        ...(input.operationId === undefined ? {} : { operationId: input.operationId }),
        ...(input.runId === undefined ? {} : { runId: input.runId }),
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        ...(input.where === undefined ? {} : { where: input.where }),
        ...(input.order === undefined ? {} : { order: input.order }),
        ...(input.limit === undefined ? {} : { limit: input.limit }),
        ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
      });
    },

    'files.list': (input) => {
      const page = stores().files.list({
        ...(input.operationId === undefined ? {} : { operationId: input.operationId }),
        ...(input.runId === undefined ? {} : { runId: input.runId }),
        ...(input.limit === undefined ? {} : { limit: input.limit }),
        ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
      });
      return {
        files: page.files.map(({ path: _path, ...f }) => ({ ...f, download: deps.fileLink(f.id) })),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      };
    },

    'notifications.list': (input) => {
      const feed = deps.feed();
      if (feed === undefined) return { items: [], unread: 0 };
      const page = feed.list({
        ...(input.unread === undefined ? {} : { unread: input.unread }),
        ...(input.operationId === undefined ? {} : { operationId: input.operationId }),
        ...(input.limit === undefined ? {} : { limit: input.limit }),
        ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
      });
      return { ...page, unread: feed.unreadCount() };
    },
    'notifications.markRead': ({ ids }) => {
      const feed = deps.feed();
      if (feed === undefined) return { marked: 0, unread: 0 };
      const marked = feed.markRead(ids);
      return { marked, unread: feed.unreadCount() };
    },

    'settings.get': () => deps.settings.read(),
    'settings.set': (patch) => deps.settings.update(patch),

    'llm.models': async () => {
      const settings = await deps.settings.read();
      if (settings.llm === undefined) {
        return {
          configured: false as const,
          message:
            'no LLM configured: set one with settings.set {"llm": {"provider": "ollama", "model": "…"}}',
        };
      }
      const { provider } = deps.llm.handle(llmSettingsSchema.parse(settings.llm));
      const base = {
        configured: true as const,
        provider: provider.name,
        endpoint: provider.endpoint,
        defaultModel: provider.defaultModel,
      };
      try {
        const models = await provider.listModels(AbortSignal.timeout(5000));
        return { ...base, models };
      } catch (err) {
        return { ...base, models: [], error: err instanceof Error ? err.message : String(err) };
      }
    },
  };
  return handlers;
}
