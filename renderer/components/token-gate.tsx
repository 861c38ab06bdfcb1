/** Why the UI cannot talk to the node. */
export type GateReason = 'missing' | 'refused' | 'forbidden';

/**
 * The page shown instead of the app when there is no usable token (or the node refuses the page).
 *
 * It says exactly where the token comes from, since that is the one thing the user can do.
 */
export function TokenGate({ reason }: { reason: GateReason }) {
  const title =
    reason === 'missing' ? (
      <>
        This page needs the token from <code>ultravisor serve</code>
      </>
    ) : reason === 'refused' ? (
      'The node refused this token'
    ) : (
      'The node refused this page'
    );
  return (
    <div className="gate">
      <main className="card" data-gate={reason}>
        <h1>{title}</h1>
        {reason === 'forbidden' ? (
          <p>
            The node only accepts its own pages (the WebSocket origin did not match). Open the UI from the
            address that <code>ultravisor serve</code> printed rather than through another host name or proxy.
          </p>
        ) : (
          <>
            <p>
              {reason === 'missing' ? null : (
                <>
                  The token this tab had is not the node’s token: this page needs the token from{' '}
                  <code>ultravisor serve</code>.{' '}
                </>
              )}
              Every request to the node must carry its token, so nobody else on this machine or network can
              run your operations.
            </p>
            <p>Open the one-click link it printed when it started, which looks like:</p>
            <pre>http://127.0.0.1:&lt;port&gt;/#token=…</pre>
            <p className="muted">
              The token travels in the part after <code>#</code>, which the browser never sends to a server.
              The page keeps it for this tab only and removes it from the address bar.
            </p>
          </>
        )}
      </main>
    </div>
  );
}
