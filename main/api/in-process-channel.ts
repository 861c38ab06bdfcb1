import type { Api } from './api-service.js';
import type { ApiTransport, EventStreamControl, EventStreamHandlers } from './contract-client.js';
import type { CallReply, MethodName, Subscription } from './contract.js';
import { SubscriptionFilter } from './subscription.js';

/**
 * Copies a value the way a process boundary would (JSON), so in-process callers cannot share
 * references with the node and see exactly what HTTP and IPC clients see.
 */
function overTheWire<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * The API as an in-process transport: the desktop IPC bridge reuses it on the main side, and tests
 * run the contract table over it beside HTTP.
 *
 * Calls go through the same dispatch (validation, errors, output check) as every transport;
 * events come from the same hub with the same per-connection subscription and `since` replay.
 */
export function inProcessTransport(api: Api): ApiTransport {
  return {
    async call(method: MethodName, input: unknown): Promise<CallReply> {
      const reply = await api.call(method, overTheWire(input), { transport: 'in-process' });
      return overTheWire(reply);
    },
    events(subscription: Subscription, handlers: EventStreamHandlers): EventStreamControl {
      return inProcessEvents(api, subscription, handlers);
    },
  };
}

/** One in-process event stream; `since` replays what the hub still holds after it. */
export function inProcessEvents(
  api: Api,
  subscription: Subscription,
  handlers: EventStreamHandlers,
  since?: number,
): EventStreamControl {
  const filter = new SubscriptionFilter(subscription);
  let gap = false;
  if (since !== undefined) {
    const replay = api.hub.replaySince(since);
    gap = replay.gap;
    for (const e of replay.events) {
      if (filter.matches(e))
        handlers.onEvent({ seq: e.seq, event: e.event, payload: overTheWire(e.payload) });
    }
  }
  const stop = api.hub.subscribe((e) => {
    if (filter.matches(e)) handlers.onEvent({ seq: e.seq, event: e.event, payload: overTheWire(e.payload) });
  });
  handlers.onStatus?.({ state: 'open', seq: api.hub.seq, gap });
  return {
    update(next) {
      filter.update(next);
    },
    close() {
      stop();
      handlers.onStatus?.({ state: 'closed', reason: 'closed by the client' });
    },
  };
}
