import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { checkOperation } from './check-operation.js';
import { formatPath, OperationFileError, type OperationIssue } from './operation-error.js';
import { normaliseTasks, operationSchema, type OperationDef } from './operation.js';

/** An operation and the file it came from (child operations resolve relative to it). */
export interface LoadedOperation {
  operation: OperationDef;
  file?: string;
}

function locate(
  doc: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
): { line?: number; column?: number } {
  // Walk to the deepest node that exists so a missing key still points at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = doc.getIn(path.slice(0, depth), true);
    if (node !== undefined && node !== null && typeof node === 'object' && 'range' in node) {
      const range = (node as { range?: [number, number, number] }).range;
      if (range) {
        const pos = lines.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    if (depth === 0 && (isMap(doc.contents) || isSeq(doc.contents))) break;
  }
  return {};
}

/**
 * Parses and validates operation text (YAML or JSON — JSON is YAML).
 *
 * Throws {@link OperationFileError} naming the file, the path and the line of every problem.
 */
export function parseOperation(text: string, file: string): OperationDef {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new OperationFileError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { path: '', message: e.message.split('\n')[0] ?? e.message, line: pos.line, column: pos.col };
      }),
    );
  }
  const raw: unknown = doc.toJS();
  const parsed = operationSchema.safeParse(raw);
  if (!parsed.success) {
    const issues: OperationIssue[] = parsed.error.issues.map((issue) => ({
      path: formatPath(issue.path),
      message: issue.message,
      ...locate(doc, lines, issue.path),
    }));
    throw new OperationFileError(file, issues);
  }
  const operation = normaliseTasks(parsed.data);
  const rawTasks = (raw as { tasks?: unknown }).tasks;
  const problems = checkOperation(operation, Array.isArray(rawTasks) ? rawTasks : undefined);
  if (problems.length > 0) {
    throw new OperationFileError(
      file,
      problems.map((p) => ({ ...p.issue, ...locate(doc, lines, p.keys) })),
    );
  }
  return operation;
}

/** Reads and validates an operation file. */
export async function loadOperationFile(path: string): Promise<LoadedOperation> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new OperationFileError(path, [
      { path: '', message: `cannot read the file: ${(err as Error).message}` },
    ]);
  }
  return { operation: parseOperation(text, path), file };
}
