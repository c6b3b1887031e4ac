//! Entry point: creates the controller, renders the app, registers the
//! service worker.

import { render } from 'preact';
import { App } from './state/app';
import { Root } from './ui/Root';
import './styles.css';

const app = new App();
const container = document.getElementById('app');
if (container) render(<Root app={app} />, container);
void app.resume();

window.addEventListener('online', () => app.reconnectNow());

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => undefined);
  });
}
