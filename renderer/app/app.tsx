import { useStore } from 'zustand';
import { ConnectionBanner, ConnectionIndicator } from '../components/connection-banner';
import { TokenGate } from '../components/token-gate';
import { NotificationsView, SettingsView } from '../views/placeholder-views';
import { OperationsView } from '../views/operations-view';
import { RunDetailView } from '../views/run-detail-view';
import { RunsView } from '../views/runs-view';
import { assertNever } from './assert-never';
import { routeHref, type Route } from './route';
import { useStores } from './stores-context';
import { useRoute } from './use-route';

type Section = 'operations' | 'runs' | 'notifications' | 'settings';

function sectionOf(route: Route): Section {
  return route.view === 'run' ? 'runs' : route.view;
}

function Nav({ current }: { current: Section }) {
  const { operations, runs, node } = useStores();
  const nodeName = useStore(node, (s) => s.status?.name);
  const nodeTitle = useStore(node, (s) =>
    s.status === undefined
      ? undefined
      : `node ${s.status.id} · Ultravisor ${s.status.version} · ${s.status.dataDir}`,
  );
  const operationCount = useStore(operations, (s) => (s.loaded ? s.operations.length : undefined));
  const running = useStore(runs, (s) => s.runs.filter((r) => r.status === 'running').length);
  const items: { section: Section; label: string; href: string; count?: number | undefined }[] = [
    {
      section: 'runs',
      label: 'Runs',
      href: routeHref({ view: 'runs' }),
      count: running > 0 ? running : undefined,
    },
    {
      section: 'operations',
      label: 'Operations',
      href: routeHref({ view: 'operations' }),
      count: operationCount,
    },
    { section: 'notifications', label: 'Notifications', href: routeHref({ view: 'notifications' }) },
    { section: 'settings', label: 'Settings', href: routeHref({ view: 'settings' }) },
  ];
  return (
    <nav className="nav" aria-label="Main">
      <div className="brand" title={nodeTitle}>
        Ultravisor
        <small>{nodeName ?? '\u00a0'}</small>
      </div>
      {items.map((item) => (
        <a key={item.section} href={item.href} aria-current={item.section === current ? 'page' : undefined}>
          {item.label}
          {item.count === undefined ? null : (
            <span className={item.section === 'runs' ? 'count live' : 'count'}>{item.count}</span>
          )}
        </a>
      ))}
      <div className="spacer" />
      <ConnectionIndicator />
    </nav>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.view) {
    case 'operations':
      return <OperationsView />;
    case 'runs':
      return <RunsView operationId={route.operationId} />;
    case 'run':
      return <RunDetailView key={route.runId} runId={route.runId} taskId={route.taskId} />;
    case 'notifications':
      return <NotificationsView />;
    case 'settings':
      return <SettingsView />;
    default:
      return assertNever(route, 'route');
  }
}

/** The whole UI: navigation on the left, the current page on the right, or the token page when refused. */
export function App() {
  const { connection } = useStores();
  const status = useStore(connection, (s) => s.status);
  const route = useRoute();
  if (status === 'unauthorized') return <TokenGate reason="refused" />;
  if (status === 'forbidden') return <TokenGate reason="forbidden" />;
  return (
    <div className="shell">
      <Nav current={sectionOf(route)} />
      <main className="main">
        <ConnectionBanner />
        <Page route={route} />
      </main>
    </div>
  );
}
