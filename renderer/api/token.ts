/**
 * The node token: read once from the one-click URL's fragment, then kept in sessionStorage.
 *
 * `ultravisor serve` prints `http://127.0.0.1:<port>/#token=<token>`. A fragment never reaches the
 * server, proxies or logs; we take the token out of it and strip it from the address bar at once,
 * so it does not linger in history, bookmarks or screenshots. sessionStorage keeps it for reloads
 * of this tab only. It never goes into a query string.
 */

export const tokenStorageKey = 'ultravisor.token';

export interface TokenFragment {
  /** The token, if the fragment carried one. */
  token: string | undefined;
  /** The fragment without the token (`''` when nothing else was in it), to put back in the address bar. */
  rest: string;
}

/**
 * Splits `#token=abc&x=y` into the token and what remains.
 *
 * Parsed by hand rather than with URLSearchParams, which would turn a `+` in a token into a space.
 */
export function splitTokenFragment(hash: string): TokenFragment {
  const body = hash.startsWith('#') ? hash.slice(1) : hash;
  const parts = body.split('&');
  const index = parts.findIndex((p) => p.startsWith('token='));
  if (index === -1) return { token: undefined, rest: hash };
  const raw = (parts[index] ?? '').slice('token='.length);
  let token: string;
  try {
    token = decodeURIComponent(raw);
  } catch {
    token = raw;
  }
  const rest = parts.filter((_, i) => i !== index).join('&');
  return { token: token === '' ? undefined : token, rest: rest === '' ? '' : `#${rest}` };
}

/** The parts of `window` the token handling touches, so tests can pass fakes. */
export interface TokenEnvironment {
  location: Pick<Location, 'hash' | 'pathname' | 'search'>;
  history: Pick<History, 'replaceState' | 'state'>;
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
}

/**
 * Takes the token from the fragment (storing it and stripping it from the address bar), else from
 * sessionStorage. Returns undefined when the page was opened without one.
 */
export function takeToken(env: TokenEnvironment): string | undefined {
  const { token, rest } = splitTokenFragment(env.location.hash);
  if (token !== undefined) {
    env.storage.setItem(tokenStorageKey, token);
    env.history.replaceState(env.history.state, '', `${env.location.pathname}${env.location.search}${rest}`);
    return token;
  }
  const stored = env.storage.getItem(tokenStorageKey);
  return stored === null || stored === '' ? undefined : stored;
}

/** Forgets a token the node refused, so a reload shows the "needs the token" page instead of failing again. */
export function forgetToken(env: Pick<TokenEnvironment, 'storage'>): void {
  env.storage.removeItem(tokenStorageKey);
}
