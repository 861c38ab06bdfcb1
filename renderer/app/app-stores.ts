import type { ApiClient } from '../../main/api/contract-client';
import { createConnectionStore, type ConnectionStore } from '../stores/connection-store';
import { createLogsStore, type LogsStore } from '../stores/logs-store';
import { createNodeStore, type NodeStore } from '../stores/node-store';
import { createOperationsStore, type OperationsStore } from '../stores/operations-store';
import { isFinished } from '../stores/run-item';
import { createRunsStore, type RunsStore } from '../stores/runs-store';

/** Everything the views read from: the client and the stores fed by it. */
export interface AppStores {
  client: ApiClient;
  connection: ConnectionStore;
  node: NodeStore;
  operations: OperationsStore;
  runs: RunsStore;
  logs: LogsStore;
}

/**
 * Builds the stores over a client and keeps them fresh: a first fetch at once (so lists show even
 * if the event stream is slow to come up), and a re-fetch each time the stream (re)opens, which
 * repairs whatever happened while it was down.
 */
export function createAppStores(
  client: ApiClient,
  connection: ConnectionStore = createConnectionStore(),
): AppStores {
  const node = createNodeStore(client);
  const operations = createOperationsStore(client);
  const runs = createRunsStore(client);
  const logs = createLogsStore(client);
  const refetch = (): void => {
    void node.getState().refresh();
    void operations.getState().refresh();
    void runs.getState().refresh();
    for (const [runId, detail] of Object.entries(runs.getState().details)) {
      if (detail?.manifest === undefined || !isFinished(detail.manifest.status))
        void runs.getState().loadDetail(runId);
    }
  };
  client.onStatus((status) => {
    connection.getState().streamStatus(status);
    if (status.state === 'open') refetch();
  });
  refetch();
  return { client, connection, node, operations, runs, logs };
}
