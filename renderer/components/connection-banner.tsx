import { useStore } from 'zustand';
import { useStores } from '../app/stores-context';

/** Says so when the live link to the node is down, so nobody trusts a stale list. */
export function ConnectionBanner() {
  const { connection } = useStores();
  const status = useStore(connection, (s) => s.status);
  const detail = useStore(connection, (s) => s.detail);
  if (status !== 'reconnecting') return null;
  return (
    <div className="banner warning" role="status" title={detail}>
      <span className="dot wait" />
      <span className="grow">
        <strong>Disconnected — reconnecting…</strong> Live updates are paused; what you see may be out of
        date.
      </span>
    </div>
  );
}

/** The small status line at the foot of the navigation. */
export function ConnectionIndicator() {
  const { connection } = useStores();
  const status = useStore(connection, (s) => s.status);
  const [dot, text] =
    status === 'connected'
      ? ['ok', 'Live']
      : status === 'connecting'
        ? ['wait', 'Connecting…']
        : status === 'reconnecting'
          ? ['wait', 'Reconnecting…']
          : ['bad', 'Not connected'];
  return (
    <div className="node-status" data-connection={status}>
      <span className={`dot ${dot}`} />
      {text}
    </div>
  );
}
