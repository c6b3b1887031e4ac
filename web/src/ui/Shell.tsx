//! The signed-in workspace: sidebar, conversation, side panel, dialogs,
//! banners. Owns routing (the URL /c/ID names the open channel) and global
//! shortcuts.

import { useEffect } from 'preact/hooks';
import { Conversation } from './Conversation';
import { useApp } from './context';
import { Icon } from './icons';
import { BrowseChannels, CreateChannel, NewMessage, QuickSwitcher } from './Dialogs';
import { AdminConsole } from './Admin';
import { ComplianceConsole } from './Compliance';
import { Inbox } from './Inbox';
import { SecurityDialog } from './Security';
import { ProfileDialog } from './Profile';
import { SidePanelView } from './SidePanel';
import { Sidebar } from './Sidebar';
import { Toasts } from './Toasts';

export function channelFromPath(pathname: string): number | null {
  const match = /^\/c\/(\d+)/.exec(pathname);
  return match ? Number(match[1]) : null;
}

export function Shell() {
  const app = useApp();

  useEffect(() => {
    void app.openChannel(channelFromPath(location.pathname), { fromHistory: true });
    const onPop = () => void app.openChannel(channelFromPath(location.pathname), { fromHistory: true });
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
        event.preventDefault();
        app.setModal(app.modal === 'switcher' ? null : 'switcher');
      } else if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown') && !app.modal) {
        // Alt+↑/↓ walks the sidebar, as in other team messengers.
        event.preventDefault();
        const order = [...app.channels.channelList(), ...app.channels.conversationList()].map((summary) => summary.channel.id);
        if (order.length === 0) return;
        const index = app.activeChannelId === null ? -1 : order.indexOf(app.activeChannelId);
        const next = event.key === 'ArrowDown' ? (index + 1) % order.length : (index - 1 + order.length) % order.length;
        void app.openChannel(order[next]!);
      }
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible') app.returnToTab();
    };
    window.addEventListener('popstate', onPop);
    window.addEventListener('keydown', onKey);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.removeEventListener('popstate', onPop);
      window.removeEventListener('keydown', onKey);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [app]);

  const view = app.activeChannelId === null && !app.inboxOpen ? 'list' : 'chat';
  const offline = app.status === 'offline' || (app.status === 'connecting' && app.ready);

  return (
    <div class="shell" data-view={view} data-panel={app.panel ? 'open' : 'closed'}>
      {offline && (
        <div class="banner offline" role="status">
          <Icon name="offline" size={18} />
          <span>You're offline. Reconnecting… Messages you send will go out when the connection is back.</span>
        </div>
      )}
      <Sidebar />
      {app.inboxOpen && app.activeChannelId === null ? <Inbox /> : <Conversation />}
      {app.panel && <SidePanelView />}
      {app.modal === 'create-channel' && <CreateChannel />}
      {app.modal === 'browse' && <BrowseChannels />}
      {app.modal === 'new-message' && <NewMessage />}
      {app.modal === 'switcher' && <QuickSwitcher />}
      {app.modal === 'security' && <SecurityDialog />}
      {app.modal === 'profile' && <ProfileDialog />}
      {app.modal === 'admin' && <AdminConsole />}
      {app.modal === 'compliance' && <ComplianceConsole />}
      {app.openModals === 0 && <Toasts />}
    </div>
  );
}
