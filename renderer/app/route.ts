import { assertNever } from './assert-never';

/**
 * The UI's places, kept in the URL fragment (`#/runs/<runId>`).
 *
 * Fragment routes need nothing from the server: the node serves one index.html, and the same build
 * works from the desktop app's files.
 */
export type Route =
  | { view: 'operations' }
  | { view: 'runs'; operationId?: string }
  | { view: 'run'; runId: string; taskId?: string }
  | { view: 'notifications' }
  | { view: 'settings' };

export const defaultRoute: Route = { view: 'runs' };

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Reads a route from `location.hash`; anything unknown is the default route. */
export function parseRoute(hash: string): Route {
  const body = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = body.split('?', 2);
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decode);
  if (parts.some((p) => p === undefined)) return defaultRoute;
  const [first, second, third, fourth] = parts as string[];
  const params = new URLSearchParams(query);
  switch (first) {
    case 'operations':
      return { view: 'operations' };
    case 'runs': {
      if (second === undefined) {
        const operationId = params.get('operation');
        return operationId === null || operationId === '' ? { view: 'runs' } : { view: 'runs', operationId };
      }
      if (third === 'tasks' && fourth !== undefined) return { view: 'run', runId: second, taskId: fourth };
      return { view: 'run', runId: second };
    }
    case 'notifications':
      return { view: 'notifications' };
    case 'settings':
      return { view: 'settings' };
    case undefined:
    default:
      return defaultRoute;
  }
}

/** The fragment for a route (with the leading `#`). */
export function routeHref(route: Route): string {
  const e = encodeURIComponent;
  switch (route.view) {
    case 'operations':
      return '#/operations';
    case 'runs':
      return route.operationId === undefined ? '#/runs' : `#/runs?operation=${e(route.operationId)}`;
    case 'run':
      return route.taskId === undefined
        ? `#/runs/${e(route.runId)}`
        : `#/runs/${e(route.runId)}/tasks/${e(route.taskId)}`;
    case 'notifications':
      return '#/notifications';
    case 'settings':
      return '#/settings';
    default:
      return assertNever(route, 'route');
  }
}
