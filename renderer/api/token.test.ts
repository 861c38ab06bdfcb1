import { describe, expect, it } from 'vitest';
import { forgetToken, splitTokenFragment, takeToken, tokenStorageKey, type TokenEnvironment } from './token';

function fakeEnv(hash: string, stored?: string) {
  const storage = new Map<string, string>(stored === undefined ? [] : [[tokenStorageKey, stored]]);
  const replaced: string[] = [];
  const env: TokenEnvironment = {
    location: { hash, pathname: '/', search: '' },
    history: {
      state: null,
      replaceState: (_state: unknown, _title: string, url?: string | URL | null) => {
        replaced.push(String(url));
      },
    },
    storage: {
      getItem: (k) => storage.get(k) ?? null,
      setItem: (k, v) => storage.set(k, v),
      removeItem: (k) => storage.delete(k),
    },
  };
  return { env, storage, replaced };
}

describe('splitTokenFragment', () => {
  it('takes the token out of the fragment and keeps the rest', () => {
    expect(splitTokenFragment('#token=abc')).toEqual({ token: 'abc', rest: '' });
    expect(splitTokenFragment('#token=abc&x=1')).toEqual({ token: 'abc', rest: '#x=1' });
    expect(splitTokenFragment('#token=a%2Bb')).toEqual({ token: 'a+b', rest: '' });
    expect(splitTokenFragment('#token=a+b/c=')).toEqual({ token: 'a+b/c=', rest: '' });
  });

  it('leaves fragments without a token alone', () => {
    expect(splitTokenFragment('#/runs/r1')).toEqual({ token: undefined, rest: '#/runs/r1' });
    expect(splitTokenFragment('')).toEqual({ token: undefined, rest: '' });
    expect(splitTokenFragment('#/runs?mytoken=1')).toEqual({ token: undefined, rest: '#/runs?mytoken=1' });
  });

  it('treats an empty token as none', () => {
    expect(splitTokenFragment('#token=').token).toBeUndefined();
  });
});

describe('takeToken', () => {
  it('stores the token from the fragment and strips it from the address bar', () => {
    const { env, storage, replaced } = fakeEnv('#token=s3cret');
    expect(takeToken(env)).toBe('s3cret');
    expect(storage.get(tokenStorageKey)).toBe('s3cret');
    expect(replaced).toEqual(['/']);
    expect(replaced.join()).not.toContain('s3cret');
  });

  it('prefers a token in the fragment over a stored one (a new one-click URL wins)', () => {
    const { env, storage } = fakeEnv('#token=new', 'old');
    expect(takeToken(env)).toBe('new');
    expect(storage.get(tokenStorageKey)).toBe('new');
  });

  it('falls back to the token kept for this tab, without touching the address bar', () => {
    const { env, replaced } = fakeEnv('#/runs', 'kept');
    expect(takeToken(env)).toBe('kept');
    expect(replaced).toEqual([]);
  });

  it('returns undefined when the page was opened without one', () => {
    expect(takeToken(fakeEnv('').env)).toBeUndefined();
  });

  it('forgets a refused token', () => {
    const { env, storage } = fakeEnv('', 'bad');
    forgetToken(env);
    expect(storage.has(tokenStorageKey)).toBe(false);
  });
});
