import type { z } from 'zod';
import type { Logger } from '../engine/logger.js';
import { formatPath, OperationFileError } from '../engine/model/operation-error.js';
import { ParamError } from '../engine/runner/params.js';
import { CursorError } from '../engine/store/cursor.js';
import { DataStoreError } from '../engine/store/data-store.js';
import { WhereError } from '../engine/store/data-where.js';
import { ApiError } from './contract-client.js';
import {
  isMethodName,
  methods,
  type CallReply,
  type InputIssue,
  type MethodName,
  type MethodOutput,
  type MethodParsedInput,
} from './contract.js';

/** Who is calling, for handlers that shape answers per transport (download links). */
export interface CallContext {
  transport: 'http' | 'websocket' | 'in-process';
}

/** One handler per method, typed by the contract. */
export type Handlers = {
  [M in MethodName]: (
    input: MethodParsedInput<M>,
    ctx: CallContext,
  ) => Promise<MethodOutput<M>> | MethodOutput<M>;
};

/** Zod issues as `path: message` pairs (`params.city: expected string, received number`). */
export function inputIssues(error: z.ZodError): InputIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message.replace(/^Invalid input: /, ''),
  }));
}

/** A one-line message naming every issue, for clients that show only the message. */
export function issuesMessage(prefix: string, issues: readonly InputIssue[]): string {
  return `${prefix}: ${issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ')}`;
}

/** Maps what a handler threw to an API error; unexpected errors are logged and not described. */
export function toApiError(err: unknown, method: string, logger: Logger): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof OperationFileError) {
    const issues = err.issues.map((i) => ({ path: i.path, message: i.message }));
    return new ApiError('bad-request', err.message, issues);
  }
  if (
    err instanceof ParamError ||
    err instanceof CursorError ||
    err instanceof WhereError ||
    err instanceof DataStoreError
  ) {
    return new ApiError('bad-request', err.message);
  }
  logger.error({ err, method }, 'API handler failed');
  return new ApiError(
    'internal',
    `${method} failed on the node: ${err instanceof Error ? err.message : String(err)}`,
  );
}

function failure(err: ApiError): CallReply {
  return {
    ok: false,
    error: {
      code: err.code,
      message: err.message,
      ...(err.issues === undefined || err.issues.length === 0 ? {} : { issues: err.issues }),
    },
  };
}

/**
 * Runs one call the same way on every transport: method known (else `not-found`), input valid
 * for its schema (else `bad-request` with path-qualified issues), handler, output checked
 * against the contract (a mismatch is our bug: `internal`, logged).
 */
export async function dispatch(
  handlers: Handlers,
  method: string,
  rawInput: unknown,
  ctx: CallContext,
  logger: Logger,
): Promise<CallReply> {
  if (!isMethodName(method)) {
    return failure(new ApiError('not-found', `there is no method "${method}"; see docs/api.md for the list`));
  }
  const def = methods[method];
  const inputSchema: z.ZodType = def.input;
  const parsed = inputSchema.safeParse(rawInput ?? {});
  if (!parsed.success) {
    const issues = inputIssues(parsed.error);
    return failure(new ApiError('bad-request', issuesMessage(`${method}: invalid input`, issues), issues));
  }
  let result: unknown;
  try {
    const handler = handlers[method] as (input: unknown, ctx: CallContext) => unknown;
    result = await handler(parsed.data, ctx);
  } catch (err) {
    return failure(toApiError(err, method, logger));
  }
  const outputSchema: z.ZodType = def.output;
  const checked = outputSchema.safeParse(result);
  if (!checked.success) {
    logger.error({ method, issues: checked.error.issues }, 'API result does not fit the contract');
    return failure(
      new ApiError('internal', `${method}: the node built a result that does not fit the contract`),
    );
  }
  return { ok: true, result: checked.data };
}
