import { useSyncExternalStore } from 'react';
import { parseRoute, routeHref, type Route } from './route';

function subscribe(listener: () => void): () => void {
  window.addEventListener('hashchange', listener);
  return () => {
    window.removeEventListener('hashchange', listener);
  };
}

function snapshot(): string {
  return window.location.hash;
}

/** The current route, following the address bar's fragment. */
export function useRoute(): Route {
  return parseRoute(useSyncExternalStore(subscribe, snapshot));
}

export function navigate(route: Route): void {
  window.location.hash = routeHref(route);
}
