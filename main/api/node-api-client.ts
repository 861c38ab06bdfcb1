import { WebSocket } from 'ws';
import { ApiClient, httpTransport, type MinimalSocket, type SocketFactory } from './contract-client.js';

/** Opens a WebSocket with `ws`, shaped like the browser's (the event stream needs only that). */
export const nodeSocketFactory: SocketFactory = (url, protocols) => {
  const socket = new WebSocket(url, protocols, { perMessageDeflate: false });
  return socket as unknown as MinimalSocket;
};

export interface NodeApiClientOptions {
  /** The node's base URL (serve.json's `url`). */
  url: string;
  token: string;
  /** Reconnect delays for the event stream, ms. */
  backoffMs?: readonly number[];
}

/**
 * An API client for Node programs (the CLI, benchmarks, tests): calls over HTTP with the global
 * `fetch`, events over the `ws` WebSocket client. Same calls and event shapes as the browser's.
 */
export function nodeApiClient(options: NodeApiClientOptions): ApiClient {
  return new ApiClient(
    httpTransport({
      baseUrl: options.url.replace(/\/$/, ''),
      token: options.token,
      connect: nodeSocketFactory,
      ...(options.backoffMs === undefined ? {} : { backoffMs: options.backoffMs }),
    }),
  );
}
