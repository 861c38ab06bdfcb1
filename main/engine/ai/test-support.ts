import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { Manifest, TaskRecord } from '../model/manifest.js';

/** A URL on 127.0.0.1 where nothing listens (the port was free a moment ago), for "server down" tests. */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return `http://127.0.0.1:${port}`;
}

/** A task record for test manifests. */
export function taskRecord(overrides: Partial<TaskRecord> & { id: string }): TaskRecord {
  return {
    kind: 'shell',
    status: 'success',
    attempts: 1,
    durationMs: 1200,
    executions: [],
    log: `logs/${overrides.id}.log`,
    ...overrides,
  };
}

/** A finished run's manifest for tests; `overrides` replace top-level fields. */
export function testManifest(overrides: Partial<Manifest> = {}): Manifest {
  const runId = overrides.runId ?? '20240501-120000-abcd';
  return {
    manifestVersion: 1,
    runId,
    operation: { id: 'backup', name: 'Nightly backup' },
    node: { id: 'node-1', name: 'nas' },
    trigger: { kind: 'schedule', firedAt: '2024-05-01T12:00:00.000Z' },
    params: {},
    status: 'success',
    startedAt: '2024-05-01T12:00:00.000Z',
    endedAt: '2024-05-01T12:00:12.300Z',
    durationMs: 12_300,
    tasks: [
      taskRecord({ id: 'fetch', kind: 'http', output: { status: 200 } }),
      taskRecord({ id: 'archive' }),
    ],
    outputs: { files: [], data: [] },
    links: {
      run: `/data/runs/backup/${runId}`,
      manifest: `/data/runs/backup/${runId}/manifest.json`,
      logs: `/data/runs/backup/${runId}/logs`,
      staging: `/data/runs/backup/${runId}/staging`,
    },
    extra: {},
    ...overrides,
  };
}
