import type { TaskKindName } from '../model/operation.js';
import { dataTask } from './data-task.js';
import { fileTask } from './file-task.js';
import { httpTask } from './http-task.js';
import { operationTask } from './operation-task.js';
import { shellTask } from './shell-task.js';
import { stateTask } from './state-task.js';
import type { TaskKind } from './task-kind.js';

/** Every task kind the engine can run, keyed by the field that names it in an operation file. */
export type TaskKindRegistry = { [K in TaskKindName]: TaskKind<K> };

export const builtInTaskKinds: TaskKindRegistry = {
  shell: shellTask,
  http: httpTask,
  state: stateTask,
  operation: operationTask,
  data: dataTask,
  file: fileTask,
};
