/**
 * Places the contract already serves but this UI does not show yet: notifications (LLM run
 * summaries) and node settings. They say what will be here and how to get at it meanwhile.
 */
export function NotificationsView() {
  return (
    <>
      <header className="page-header">
        <div>
          <h1>Notifications</h1>
          <div className="subtitle">Short summaries of runs, written by the local LLM</div>
        </div>
      </header>
      <section className="card">
        <div className="empty">
          The notifications pane is coming. Meanwhile, each run’s summary shows in <a href="#/runs">Runs</a>.
        </div>
      </section>
    </>
  );
}

export function SettingsView() {
  return (
    <>
      <header className="page-header">
        <div>
          <h1>Settings</h1>
          <div className="subtitle">Theme, notifications and the LLM this node uses</div>
        </div>
      </header>
      <section className="card">
        <div className="empty">
          Settings are coming to this page. Meanwhile they live in <code>settings.json</code> in the node’s
          data folder.
        </div>
      </section>
    </>
  );
}
