import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connectToNode } from './api/node-connection';
import { forgetToken, splitTokenFragment, takeToken } from './api/token';
import { App } from './app/app';
import { createAppStores } from './app/app-stores';
import { StoresContext } from './app/stores-context';
import { TokenGate } from './components/token-gate';
import { createConnectionStore } from './stores/connection-store';
import './styles.css';

const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root element');
const root = createRoot(container);

const env = { location: window.location, history: window.history, storage: window.sessionStorage };
const token = takeToken(env);

// Pasting a one-click URL into a tab already on this page only changes the fragment (no reload):
// take the new token and start over with it.
window.addEventListener('hashchange', () => {
  if (splitTokenFragment(window.location.hash).token === undefined) return;
  takeToken(env);
  window.location.reload();
});

if (token === undefined) {
  root.render(<TokenGate reason="missing" />);
} else {
  const connection = createConnectionStore();
  const client = connectToNode({
    pageUrl: window.location.href,
    token,
    onUnauthorized: () => {
      forgetToken(env);
      connection.getState().refused();
    },
  });
  const stores = createAppStores(client, connection);
  root.render(
    <StrictMode>
      <StoresContext value={stores}>
        <App />
      </StoresContext>
    </StrictMode>,
  );
}
