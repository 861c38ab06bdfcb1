import {
  ApiClient,
  type ApiTransport,
  type EventStreamHandlers,
  type StreamStatus,
} from '../../main/api/contract-client';
import type {
  CallReply,
  ErrorCode,
  EventName,
  EventPayload,
  MethodInput,
  MethodName,
  MethodOutput,
  Subscription,
} from '../../main/api/contract';

type Handler<M extends MethodName> = (input: MethodInput<M>) => MethodOutput<M> | Promise<MethodOutput<M>>;
type Handlers = { [M in MethodName]?: Handler<M> };

/** A handler's way to answer with an API error. */
export class FakeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A node in memory for store tests: methods answered by handlers the test sets, events pushed by
 * the test, and the real contract client on top (so results are checked against the contract).
 */
export class FakeNode {
  readonly calls: { method: MethodName; input: unknown }[] = [];
  subscription: Subscription | undefined;
  private readonly handlers: Handlers = {};
  private stream: EventStreamHandlers | undefined;
  private seq = 0;
  readonly client: ApiClient;

  constructor() {
    const transport: ApiTransport = {
      call: async (method, input) => this.answer(method, input),
      events: (subscription, handlers) => {
        this.subscription = subscription;
        this.stream = handlers;
        return {
          update: (next) => {
            this.subscription = next;
          },
          close: () => {
            this.stream = undefined;
          },
        };
      },
    };
    this.client = new ApiClient(transport);
  }

  handle<M extends MethodName>(method: M, handler: Handler<M>): void {
    (this.handlers as Record<string, unknown>)[method] = handler;
  }

  callsOf(method: MethodName): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.input);
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    this.seq += 1;
    this.stream?.onEvent({ seq: this.seq, event, payload });
  }

  status(status: StreamStatus): void {
    this.stream?.onStatus?.(status);
  }

  dropped(runIds: string[]): void {
    this.stream?.onDropped?.({ events: 1, runIds });
  }

  private async answer(method: MethodName, input: unknown): Promise<CallReply> {
    this.calls.push({ method, input });
    const handler = this.handlers[method] as ((input: unknown) => unknown) | undefined;
    if (handler === undefined)
      return { ok: false, error: { code: 'not-found', message: `no handler for ${method}` } };
    try {
      return { ok: true, result: await handler(input) };
    } catch (err) {
      if (err instanceof FakeError) return { ok: false, error: { code: err.code, message: err.message } };
      throw err;
    }
  }
}

/** Lets pending promise callbacks (and the ones they schedule) run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A promise with its resolve function, to hold a fake answer until the test releases it. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
