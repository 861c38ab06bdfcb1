import type { Manifest, OperationSummary, RunRow } from '../../main/api/contract';

export function runRow(runId: string, startedAt: string, extra: Partial<RunRow> = {}): RunRow {
  return {
    runId,
    operationId: 'hello',
    operationName: 'Hello',
    status: 'success',
    trigger: 'manual',
    nodeId: 'n1',
    nodeName: 'box',
    startedAt,
    endedAt: startedAt,
    durationMs: 10,
    dir: `/data/runs/hello/${runId}`,
    manifest: `/data/runs/hello/${runId}/manifest.json`,
    ...extra,
  };
}

export function manifest(runId: string, extra: Partial<Manifest> = {}): Manifest {
  return {
    manifestVersion: 1,
    runId,
    operation: { id: 'hello', name: 'Hello' },
    node: { id: 'n1', name: 'box' },
    trigger: { kind: 'manual', firedAt: '2025-01-01T00:00:00.000Z' },
    params: {},
    status: 'running',
    startedAt: '2025-01-01T00:00:00.000Z',
    tasks: [
      { id: 'greet', kind: 'shell', status: 'pending', attempts: 0, executions: [] },
      { id: 'count', kind: 'shell', status: 'pending', attempts: 0, executions: [] },
    ],
    outputs: { files: [], data: [] },
    links: { run: '/data/run', manifest: '/data/run/manifest.json', logs: '/data/run/logs' },
    extra: {},
    ...extra,
  };
}

export function operation(id: string, extra: Partial<OperationSummary> = {}): OperationSummary {
  return {
    id,
    name: id,
    paused: false,
    file: `/data/operations/${id}.yaml`,
    savedAt: '2025-01-01T00:00:00.000Z',
    overlap: 'skip',
    running: 0,
    triggers: [],
    ...extra,
  };
}
