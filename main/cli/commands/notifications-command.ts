import type { Command } from 'commander';
import { NotificationFeed } from '../../engine/ai/notification-feed.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';
import { viaNode } from '../node-client.js';
import { parseLimit, withStores } from './store-command.js';

export interface NotificationsListOptions {
  unread: boolean;
  op?: string;
  limit: string;
  cursor?: string;
  json: boolean;
}

/** `ultravisor notifications list`: the notifications pane, newest first. */
export async function notificationsListCommand(
  ctx: CliContext,
  options: NotificationsListOptions,
): Promise<number> {
  const query = {
    ...(options.unread ? { unread: true } : {}),
    ...(options.op === undefined ? {} : { operationId: options.op }),
    limit: parseLimit(options.limit, 500),
    ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
  };
  const page = await viaNode(
    ctx,
    ({ client }) => client.call('notifications.list', query),
    () =>
      withStores(ctx, (stores) => {
        const feed = new NotificationFeed(stores.db);
        return Promise.resolve({ ...feed.list(query), unread: feed.unreadCount() });
      }),
  );
  if (options.json) {
    ctx.out.write(`${JSON.stringify(page, null, 2)}\n`);
    return exitCodes.ok;
  }
  if (page.items.length === 0) ctx.out.write('no notifications\n');
  for (const n of page.items) {
    ctx.out.write(
      `${n.readAt === undefined ? '●' : ' '} ${String(n.id).padStart(5)}  ${n.createdAt}  ${n.severity.padEnd(7)}  ${n.title}\n`,
    );
    for (const line of n.text.split('\n')) ctx.out.write(`         ${line}\n`);
  }
  ctx.out.write(`${page.unread} unread\n`);
  if (page.nextCursor !== undefined) ctx.err.write(`more: --cursor ${page.nextCursor}\n`);
  return exitCodes.ok;
}

/** `ultravisor notifications read <ids...>|--all`: marks notifications read. */
export async function notificationsReadCommand(
  ctx: CliContext,
  ids: readonly string[],
  options: { all: boolean },
): Promise<number> {
  if (options.all === ids.length > 0) throw new UsageError('give notification ids or --all');
  const list = ids.map((id) => {
    if (!/^[1-9]\d*$/.test(id)) throw new UsageError(`"${id}" is not a notification id`);
    return Number(id);
  });
  const which = options.all ? ('all' as const) : list;
  const result = await viaNode(
    ctx,
    ({ client }) => client.call('notifications.markRead', { ids: which }),
    () =>
      withStores(ctx, (stores) => {
        const feed = new NotificationFeed(stores.db);
        const marked = feed.markRead(which);
        return Promise.resolve({ marked, unread: feed.unreadCount() });
      }),
  );
  ctx.out.write(`marked ${result.marked} read; ${result.unread} unread\n`);
  return exitCodes.ok;
}

export function registerNotificationsCommands(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  const cmd = root.command('notifications').description('the notifications pane: run summaries and digests');
  cmd
    .command('list', { isDefault: true })
    .description('list notifications, newest first')
    .option('--unread', 'only unread ones', false)
    .option('--op <id>', 'only this operation')
    .option('--limit <n>', 'at most this many', '20')
    .option('--cursor <cursor>', 'the next page, as printed after the previous one')
    .option('--json', 'as JSON: { items, nextCursor, unread }', false)
    .action(async (opts: NotificationsListOptions) => {
      setExit(await notificationsListCommand(ctx(), opts));
    });
  cmd
    .command('read')
    .description('mark notifications read')
    .argument('[ids...]', 'notification ids')
    .option('--all', 'every notification', false)
    .action(async (ids: string[], opts: { all: boolean }) => {
      setExit(await notificationsReadCommand(ctx(), ids, opts));
    });
}
