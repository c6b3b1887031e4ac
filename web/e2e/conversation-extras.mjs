// Extra conversation steps for e2e/run.mjs: the windowed message list,
// channel management, and message edit history. run.mjs passes in its
// helpers, and these register their steps with its `test`.

export function conversationExtras({ test, api, pages, openChannel, messageWith, composer, until, assert, sleep, axe, screenshot, users }) {
  const { ALICE, BOB, CAROL, DANA } = users;

  test('a 1,000-message channel keeps the DOM bounded and loads every message in order while scrolling up', async () => {
    const { alice } = pages;
    const created = await api(ALICE, 'POST', '/channels', { name: 'longhistory', kind: 'public', topic: 'A thousand messages' });
    const channelId = created.channel?.id ?? created.id;
    const authors = [ALICE, BOB, CAROL, DANA];
    for (const user of authors.slice(1)) await api(user, 'POST', `/channels/${channelId}/join`);
    // Each person has their own send rate limit, so seed from all four at once.
    const seeded = [];
    await Promise.all(
      authors.map(async (user, lane) => {
        for (let index = lane; index < 1000; index += authors.length) {
          const message = await api(user, 'POST', `/channels/${channelId}/messages`, { text: `Long ${String(index).padStart(4, '0')}`, client_id: `long-${index}` });
          seeded.push(message.message?.id ?? message.id);
        }
      }),
    );
    seeded.sort((a, b) => a - b);
    assert(seeded.length === 1000, `seeded 1000 messages, got ${seeded.length}`);
    await openChannel(alice, 'longhistory');
    const rendered = alice.locator('main.conversation article.message[data-message-id]');
    await alice.locator(`main.conversation article.message[data-message-id="${seeded[999]}"]`).waitFor();
    const scroller = alice.locator('main.conversation .message-scroller');
    const seen = new Set();
    let maxRendered = 0;
    const started = Date.now();
    for (;;) {
      const snapshot = await scroller.evaluate((element) => {
        const ids = [...element.querySelectorAll('article.message[data-message-id]')].map((node) => Number(node.getAttribute('data-message-id')));
        return { ids, top: element.scrollTop, start: Boolean(element.querySelector('.channel-start')) };
      });
      maxRendered = Math.max(maxRendered, snapshot.ids.length);
      assert(snapshot.ids.length < 150, `at most 150 message rows in the DOM, saw ${snapshot.ids.length}`);
      for (let index = 1; index < snapshot.ids.length; index += 1) {
        assert(snapshot.ids[index] > snapshot.ids[index - 1], `rendered rows are in order without duplicates: ${snapshot.ids.join(',')}`);
      }
      for (const id of snapshot.ids) seen.add(id);
      if (snapshot.start && snapshot.top === 0 && seen.has(seeded[0])) break;
      assert(Date.now() - started < 60_000, `reached the start of the channel in time (seen ${seen.size})`);
      await scroller.evaluate((element) => (element.scrollTop = Math.max(0, element.scrollTop - element.clientHeight * 0.7)));
      await sleep(40);
    }
    const missing = seeded.filter((id) => !seen.has(id));
    assert(missing.length === 0, `every message was shown while scrolling up; missing ${missing.length}, e.g. ${missing.slice(0, 5)}`);
    assert(seen.size === 1000, `exactly the seeded messages were shown, got ${seen.size}`);
    assert(maxRendered > 5 && (await rendered.count()) < 150, 'the list is windowed');
    await openChannel(alice, 'general');
  });

  test('channel details rename, set the topic, archive, add and remove members, and leave', async () => {
    const { alice } = pages;
    await api(ALICE, 'POST', '/channels', { name: 'manage-me', kind: 'public', topic: 'Old topic' });
    await openChannel(alice, 'manage-me');
    await alice.getByRole('button', { name: 'Channel details' }).click();
    const dialog = alice.getByRole('dialog');
    await dialog.getByLabel('Channel name').fill('managed');
    await dialog.getByLabel('Topic').fill('A fresh topic');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await dialog.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await alice.locator('main.conversation h1', { hasText: 'managed' }).waitFor();
    await alice.locator('main.conversation .topic', { hasText: 'A fresh topic' }).waitFor();
    await dialog.getByLabel('Add people').fill('Carol');
    await dialog.getByRole('button', { name: `Add ${CAROL.name}` }).click();
    const current = dialog.getByRole('list', { name: 'Current members' });
    await current.getByText(CAROL.name).waitFor();
    await dialog.getByRole('button', { name: `Remove ${CAROL.name}` }).click();
    await until('carol to be removed', async () => (await current.getByText(CAROL.name).count()) === 0);
    await dialog.getByRole('button', { name: 'Archive channel' }).click();
    await dialog.getByRole('button', { name: 'Unarchive channel' }).waitFor();
    await dialog.getByRole('button', { name: 'Unarchive channel' }).click();
    await dialog.getByRole('button', { name: 'Archive channel' }).waitFor();
    await dialog.getByRole('button', { name: 'Leave channel' }).click();
    await until('the channel to leave the sidebar', async () => (await alice.locator('nav.sidebar a.sidebar-item', { hasText: 'managed' }).count()) === 0);
    await openChannel(alice, 'general');
  });

  test('an incoming webhook made in channel details posts live into the channel, until revoked', async () => {
    const { alice, bob } = pages;
    const created = await api(ALICE, 'POST', '/channels', { name: 'hooked', kind: 'public', topic: 'Deploys' });
    const channelId = created.channel?.id ?? created.id;
    await api(BOB, 'POST', `/channels/${channelId}/join`);
    await openChannel(alice, 'hooked');
    await alice.getByRole('button', { name: 'Channel details' }).click();
    const dialog = alice.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Incoming webhooks' }).waitFor();
    await dialog.getByLabel('Webhook name').fill('Deploy Bot');
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    const shown = dialog.getByTestId('webhook-url');
    await shown.waitFor();
    const url = (await shown.textContent()).trim();
    assert(/^http:\/\/127\.0\.0\.1:\d+\/hooks\/[0-9a-f]{64}$/.test(url), `a full hook URL is shown once: ${url}`);
    await dialog.getByText('it will not be shown again').waitFor();
    await dialog.getByRole('list', { name: 'Webhooks' }).getByText('Deploy Bot').waitFor();
    await dialog.getByRole('button', { name: 'Copy URL' }).waitFor();
    await screenshot(alice, 'channel-webhooks');
    await axe(alice, 'channel-webhooks');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();

    await until('bob to see the channel', async () => (await bob.locator('nav.sidebar a.sidebar-item', { hasText: 'hooked' }).count()) > 0);
    await openChannel(bob, 'hooked');
    const posted = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Deployed *v2.0* from CI' }),
    });
    assert(posted.status === 200, `the hook answers 200, got ${posted.status}`);
    assert((await posted.text()) === 'ok', 'the hook answers "ok" like Slack');
    const live = messageWith(bob, 'from CI');
    await live.waitFor();
    await until('the bot to be named as the author', async () => (await live.getAttribute('aria-label'))?.startsWith('Deploy Bot'));

    await alice.getByRole('button', { name: 'Channel details' }).click();
    await dialog.getByRole('button', { name: 'Revoke Deploy Bot' }).click();
    await dialog.getByRole('button', { name: 'Confirm revoke Deploy Bot' }).click();
    await dialog.getByText('No webhooks yet.').waitFor();
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    const refused = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'too late' }) });
    assert(refused.status === 404, `a revoked hook answers 404, got ${refused.status}`);
    await openChannel(alice, 'general');
    await openChannel(bob, 'general');
  });

  test('Up arrow edits your last message and "(edited)" shows its versions', async () => {
    const { alice } = pages;
    await openChannel(alice, 'general');
    await composer(alice).fill('Versioned first draft');
    await composer(alice).press('Enter');
    await until('the message to be confirmed', async () => (await alice.locator('main.conversation article.message[data-message-id]', { hasText: 'Versioned first draft' }).count()) === 1);
    await composer(alice).focus();
    await composer(alice).press('ArrowUp');
    const box = alice.getByLabel('Edit message');
    await box.waitFor();
    assert((await box.inputValue()) === 'Versioned first draft', 'the edit box holds the last message');
    await box.fill('Versioned second draft');
    await box.press('Enter');
    const edited = messageWith(alice, 'Versioned second draft').getByRole('button', { name: '(edited)' });
    await edited.waitFor();
    await edited.click();
    const history = alice.getByRole('dialog', { name: 'Edit history' });
    try {
      await history.getByText('Versioned first draft').waitFor();
      await history.getByText('Versioned second draft').first().waitFor();
      assert((await history.getByText('Versioned second draft').count()) === 1, 'the current text is listed once');
    } finally {
      await history.getByRole('button', { name: 'Close', exact: true }).click().catch(() => alice.keyboard.press('Escape'));
    }
    await until('the history to close', async () => (await alice.getByRole('dialog', { name: 'Edit history' }).count()) === 0);
  });
}
