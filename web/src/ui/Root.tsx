//! Top of the view tree: re-renders when the controller changes and picks
//! between the sign-in screen and the workspace.

import { useEffect, useState } from 'preact/hooks';
import type { App } from '../state/app';
import { AppContext } from './context';
import { Shell } from './Shell';
import { RestrictedScreen } from './Security';
import { SignIn } from './SignIn';

export function Root({ app }: { app: App }) {
  const [, setVersion] = useState(app.version);
  useEffect(() => app.subscribe(() => setVersion(app.version)), [app]);
  return <AppContext.Provider value={app}>{!app.token ? <SignIn /> : app.restriction ? <RestrictedScreen /> : <Shell />}</AppContext.Provider>;
}
