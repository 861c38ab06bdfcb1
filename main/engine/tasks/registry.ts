import { createLlmTask, type LlmTaskDeps } from '../ai/llm-task.js';
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

/** What the kinds with node-wide resources need: the `llm` kind's pool and settings. */
export interface TaskKindDeps {
  llm: LlmTaskDeps;
}

/**
 * The built-in task kinds.
 *
 * A factory rather than a constant because the `llm` kind shares the node's provider pool (one
 * queue per model server for tasks and summaries alike) and reads the node's settings.
 */
export function createTaskKinds(deps: TaskKindDeps): TaskKindRegistry {
  return {
    shell: shellTask,
    http: httpTask,
    state: stateTask,
    operation: operationTask,
    data: dataTask,
    file: fileTask,
    llm: createLlmTask(deps.llm),
  };
}
