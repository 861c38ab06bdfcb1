import {
  ApiClient,
  httpTransport,
  type ApiTransport,
  type MinimalSocket,
  type StreamStatus,
} from '../../main/api/contract-client';

export interface NodeConnectionOptions {
  /** The page's URL; the node's API lives beside it (`<origin>/api/...`). */
  pageUrl: string;
  token: string;
  /** Told once when the node refuses the token (a call answered 401, or the event stream closed 4401). */
  onUnauthorized: () => void;
  /** Opens a WebSocket (the browser's by default). */
  openSocket?: (url: string, protocols: string[]) => MinimalSocket;
  fetch?: typeof fetch;
}

/** Close codes from the contract's WebSocket protocol, as they appear at the start of a closed stream's reason. */
const refusedCloseCode = /^(4401|4403)\b/;

/** Whether a stream status says the node refused us for good (wrong token or origin): no retry will help. */
export function refusedBy(status: StreamStatus): 'unauthorized' | 'forbidden' | undefined {
  if (status.state !== 'closed') return undefined;
  const match = refusedCloseCode.exec(status.reason);
  if (match === null) return undefined;
  return match[1] === '4401' ? 'unauthorized' : 'forbidden';
}

/**
 * The API client for a page served by `ultravisor serve`: calls over `POST /api/<method>` with the
 * token as a bearer header, events over the `/api/events` WebSocket (the token goes in the
 * handshake's subprotocol list, never in a URL).
 *
 * The one place the renderer picks a transport; the desktop app will pick IPC here instead.
 */
export function connectToNode(options: NodeConnectionOptions): ApiClient {
  const origin = new URL(options.pageUrl).origin;
  const openSocket =
    options.openSocket ??
    ((url: string, protocols: string[]) => new WebSocket(url, protocols) as MinimalSocket);
  const inner = httpTransport({
    baseUrl: origin,
    token: options.token,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    connect: openSocket,
  });
  let refused = false;
  const refuse = (): void => {
    if (refused) return;
    refused = true;
    options.onUnauthorized();
  };
  const transport: ApiTransport = {
    async call(method, input) {
      const reply = await inner.call(method, input);
      if (!reply.ok && reply.error.code === 'unauthorized') refuse();
      return reply;
    },
  };
  const events = inner.events?.bind(inner);
  if (events !== undefined) {
    transport.events = (subscription, handlers) =>
      events(subscription, {
        ...handlers,
        onStatus: (status) => {
          if (refusedBy(status) === 'unauthorized') refuse();
          handlers.onStatus?.(status);
        },
      });
  }
  return new ApiClient(transport);
}
