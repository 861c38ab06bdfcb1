import { describe, expect, it } from 'vitest';
import type { MinimalSocket } from '../../main/api/contract-client';
import { connectToNode, refusedBy } from './node-connection';

class FakeSocket implements MinimalSocket {
  readyState = 0;
  readonly sent: string[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  send(data: string): void {
    this.sent.push(data);
  }

  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
}

function setup(reply: { status: number; body: unknown }) {
  const requests: { url: string; init: RequestInit }[] = [];
  const sockets: FakeSocket[] = [];
  let refused = 0;
  const client = connectToNode({
    pageUrl: 'http://127.0.0.1:4000/#/runs',
    token: 'tok-123',
    onUnauthorized: () => {
      refused += 1;
    },
    fetch: (input, init) => {
      requests.push({ url: input instanceof Request ? input.url : input.toString(), init: init ?? {} });
      return Promise.resolve(new Response(JSON.stringify(reply.body), { status: reply.status }));
    },
    openSocket: (url, protocols) => {
      const socket = new FakeSocket(url, protocols);
      sockets.push(socket);
      return socket;
    },
  });
  return { client, requests, sockets, refused: () => refused };
}

describe('connectToNode', () => {
  it('calls POST /api/<method> on the page’s origin with the token as a bearer header, never in the URL', async () => {
    const { client, requests } = setup({
      status: 200,
      body: { ok: true, result: { paused: false, operations: [], problems: [] } },
    });
    await expect(client.call('operations.list', {})).resolves.toEqual({
      paused: false,
      operations: [],
      problems: [],
    });
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.url).toBe('http://127.0.0.1:4000/api/operations.list');
    expect(request?.init.method).toBe('POST');
    expect(new Headers(request?.init.headers).get('authorization')).toBe('Bearer tok-123');
    expect(request?.url).not.toContain('tok-123');
  });

  it('reports a refused token once, and the call fails with code unauthorized', async () => {
    const { client, refused } = setup({
      status: 401,
      body: { ok: false, error: { code: 'unauthorized', message: 'a valid node token is required' } },
    });
    await expect(client.call('operations.list', {})).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(client.call('runs.list', {})).rejects.toMatchObject({ code: 'unauthorized' });
    expect(refused()).toBe(1);
  });

  it('opens the event stream at /api/events with the token in the handshake, not the URL', () => {
    const { client, sockets } = setup({ status: 200, body: {} });
    client.on('run.started', () => undefined);
    expect(sockets).toHaveLength(1);
    const [socket] = sockets;
    expect(socket?.url).toBe('ws://127.0.0.1:4000/api/events');
    expect(socket?.protocols).toEqual(['ultravisor', 'token.tok-123']);
  });

  it('reports a refused token when the node closes the stream with 4401', () => {
    const { client, sockets, refused } = setup({ status: 200, body: {} });
    client.on('run.started', () => undefined);
    sockets[0]?.open();
    sockets[0]?.close(4401, 'wrong token');
    expect(refused()).toBe(1);
  });
});

describe('refusedBy', () => {
  it('tells a refusal from an ordinary drop', () => {
    expect(refusedBy({ state: 'closed', reason: '4401 wrong token' })).toBe('unauthorized');
    expect(refusedBy({ state: 'closed', reason: '4403' })).toBe('forbidden');
    expect(refusedBy({ state: 'closed', reason: '1006' })).toBeUndefined();
    expect(refusedBy({ state: 'closed', reason: '44010' })).toBeUndefined();
    expect(refusedBy({ state: 'open', seq: 1, gap: false })).toBeUndefined();
  });
});
