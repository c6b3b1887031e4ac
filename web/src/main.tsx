//! Entry point: creates the controller, renders the app, registers the
//! service worker.

import { render } from 'preact';
import { App } from './state/app';
import { Root } from './ui/Root';
import { readSsoFragment, ssoErrorText } from './state/sso';
import './styles.css';

const app = new App();
// Single sign-on returns with the token (or an error) in the fragment:
// read it, then remove it so it is neither bookmarked nor shared.
const sso = readSsoFragment(location.hash);
if (sso) history.replaceState(null, '', location.pathname + location.search);
if (sso && 'token' in sso) void app.signInWithToken(sso.token);
else {
  if (sso) app.ssoError = ssoErrorText(sso.error);
  void app.resume();
}
const container = document.getElementById('app');
if (container) render(<Root app={app} />, container);

window.addEventListener('online', () => app.reconnectNow());

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => undefined);
  });
}
