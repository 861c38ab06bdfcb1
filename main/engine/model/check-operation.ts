import {
  ExpressionError,
  expressionReferences,
  shellTemplateProblem,
  templateReferences,
} from '../template/index.js';
import type { OperationIssue } from './operation-error.js';
import { formatPath } from './operation-error.js';
import type { OperationDef, TaskDef } from './operation.js';

/** A problem found after the schema passed, with the raw key path used to find its line. */
export interface OperationProblem {
  issue: OperationIssue;
  keys: PropertyKey[];
}

/** Names a template or expression may start with. */
export const templateRoots = [
  'params',
  'tasks',
  'state',
  'item',
  'index',
  'run',
  'now',
  'env',
  'trigger',
] as const;

function problem(keys: PropertyKey[], message: string): OperationProblem {
  return { issue: { path: formatPath(keys), message }, keys };
}

/** Finds cycles with a depth-first walk; returns each cycle as a list of ids (first repeated last). */
function findCycle(tasks: readonly TaskDef[]): string[] | undefined {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const mark = state.get(id);
    if (mark === 'done') return undefined;
    if (mark === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const need of byId.get(id)?.needs ?? []) {
      if (!byId.has(need)) continue;
      const cycle = visit(need);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const task of tasks) {
    const cycle = visit(task.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Every task each task transitively needs. */
function ancestorsOf(tasks: readonly TaskDef[]): Map<string, Set<string>> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const memo = new Map<string, Set<string>>();
  const walk = (id: string): Set<string> => {
    const known = memo.get(id);
    if (known) return known;
    const result = new Set<string>();
    memo.set(id, result);
    for (const need of byId.get(id)?.needs ?? []) {
      result.add(need);
      for (const a of walk(need)) result.add(a);
    }
    return result;
  };
  return new Map(tasks.map((t) => [t.id, walk(t.id)]));
}

interface TemplateSite {
  keys: PropertyKey[];
  text: string;
  expression: boolean;
}

/** Every string in a value, with its key path: each one is a template. */
function collectStrings(value: unknown, keys: PropertyKey[], out: TemplateSite[]): void {
  if (typeof value === 'string') out.push({ keys, text: value, expression: false });
  else if (Array.isArray(value))
    value.forEach((v, i) => {
      collectStrings(v, [...keys, i], out);
    });
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) collectStrings(v, [...keys, k], out);
  }
}

function templateSites(task: TaskDef, index: number, rawKind: unknown): TemplateSite[] {
  const base: PropertyKey[] = ['tasks', index];
  const sites: TemplateSite[] = [];
  // The kind's value as written (before normalising short forms), so paths match the file.
  collectStrings(rawKind ?? task.spec, [...base, task.kind], sites);
  collectStrings(task.env, [...base, 'env'], sites);
  if (task.cwd !== undefined) sites.push({ keys: [...base, 'cwd'], text: task.cwd, expression: false });
  if (task.if !== undefined) sites.push({ keys: [...base, 'if'], text: task.if, expression: true });
  if (task.forEach !== undefined && !Array.isArray(task.forEach)) {
    collectStrings(task.forEach, [...base, 'forEach'], sites);
  }
  return sites;
}

function checkReference(
  ref: readonly string[],
  op: OperationDef,
  task: TaskDef,
  ancestors: ReadonlySet<string>,
  inForEachSource: boolean,
): string | undefined {
  const [root, name] = ref;
  if (root === undefined) return undefined;
  if (!(templateRoots as readonly string[]).includes(root)) {
    return `unknown name "${root}": a template starts with one of ${templateRoots.join(', ')}`;
  }
  if (root === 'params' && name !== undefined && !(name in op.params)) {
    const declared = Object.keys(op.params);
    return `params.${name} is not declared: add it under params${declared.length ? ` (declared: ${declared.join(', ')})` : ''}`;
  }
  if (root === 'tasks' && name !== undefined) {
    if (!op.tasks.some((t) => t.id === name)) return `tasks.${name} names no task in this operation`;
    if (name === task.id) return `a task cannot read its own output (tasks.${name})`;
    if (!ancestors.has(name)) return `tasks.${name} may not have run yet: add "${name}" to needs`;
  }
  if ((root === 'item' || root === 'index') && (task.forEach === undefined || inForEachSource)) {
    return `${root} exists only inside a task with forEach`;
  }
  return undefined;
}

function rawKindOf(rawTasks: readonly unknown[] | undefined, index: number, kind: string): unknown {
  const raw = rawTasks?.[index];
  return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[kind] : undefined;
}

/**
 * Checks what the schema cannot: ids, needs, cycles and every template's syntax and names.
 *
 * `rawTasks` are the tasks as written, so template paths name what the user wrote.
 */
export function checkOperation(op: OperationDef, rawTasks?: readonly unknown[]): OperationProblem[] {
  const problems: OperationProblem[] = [];
  const seen = new Map<string, number>();
  op.tasks.forEach((task, i) => {
    const first = seen.get(task.id);
    if (first !== undefined)
      problems.push(problem(['tasks', i, 'id'], `duplicate task id "${task.id}" (also tasks[${first}])`));
    else seen.set(task.id, i);
  });
  op.tasks.forEach((task, i) => {
    task.needs.forEach((need, j) => {
      if (need === task.id)
        problems.push(problem(['tasks', i, 'needs', j], `task "${task.id}" needs itself`));
      else if (!seen.has(need)) {
        problems.push(problem(['tasks', i, 'needs', j], `needs "${need}", but no task has that id`));
      }
    });
  });
  if (problems.length > 0) return problems;
  const cycle = findCycle(op.tasks);
  if (cycle) {
    const at = seen.get(cycle[0] ?? '') ?? 0;
    return [problem(['tasks', at, 'needs'], `tasks form a cycle: ${cycle.join(' → ')}`)];
  }
  const ancestors = ancestorsOf(op.tasks);
  op.tasks.forEach((task, i) => {
    for (const site of templateSites(task, i, rawKindOf(rawTasks, i, task.kind))) {
      let refs: string[][];
      try {
        refs = site.expression ? expressionReferences(site.text) : templateReferences(site.text);
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        problems.push(problem(site.keys, `${err.message} in "${site.text}"`));
        continue;
      }
      const inForEachSource = site.keys[2] === 'forEach';
      for (const ref of refs) {
        const message = checkReference(ref, op, task, ancestors.get(task.id) ?? new Set(), inForEachSource);
        if (message) problems.push(problem(site.keys, message));
      }
    }
    const shellProblem = shellCommandProblem(task, i, rawKindOf(rawTasks, i, task.kind));
    if (shellProblem) problems.push(shellProblem);
  });
  return problems;
}

/** A shell string whose placeholders stand where no value can be quoted safely. */
function shellCommandProblem(task: TaskDef, index: number, rawKind: unknown): OperationProblem | undefined {
  if (task.kind !== 'shell' || typeof task.spec.command !== 'string') return undefined;
  let message: string | undefined;
  try {
    message = shellTemplateProblem(task.spec.command);
  } catch (err) {
    if (err instanceof ExpressionError) return undefined; // Reported with the template's syntax above.
    throw err;
  }
  if (message === undefined) return undefined;
  const keys: PropertyKey[] = ['tasks', index, 'shell', ...(typeof rawKind === 'string' ? [] : ['command'])];
  return problem(keys, message);
}
