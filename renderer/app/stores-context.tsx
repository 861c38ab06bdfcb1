import { createContext, useContext } from 'react';
import type { AppStores } from './app-stores';

export const StoresContext = createContext<AppStores | null>(null);

/** The app's stores; only under a StoresContext provider (main.tsx sets one up). */
export function useStores(): AppStores {
  const stores = useContext(StoresContext);
  if (stores === null) throw new Error('useStores() needs a <StoresContext value={...}> above it');
  return stores;
}
