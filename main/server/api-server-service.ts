import { Api, type ApiOptions } from '../api/api-service.js';
import type { Logger } from '../engine/logger.js';
import type { NodeService, UltravisorNode } from '../engine/node.js';
import { ApiServer, type ApiServerOptions } from './api-server.js';
import { loadOrCreateToken } from './node-token.js';
import { removeServeInfo, writeServeInfo } from './serve-info.js';

export interface ApiServerServiceOptions
  extends
    Omit<ApiServerOptions, 'api' | 'token' | 'logger'>,
    Pick<ApiOptions, 'feed' | 'llm' | 'summaries' | 'replay'> {
  logger?: Logger;
}

/** Where a started server listens, and the token it wants. */
export interface ListeningInfo {
  url: string;
  host: string;
  port: number;
  token: string;
  /** The asked-for port was taken and a free one was used. */
  fellBack: boolean;
}

/**
 * The API server as a node service: started with the node, stopped before it.
 *
 * At start it loads (or creates) the node token, listens, and writes `<data-dir>/serve.json` so
 * the CLI on this machine finds the node; at stop it removes that file first, then closes.
 */
export class ApiServerService implements NodeService {
  readonly name = 'api-server';
  private server: ApiServer | undefined;
  private apiValue: Api | undefined;
  private infoValue: ListeningInfo | undefined;

  constructor(private readonly options: ApiServerServiceOptions = {}) {}

  /** Where it listens (after start). */
  get info(): ListeningInfo | undefined {
    return this.infoValue;
  }

  get api(): Api | undefined {
    return this.apiValue;
  }

  async start(node: UltravisorNode): Promise<void> {
    const logger = (this.options.logger ?? node.logger).child({ component: 'server' });
    const token = await loadOrCreateToken(node.dataDir, logger);
    const { feed, llm, summaries, replay, ...serverOptions } = this.options;
    const api = await Api.create(node, {
      logger,
      ...(feed === undefined ? {} : { feed }),
      ...(llm === undefined ? {} : { llm }),
      ...(summaries === undefined ? {} : { summaries }),
      ...(replay === undefined ? {} : { replay }),
    });
    const server = new ApiServer({ ...serverOptions, api, token, logger });
    try {
      const listening = await server.listen();
      this.infoValue = { ...listening, token };
      await writeServeInfo(node.dataDir, { url: listening.url, pid: process.pid });
    } catch (err) {
      await server.close().catch(() => undefined);
      api.close();
      throw err;
    }
    this.server = server;
    this.apiValue = api;
    logger.info({ url: this.infoValue.url }, 'API listening');
  }

  async stop(node: UltravisorNode): Promise<void> {
    await removeServeInfo(node.dataDir);
    await this.server?.close();
    this.apiValue?.close();
    this.server = undefined;
    this.apiValue = undefined;
  }
}
