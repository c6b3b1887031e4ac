// End-to-end steps for issue 12's web-client items: message actions on a
// touch phone (long press opens an action sheet, swipe right replies in a
// thread, no text-selection popup) and popup menus that stay on screen on
// the desktop; the delete dialog's honest wording; admin changes confirmed,
// toasted and undoable; leaving a private channel confirmed; the audit log
// by name with an actor picker; what a guest sees; the customer inbox's
// preview line and composer; :shortcode: emoji, the unread count in the tab
// title, attachments in attach order, voice-note length, and no stray
// requests. run.mjs registers these with registerPhoneAndAdmin(context)
// after the inbox steps, while no acceptable-use policy is published yet.

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

export function registerPhoneAndAdmin(ctx) {
  const { test, pages, api, newPage, signIn, baseUrl, axe, screenshot, until, assert, sleep, openChannel, messageWith, composer, ALICE, BOB, DANA } = ctx;
  const GINA = { email: 'gina@example.com', name: 'Gina Guest', password: 'a long guest password 42' };
  /** The guest's own API session, for reading what she is a member of. */
  const GINA_SESSION = { email: GINA.email };

  const channelNamed = async (user, name) => (await api(user, 'GET', '/channels')).find((summary) => summary.channel.name === name).channel.id;

  /** Touches the screen through the DevTools protocol, as a finger would. */
  const touch = async (page) => {
    const cdp = await page.context().newCDPSession(page);
    const dispatch = (type, points) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y]) => ({ x, y })) });
    return {
      longPress: async (x, y, ms = 800) => {
        await dispatch('touchStart', [[x, y]]);
        await sleep(ms);
        await dispatch('touchEnd', []);
      },
      swipe: async (x, y, dx) => {
        await dispatch('touchStart', [[x, y]]);
        for (let step = 1; step <= 8; step += 1) {
          await dispatch('touchMove', [[x + (dx * step) / 8, y]]);
          await sleep(16);
        }
        await dispatch('touchEnd', []);
      },
    };
  };

  const centreOf = async (locator) => {
    const box = await locator.boundingBox();
    assert(box, 'the element is on screen');
    return [box.x + box.width / 2, box.y + Math.min(box.height / 2, 20)];
  };

  test('on a phone, a long press opens large message actions and a swipe right replies in a thread', async () => {
    const generalId = await channelNamed(ALICE, 'general');
    await api(ALICE, 'POST', `/channels/${generalId}/messages`, { text: 'Long-press me on a phone' });
    const phone = await newPage('phone-touch', PHONE);
    pages.phoneTouch = phone;
    await signIn(phone, BOB);
    assert(await phone.evaluate(() => matchMedia('(pointer: coarse)').matches), 'the phone context has a coarse pointer');
    await openChannel(phone, 'general');
    const target = messageWith(phone, 'Long-press me on a phone');
    await target.waitFor();
    // No hover toolbar on a touch screen: the sheet replaces it.
    assert(!(await target.locator('.message-actions').isVisible()), 'the desktop toolbar is hidden under touch');
    const fingers = await touch(phone);
    const [x, y] = await centreOf(target.locator('.message-text'));
    await fingers.longPress(x, y);
    const sheet = phone.getByRole('dialog', { name: 'Message actions' });
    await sheet.waitFor();
    assert((await phone.evaluate(() => String(window.getSelection()))) === '', 'no text was selected by the long press');
    for (const name of ['Reply in thread', 'Copy text', 'Pin message', 'React with 👍']) {
      const box = await sheet.getByRole('button', { name }).boundingBox();
      assert(box && box.height >= 44, `"${name}" is a large target (${box?.height}px)`);
    }
    await screenshot(phone, 'phone-message-action-sheet');
    await axe(phone, 'phone-message-action-sheet');
    const like = await centreOf(sheet.getByRole('button', { name: 'React with 👍' }));
    await phone.touchscreen.tap(...like);
    await sheet.waitFor({ state: 'detached' });
    await target.locator('.reaction.mine', { hasText: '👍' }).waitFor();

    // The sheet's "Reply in thread" opens the thread.
    await fingers.longPress(x, y);
    await sheet.waitFor();
    await phone.touchscreen.tap(...(await centreOf(sheet.getByRole('button', { name: 'Reply in thread' }))));
    await phone.locator('aside.side-panel h2', { hasText: 'Thread' }).waitFor();
    await phone.getByRole('button', { name: 'Close thread' }).click();
    await phone.locator('aside.side-panel').waitFor({ state: 'detached' });

    // Swiping the message to the right replies in a thread too.
    const [sx, sy] = await centreOf(target.locator('.message-text'));
    await fingers.swipe(Math.min(sx, 90), sy, 150);
    await phone.locator('aside.side-panel h2', { hasText: 'Thread' }).waitFor();
    await phone.locator('aside.side-panel article.message', { hasText: 'Long-press me on a phone' }).waitFor();
    await screenshot(phone, 'phone-swipe-reply-thread');
    await phone.getByRole('button', { name: 'Close thread' }).click();
  });

  test('the last message’s menu flips above it on the desktop; Escape and an outside click close menus', async () => {
    const { alice } = pages;
    await alice.setViewportSize(DESKTOP);
    await openChannel(alice, 'general');
    const generalId = await channelNamed(ALICE, 'general');
    await api(ALICE, 'POST', `/channels/${generalId}/messages`, { text: 'The very last message' });
    const last = messageWith(alice, 'The very last message');
    await last.waitFor();
    await last.hover();
    await last.getByRole('button', { name: 'More actions' }).click();
    const menu = alice.getByRole('menu');
    await menu.waitFor();
    const box = await menu.boundingBox();
    assert(box && box.y + box.height <= DESKTOP.height, `the menu ends inside the viewport (bottom ${box && box.y + box.height})`);
    for (const item of ['Pin message', 'Copy text', 'Edit message', 'Delete message']) await menu.getByRole('menuitem', { name: item }).waitFor();
    await screenshot(alice, 'desktop-message-menu-flipped');
    await alice.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    await last.hover();
    await last.getByRole('button', { name: 'More actions' }).click();
    await menu.waitFor();
    await alice.mouse.click(640, 120);
    await menu.waitFor({ state: 'detached' });
    // The emoji picker, too.
    await alice.getByRole('button', { name: 'Insert emoji' }).click();
    const picker = alice.getByRole('dialog', { name: 'Insert emoji' });
    await picker.waitFor();
    await alice.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });
  });

  test('the delete dialog says what members see and that the company keeps the message', async () => {
    const { alice } = pages;
    const last = messageWith(alice, 'The very last message');
    await last.hover();
    await last.getByRole('button', { name: 'More actions' }).click();
    await alice.getByRole('menuitem', { name: 'Delete message' }).click();
    const dialog = alice.getByRole('dialog', { name: 'Delete message?' });
    await dialog.getByText('This message was deleted.', { exact: false }).waitFor();
    await dialog.getByText('company’s records keep the message', { exact: false }).waitFor();
    assert((await dialog.getByText('cannot be undone', { exact: false }).count()) === 0, 'no promise of irrecoverable deletion');
    await screenshot(alice, 'desktop-delete-dialog');
    await axe(alice, 'delete-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    // The same dialog from the phone's action sheet.
    const phone = pages.phoneTouch;
    const generalId = await channelNamed(BOB, 'general');
    await api(BOB, 'POST', `/channels/${generalId}/messages`, { text: 'Bob deletes this from his phone' });
    await messageWith(phone, 'Bob deletes this from his phone').waitFor();
    // Once deleted the text is gone, so the message is followed by its id.
    const mine = phone.locator(`article.message[data-message-id="${await messageWith(phone, 'Bob deletes this from his phone').getAttribute('data-message-id')}"]`);
    const fingers = await touch(phone);
    await fingers.longPress(...(await centreOf(mine.locator('.message-text'))));
    const sheet = phone.getByRole('dialog', { name: 'Message actions' });
    await phone.touchscreen.tap(...(await centreOf(sheet.getByRole('button', { name: 'Delete message' }))));
    const phoneDialog = phone.getByRole('dialog', { name: 'Delete message?' });
    await phoneDialog.getByText('company’s records keep the message', { exact: false }).waitFor();
    await screenshot(phone, 'phone-delete-dialog');
    await phoneDialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await mine.locator('.message-deleted').waitFor();
  });

  test('role changes and deactivation are confirmed, reported in a toast and can be undone', async () => {
    const admin = pages.dana;
    await admin.setViewportSize(DESKTOP);
    await admin.reload();
    await admin.locator('nav.sidebar').waitFor();
    await admin.locator('.me-button').click();
    await admin.getByRole('menuitem', { name: 'Administration' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Administration' });
    await dialog.getByLabel('Search people').fill('gina');
    const gina = dialog.locator('.admin-user', { hasText: GINA.name });
    await gina.waitFor();
    const roleOf = async () => (await api(DANA, 'GET', '/admin/users?q=gina')).find((user) => user.email === GINA.email);
    assert((await roleOf()).role === 'guest', 'gina starts as a guest');

    // One dropdown change saves nothing until confirmed.
    await dialog.getByLabel(`Role of ${GINA.name}`).selectOption('member');
    const confirm = admin.getByRole('dialog', { name: `Make ${GINA.name} a member?` });
    await confirm.getByText(`${GINA.name} is a guest now.`, { exact: false }).waitFor();
    await screenshot(admin, 'desktop-admin-role-confirm');
    await axe(admin, 'admin-role-confirm');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await sleep(300);
    assert((await roleOf()).role === 'guest', 'cancelling changes nothing');
    assert((await dialog.getByLabel(`Role of ${GINA.name}`).inputValue()) === 'guest', 'the list still shows the current role');

    await dialog.getByLabel(`Role of ${GINA.name}`).selectOption('member');
    await confirm.getByRole('button', { name: 'Make member' }).click();
    const toast = dialog.locator('.toasts .toast', { hasText: `${GINA.name} is now a member.` });
    await toast.waitFor();
    await until('the role to be saved', async () => (await roleOf()).role === 'member');
    await screenshot(admin, 'desktop-admin-role-toast');
    await toast.getByRole('button', { name: 'Undo' }).click();
    await until('the undo to restore the guest role', async () => (await roleOf()).role === 'guest');
    await dialog.locator('.toasts .toast', { hasText: `${GINA.name} is a guest again.` }).waitFor();

    // Deactivation: confirmed, then undone by reactivating.
    await dialog.getByRole('button', { name: `Deactivate ${GINA.name}` }).click();
    const deactivate = admin.getByRole('dialog', { name: `Deactivate ${GINA.name}?` });
    await deactivate.getByText('signed out everywhere at once', { exact: false }).waitFor();
    await admin.setViewportSize(PHONE);
    await screenshot(admin, 'phone-admin-deactivate-confirm');
    await admin.setViewportSize(DESKTOP);
    await deactivate.getByRole('button', { name: 'Deactivate', exact: true }).click();
    const deactivated = dialog.locator('.toasts .toast', { hasText: 'was deactivated and signed out everywhere' });
    await deactivated.waitFor();
    await until('gina to be deactivated', async () => (await roleOf()).active === false);
    await deactivated.getByRole('button', { name: 'Undo' }).click();
    await until('gina to be active again', async () => (await roleOf()).active === true);

    // WhatsApp customers are not staff: they are not listed among people.
    await dialog.getByLabel('Search people').fill('Kerry');
    await sleep(600);
    assert((await dialog.locator('.admin-user', { hasText: 'Kerry Fisher' }).count()) === 0, 'customers are not listed as people');
    await dialog.getByLabel('Search people').fill('');
    await dialog.locator('.admin-user').first().waitFor();
    await screenshot(admin, 'desktop-admin-people-safe');
    await axe(admin, 'admin-people-safe');
    await admin.setViewportSize(PHONE);
    await screenshot(admin, 'phone-admin-people-safe');
    await admin.setViewportSize(DESKTOP);
  });

  test('the audit log names people and filters by an actor picked by name', async () => {
    const admin = pages.dana;
    const dialog = admin.getByRole('dialog', { name: 'Administration' });
    await dialog.getByRole('tab', { name: 'Audit log' }).click();
    await dialog.locator('.audit-table tbody tr').first().waitFor();
    const actor = dialog.getByLabel('Actor');
    await actor.fill('dana@');
    await dialog.getByRole('list', { name: 'Matching people' }).getByText(DANA.name).waitFor();
    await actor.press('Enter');
    await dialog.getByRole('button', { name: `Remove actor filter ${DANA.name}` }).waitFor();
    await until('only dana’s entries', async () => {
      const who = await dialog.locator('.audit-table tbody tr td:nth-child(2)').allTextContents();
      return who.length > 0 && who.every((text) => text.includes(DANA.name) && text.includes(DANA.email));
    });
    const targets = await dialog.locator('.audit-table tbody tr td:nth-child(4)').allTextContents();
    assert(targets.some((text) => text.includes(GINA.name)), `user targets are named: ${targets.slice(0, 5).join(' | ')}`);
    const all = await dialog.locator('.audit-table tbody').textContent();
    assert(!/\buser \d+\b/.test(all), 'no bare "user N" labels');
    await screenshot(admin, 'desktop-admin-audit-names');
    await axe(admin, 'admin-audit-names');
    await admin.setViewportSize(PHONE);
    await screenshot(admin, 'phone-admin-audit-names');
    await admin.setViewportSize(DESKTOP);
    await dialog.getByRole('button', { name: 'Close' }).first().click();
  });

  test('the Security tab asks for the acceptable-use policy only when one is published', async () => {
    const admin = pages.dana;
    const policyCalls = [];
    const listener = (request) => {
      if (new URL(request.url()).pathname === '/api/v1/policy') policyCalls.push(request.url());
    };
    admin.on('request', listener);
    await admin.locator('.me-button').click();
    await admin.getByRole('menuitem', { name: 'Administration' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Administration' });
    await dialog.getByRole('tab', { name: 'Security' }).click();
    await dialog.getByText('No policy is published.').waitFor();
    admin.off('request', listener);
    assert(policyCalls.length === 0, `no GET /api/v1/policy while none is published: ${policyCalls.join(', ')}`);
    await dialog.getByRole('button', { name: 'Close' }).first().click();
  });

  test('leaving a private channel asks first; leaving a public one can be undone', async () => {
    const { alice } = pages;
    const bobId = (await api(BOB, 'GET', '/me')).id;
    const created = await api(ALICE, 'POST', '/channels', { name: 'board-private', kind: 'private', topic: 'Only invited', member_ids: [bobId] });
    const privateId = created.channel?.id ?? created.id;
    await until('the private channel in alice’s sidebar', async () => (await alice.locator('nav.sidebar a.sidebar-item', { hasText: 'board-private' }).count()) === 1);
    await openChannel(alice, 'board-private');
    await alice.getByRole('button', { name: 'Leave channel' }).click();
    const confirm = alice.getByRole('dialog', { name: 'Leave #board-private?' });
    await confirm.getByText('Only one of its members can add you back', { exact: false }).waitFor();
    await screenshot(alice, 'desktop-leave-private-confirm');
    await axe(alice, 'leave-private-confirm');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    assert((await alice.locator('nav.sidebar a.sidebar-item', { hasText: 'board-private' }).count()) === 1, 'cancel keeps the channel');
    await alice.getByRole('button', { name: 'Leave channel' }).click();
    await confirm.getByRole('button', { name: 'Leave channel' }).click();
    await alice.locator('.toasts .toast', { hasText: 'You left #board-private.' }).waitFor();
    await until('the channel to leave the sidebar', async () => (await alice.locator('nav.sidebar a.sidebar-item', { hasText: 'board-private' }).count()) === 0);
    assert(privateId > 0, 'the private channel existed');

    // A public channel: no dialog, and the toast offers to join again.
    await api(ALICE, 'POST', '/channels', { name: 'lunch-club', kind: 'public', topic: 'Food' });
    await until('lunch-club in the sidebar', async () => (await alice.locator('nav.sidebar a.sidebar-item', { hasText: 'lunch-club' }).count()) === 1);
    await openChannel(alice, 'lunch-club');
    await alice.getByRole('button', { name: 'Leave channel' }).click();
    const left = alice.locator('.toasts .toast', { hasText: 'You left #lunch-club.' });
    await left.waitFor();
    await left.getByRole('button', { name: 'Undo' }).click();
    await alice.locator('main.conversation h1', { hasText: 'lunch-club' }).waitFor();
  });

  test('a guest is offered only people who share a channel, and no channel-creating prompts', async () => {
    const guest = await newPage('gina', DESKTOP);
    pages.gina = guest;
    await guest.goto(baseUrl());
    await guest.getByLabel('Email').fill(GINA.email);
    await guest.getByLabel('Password').fill(GINA.password);
    await guest.getByRole('button', { name: 'Sign in' }).click();
    await guest.locator('nav.sidebar').waitFor();
    const welcome = guest.getByRole('main', { name: 'Welcome' });
    await welcome.waitFor();
    assert((await welcome.getByRole('button', { name: 'Create a channel' }).count()) === 0, 'no "Create a channel" for guests');
    assert((await welcome.getByRole('button', { name: 'Browse channels' }).count()) === 0, 'no "Browse channels" for guests');
    assert((await guest.getByRole('button', { name: 'Create channel' }).count()) === 0, 'no create-channel button in the sidebar');
    await screenshot(guest, 'desktop-guest-welcome');
    await axe(guest, 'guest-welcome');
    await welcome.getByRole('button', { name: 'New message' }).click();
    const dialog = guest.getByRole('dialog', { name: 'New message' });
    await dialog.getByText('people who share a channel with you', { exact: false }).waitFor();
    await dialog.getByLabel('Find people').fill('Bob');
    await dialog.locator('.member-row', { hasText: BOB.name }).waitFor();
    // Enter takes the single match.
    await dialog.getByLabel('Find people').press('Enter');
    await dialog.locator('.chip', { hasText: BOB.name }).waitFor();
    // Someone who shares no channel with the guest is not offered, whatever the directory says.
    const outsider = await api(DANA, 'POST', '/users', { name: 'Oscar Outsider', email: 'oscar.outsider@example.com', role: 'member', password: 'an outsider password 7' });
    const outsiderId = outsider.user?.id ?? outsider.id;
    if (!GINA_SESSION.token) {
      const login = await fetch(`${baseUrl()}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: GINA.email, password: GINA.password }) });
      assert(login.ok, `the guest's API sign-in answered ${login.status}`);
      GINA_SESSION.token = (await login.json()).token;
    }
    for (const summary of await api(GINA_SESSION, 'GET', '/channels')) {
      if (summary.member_ids.includes(outsiderId)) await api(DANA, 'DELETE', `/channels/${summary.channel.id}/members/${outsiderId}`);
    }
    await dialog.getByLabel('Find people').fill('Oscar');
    await sleep(800);
    assert((await dialog.locator('.member-row', { hasText: 'Oscar Outsider' }).count()) === 0, 'people outside the guest’s channels are not offered');
    await guest.setViewportSize(PHONE);
    await screenshot(guest, 'phone-guest-new-message');
    await guest.setViewportSize(DESKTOP);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await guest.context().close();
    delete pages.gina;
  });

  test('the customer inbox previews the last message with its time, and customers are not sidebar channels', async () => {
    const { alice } = pages;
    const strays = [];
    const listener = (request) => {
      const match = /\/api\/v1\/whatsapp\/conversations\/(\d+)$/.exec(new URL(request.url()).pathname);
      if (match) strays.push(Number(match[1]));
    };
    alice.on('request', listener);
    await alice.reload();
    await alice.locator('nav.sidebar').waitFor();
    // Opening and creating ordinary channels asks nothing of the WhatsApp API.
    await openChannel(alice, 'general');
    const created = await api(ALICE, 'POST', '/channels', { name: 'ops-private', kind: 'private', topic: 'Ops' });
    await until('ops-private in the sidebar', async () => (await alice.locator('nav.sidebar a.sidebar-item', { hasText: 'ops-private' }).count()) === 1);
    await openChannel(alice, 'ops-private');
    const generalId = await channelNamed(ALICE, 'general');
    const opsId = created.channel?.id ?? created.id;
    assert(!strays.includes(generalId) && !strays.includes(opsId), `no WhatsApp conversation request for ordinary channels: ${strays.join(', ')}`);
    alice.off('request', listener);

    const sidebarNames = await alice.locator('nav.sidebar a.sidebar-item').allTextContents();
    assert(!sidebarNames.some((name) => /WhatsApp:|wa-\d/.test(name)), `customer conversations are not sidebar channels: ${sidebarNames.join(' | ')}`);
    await alice.getByRole('button', { name: /Customer inbox/ }).click();
    const row = alice.locator('.inbox-row', { hasText: 'Kerry Fisher' });
    await row.waitFor();
    const preview = (await row.getByTestId('inbox-preview').textContent()).trim();
    assert(preview.length > 0 && preview !== 'No messages yet', `a preview line: "${preview}"`);
    assert(/\d/.test(await row.locator('.inbox-time').textContent()), 'a time for the last message');
    await screenshot(alice, 'desktop-whatsapp-inbox-preview');
    await axe(alice, 'whatsapp-inbox-preview');
    await alice.setViewportSize(PHONE);
    await screenshot(alice, 'phone-whatsapp-inbox-preview');
    await alice.setViewportSize(DESKTOP);

    // The reply box is the chat composer: emoji and :shortcodes: work there too.
    await row.locator('.inbox-open').click();
    const reply = alice.getByLabel(/^Reply to Kerry Fisher/);
    if (await reply.count()) {
      await alice.locator('.wa-composer').getByRole('button', { name: 'Insert emoji' }).waitFor();
      await reply.pressSequentially('Thanks :tada:');
      await until('the shortcode to turn into its emoji', async () => (await reply.inputValue()) === 'Thanks 🎉');
      await screenshot(alice, 'desktop-whatsapp-composer');
      await reply.fill('');
    }
  });

  test(':shortcodes: become emoji, attachments keep their order, voice notes show their length, the tab title counts unread', async () => {
    const { alice, bob } = pages;
    await alice.setViewportSize(DESKTOP);
    await openChannel(alice, 'general');
    await openChannel(bob, 'general');
    const box = composer(alice);
    await box.pressSequentially('Ship it :rocket: and :tad');
    const suggestions = alice.getByRole('listbox', { name: 'Emoji' });
    await suggestions.getByRole('option', { name: /:tada:/ }).waitFor();
    await screenshot(alice, 'desktop-shortcode-suggestions');
    await alice.keyboard.press('Enter');
    await until('the suggestion to be taken', async () => (await box.inputValue()).startsWith('Ship it 🚀 and 🎉'));
    await alice.keyboard.press('Enter');
    await messageWith(bob, 'Ship it 🚀 and 🎉').waitFor();

    // Three files, the largest first: the message lists them in the order attached.
    await alice.locator('main.conversation input[type="file"]').setInputFiles([
      { name: 'a-first-large.txt', mimeType: 'text/plain', buffer: Buffer.alloc(3 * 1024 * 1024, 97) },
      { name: 'b-second-small.txt', mimeType: 'text/plain', buffer: Buffer.from('small') },
      { name: 'c-third-medium.txt', mimeType: 'text/plain', buffer: Buffer.alloc(200 * 1024, 99) },
    ]);
    await until('the uploads to finish', async () => (await alice.locator('.upload-tray progress').count()) === 0 && (await alice.locator('.upload-tray li').count()) === 3);
    await box.fill('Three files in order');
    await box.press('Enter');
    const filed = messageWith(bob, 'Three files in order');
    await filed.locator('.document-name').nth(2).waitFor();
    const names = await filed.locator('.document-name').allTextContents();
    assert(names.join(',') === 'a-first-large.txt,b-second-small.txt,c-third-medium.txt', `attach order kept: ${names.join(', ')}`);

    // A voice note shows its length before it is played.
    const generalId = await channelNamed(ALICE, 'general');
    const upload = await fetch(`${baseUrl()}/api/v1/files?channel_id=${generalId}&name=${encodeURIComponent('voice-note-2026-01-05T09-00-00-000Z-4200ms.webm')}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ALICE.token}`, 'Content-Type': 'audio/webm' },
      body: Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0, 0]),
    });
    assert(upload.ok, `voice note upload answered ${upload.status}`);
    const attachment = await upload.json();
    await api(ALICE, 'POST', `/channels/${generalId}/messages`, { text: '', attachment_ids: [attachment.id] });
    await until('the voice note with its length', async () => (await bob.locator('main.conversation .voice-note .voice-time').last().textContent()) === '0:04');

    // The tab title counts what waits for bob elsewhere: "(N) Conclave".
    // Start from nothing waiting: whatever earlier steps left unread is read.
    for (const summary of await api(BOB, 'GET', '/channels')) {
      if ((summary.unread_count > 0 || summary.mention_count > 0) && summary.last_message_id > 0) {
        await api(BOB, 'POST', `/channels/${summary.channel.id}/read`, { message_id: summary.last_message_id });
      }
    }
    await bob.reload();
    await bob.locator('nav.sidebar').waitFor();
    await openChannel(bob, 'general');
    await until('a bare title with nothing waiting', async () => (await bob.title()) === 'Conclave');
    const bobId = (await api(BOB, 'GET', '/me')).id;
    const direct = await api(ALICE, 'POST', '/conversations', { user_ids: [bobId] });
    await api(ALICE, 'POST', `/channels/${direct.channel.id}/messages`, { text: 'A direct word for the tab title' });
    await until('one waiting message in the title', async () => (await bob.title()) === '(1) Conclave');
    await api(ALICE, 'POST', `/channels/${direct.channel.id}/messages`, { text: 'And a second one' });
    // A plain message in the channel bob is looking at adds nothing.
    await api(ALICE, 'POST', `/channels/${generalId}/messages`, { text: 'Seen at once in #general' });
    await messageWith(bob, 'Seen at once in #general').waitFor();
    await until('two waiting messages in the title', async () => (await bob.title()) === '(2) Conclave');
    await sleep(300);
    assert((await bob.title()) === '(2) Conclave', `the open channel is not counted: ${await bob.title()}`);
    await bob.locator(`nav.sidebar a.sidebar-item[data-channel-id="${direct.channel.id}"]`).click();
    await messageWith(bob, 'And a second one').waitFor();
    await until('the title to drop back once read', async () => (await bob.title()) === 'Conclave');
    // The story goes on with bob in #general, and without the extra phone.
    await openChannel(bob, 'general');
    await pages.phoneTouch.context().close();
    delete pages.phoneTouch;
  });
}
