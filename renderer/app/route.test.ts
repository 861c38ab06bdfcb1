import { describe, expect, it } from 'vitest';
import { defaultRoute, parseRoute, routeHref, type Route } from './route';

describe('routes', () => {
  const routes: Route[] = [
    { view: 'operations' },
    { view: 'runs' },
    { view: 'runs', operationId: 'nightly-report' },
    { view: 'run', runId: '20250101T000000000Z-abc' },
    { view: 'run', runId: 'r:1', taskId: 'fetch all' },
    { view: 'notifications' },
    { view: 'settings' },
  ];

  it.each(routes)('round-trips %j through the fragment', (route) => {
    expect(parseRoute(routeHref(route))).toEqual(route);
  });

  it('falls back to the runs list for anything it does not know', () => {
    expect(parseRoute('')).toEqual(defaultRoute);
    expect(parseRoute('#')).toEqual(defaultRoute);
    expect(parseRoute('#/nope')).toEqual(defaultRoute);
    expect(parseRoute('#/runs/%E0%A4%A')).toEqual(defaultRoute);
  });

  it('encodes ids so a slash in one cannot change the route', () => {
    const href = routeHref({ view: 'run', runId: 'a/b' });
    expect(href).toBe('#/runs/a%2Fb');
    expect(parseRoute(href)).toEqual({ view: 'run', runId: 'a/b' });
  });
});
