import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin, type ProxyOptions } from 'vite';

const rendererRoot = fileURLToPath(new URL('./renderer', import.meta.url));
const outDir = fileURLToPath(new URL('./dist/renderer', import.meta.url));

/**
 * Drops the CSP meta tag from index.html under `vite` (dev server) only.
 *
 * The dev server injects an inline React Refresh preamble that a strict `script-src 'self'`
 * forbids. The built app — what `ultravisor serve` and the desktop app load — keeps the tag.
 */
function devWithoutCsp(): Plugin {
  return {
    name: 'ultravisor-dev-without-csp',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace(/<meta\s+http-equiv="Content-Security-Policy"[^>]*>\s*/, ''),
  };
}

/**
 * `vite` (dev) forwards `/api` (calls and the event WebSocket) to a running `ultravisor serve`:
 * `ULTRAVISOR_URL=http://127.0.0.1:7531 npx vite`, then open the dev page with `#token=<token>`.
 *
 * The node accepts pages of its own origin only, so the proxy presents the node's origin: it is
 * a local development tool, and the token is still required on every request.
 */
const devTarget = process.env['ULTRAVISOR_URL'];

function devProxy(target: string): Record<string, ProxyOptions> {
  const origin = new URL(target).origin;
  return {
    '/api': {
      target,
      ws: true,
      configure: (proxy) => {
        proxy.on('proxyReq', (req) => {
          if (req.getHeader('origin') !== undefined) req.setHeader('origin', origin);
        });
        proxy.on('proxyReqWs', (req) => {
          req.setHeader('origin', origin);
        });
      },
    },
  };
}

// eslint-disable-next-line no-restricted-syntax -- Vite reads the config from a default export.
export default defineConfig({
  root: rendererRoot,
  // Relative asset URLs: the same build works under `ultravisor serve` and from the desktop app's files.
  base: './',
  plugins: [react(), devWithoutCsp()],
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    host: '127.0.0.1',
    ...(devTarget === undefined ? {} : { proxy: devProxy(devTarget) }),
  },
});
