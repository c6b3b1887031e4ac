//! Gives every view the one App controller.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { App } from '../state/app';

export const AppContext = createContext<App | null>(null);

export function useApp(): App {
  const app = useContext(AppContext);
  if (!app) throw new Error('useApp outside AppContext');
  return app;
}
