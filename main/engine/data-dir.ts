import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Chooses the data directory: an explicit `--data-dir`, else `ULTRAVISOR_HOME`, else the platform's
 * convention (XDG data home on Linux, Application Support on macOS, APPDATA on Windows).
 */
export function resolveDataDir(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (explicit !== undefined && explicit !== '') return resolve(explicit);
  const fromEnv = env.ULTRAVISOR_HOME;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  const home = env.HOME ?? homedir();
  switch (platform) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'Ultravisor');
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Ultravisor');
    default: {
      const xdg = env.XDG_DATA_HOME;
      return join(xdg !== undefined && xdg !== '' ? xdg : join(home, '.local', 'share'), 'ultravisor');
    }
  }
}

/** The fixed layout under the data directory; everything Ultravisor writes lives here. */
export function dataPaths(dataDir: string) {
  return {
    root: dataDir,
    runs: join(dataDir, 'runs'),
    operations: join(dataDir, 'operations'),
    state: join(dataDir, 'state'),
    files: join(dataDir, 'files'),
    nodeIdentity: join(dataDir, 'node.json'),
  };
}

/** Folder of one run: `<data-dir>/runs/<operationId>/<runId>/`. */
export function runDir(dataDir: string, operationId: string, runId: string): string {
  return join(dataDir, 'runs', operationId, runId);
}
