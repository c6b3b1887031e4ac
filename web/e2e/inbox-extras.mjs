// End-to-end steps for the WhatsApp inbox's assignment tools and template
// parameters: alice releases a conversation she claimed and hands another
// to erin (both staff of the business number), and sends a template whose
// body placeholders {{1}} and {{2}} she fills in, which must reach the
// Graph API stand-in as Meta's body component. run.mjs registers these with
// registerInboxExtras(context) right after the inbox step, which leaves
// Kerry Fisher's conversation assigned to alice and Old Customer's (whose
// 24-hour window is closed) unassigned. Last, Kerry answers her own first
// message by quoting it: the reply lands in that message's thread and must
// still raise the inbox's unread badge, live and after a reload, until alice
// opens the conversation. And alice attaches a small PNG in the reply box: it
// shows in the conversation and reaches the stand-in as Meta's multipart
// media upload followed by an image message with that media id.

import { isDeepStrictEqual } from 'node:util';

export function registerInboxExtras(ctx) {
  const { test, pages, api, webhook, axe, screenshot, until, assert, state, ALICE, DANA, ERIN, WA_CUSTOMER } = ctx;

  const openInbox = async (page) => {
    await page.reload();
    await page.getByRole('button', { name: 'Customer inbox' }).click();
    await page.getByRole('heading', { name: 'Customer inbox' }).waitFor();
  };

  const conversationOf = async (name) => {
    const conversations = await api(ALICE, 'GET', '/whatsapp/conversations');
    const conversation = conversations.find((entry) => entry.customer.name === name);
    assert(conversation, `a conversation with ${name}`);
    return conversation;
  };

  test('staff release a customer conversation and reassign another to a colleague', async () => {
    const { alice } = pages;
    const [erin] = await api(DANA, 'GET', `/admin/users?q=${encodeURIComponent(ERIN.email)}`);
    assert(erin, 'erin exists');
    await openInbox(alice);

    // Old Customer: claim, then release from the conversation's bar.
    const stale = alice.locator('.inbox-row', { hasText: 'Old Customer' });
    await stale.getByRole('button', { name: /^Claim/ }).click();
    await stale.getByText('Assigned to you').waitFor();
    await stale.locator('.inbox-open').click();
    const bar = alice.getByRole('region', { name: 'WhatsApp conversation' });
    await bar.getByText('Assigned to you').waitFor();
    await bar.getByRole('button', { name: 'Release conversation' }).waitFor();
    await axe(alice, 'whatsapp-assignment');
    await bar.getByRole('button', { name: 'Release conversation' }).click();
    await bar.getByText('Unassigned').waitFor();
    await bar.getByRole('button', { name: 'Claim' }).waitFor();
    assert((await bar.getByRole('button', { name: 'Release conversation' }).count()) === 0, 'nothing to release once released');
    assert((await conversationOf('Old Customer')).assignee_id === null, 'the server has it unassigned');

    // Kerry Fisher (alice's since the inbox step): hand it to erin.
    await openInbox(alice);
    await alice.locator('.inbox-row', { hasText: 'Kerry Fisher' }).locator('.inbox-open').click();
    await bar.getByText('Assigned to you').waitFor();
    const reassign = bar.getByLabel('Reassign to');
    await until('erin to be offered', async () => (await reassign.locator('option', { hasText: ERIN.name }).count()) === 1);
    assert((await reassign.locator('option', { hasText: ALICE.name }).count()) === 0, 'the assignee is not offered to herself');
    await reassign.selectOption({ label: ERIN.name });
    await bar.getByRole('button', { name: 'Reassign' }).click();
    await bar.getByText(`Assigned to ${ERIN.name}`).waitFor();
    await screenshot(alice, 'desktop-whatsapp-reassigned');
    // Alice is neither the assignee nor an admin now: the tools are gone.
    assert((await bar.getByRole('button', { name: 'Release conversation' }).count()) === 0, 'no release for a colleague’s conversation');
    assert((await bar.getByLabel('Reassign to').count()) === 0, 'no reassigning a colleague’s conversation');
    assert((await conversationOf('Kerry Fisher')).assignee_id === erin.id, 'the server has erin as the assignee');

    const audit = await api(DANA, 'GET', '/audit?action=whatsapp.');
    const kerry = await conversationOf('Kerry Fisher');
    const old = await conversationOf('Old Customer');
    assert(
      audit.some((entry) => entry.action === 'whatsapp.release' && entry.target_id === String(old.channel_id) && entry.before?.assignee_id !== null && entry.after?.assignee_id === null),
      'the release is audited',
    );
    assert(
      audit.some((entry) => entry.action === 'whatsapp.assign' && entry.target_id === String(kerry.channel_id) && entry.after?.assignee_id === erin.id),
      'the reassignment is audited',
    );
  });

  test('a template goes out with the body parameters the agent filled in', async () => {
    const { alice } = pages;
    await openInbox(alice);
    await alice.locator('.inbox-row', { hasText: 'Old Customer' }).locator('.inbox-open').click();
    await alice.getByText('Only an approved template can be sent').waitFor();
    const form = alice.getByRole('form', { name: 'Reply on WhatsApp' });
    await form.getByLabel('Template name').fill('shipping_update');
    await form.getByLabel('Language').fill('de');
    await form.getByRole('button', { name: 'Add parameter' }).click();
    await form.getByRole('button', { name: 'Add parameter' }).click();
    await form.getByLabel('{{1}}', { exact: true }).fill('#1234');
    // Meta refuses runs of spaces in a parameter; the server says so at once.
    await form.getByLabel('{{2}}', { exact: true }).fill('next     week');
    state.expectBadRequest = true;
    await form.getByRole('button', { name: 'Send template' }).click();
    await form.getByRole('alert').filter({ hasText: '{{2}} contains more than four spaces in a row' }).waitFor();
    state.expectBadRequest = false;
    assert(!state.graphSends.some((send) => send.body.includes('shipping_update')), 'nothing reached Meta');
    await axe(alice, 'whatsapp-template-parameters');
    await screenshot(alice, 'desktop-whatsapp-template-parameters');

    await form.getByLabel('{{2}}', { exact: true }).fill('Dienstag');
    await form.getByRole('button', { name: 'Send template' }).click();
    const sent = await until('the template to reach the Graph API', async () => state.graphSends.find((send) => send.body.includes('shipping_update')));
    const body = JSON.parse(sent.body);
    assert(
      isDeepStrictEqual(body.template, {
        name: 'shipping_update',
        language: { code: 'de' },
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: '#1234' },
              { type: 'text', text: 'Dienstag' },
            ],
          },
        ],
      }),
      `Meta's template JSON, got ${sent.body}`,
    );
    assert(body.type === 'template' && body.to === '4915100000001', `a template to the customer, got ${sent.body}`);
    await alice.locator('main.conversation article.message', { hasText: '[template shipping_update (de)] #1234 · Dienstag' }).waitFor();
    // The form is ready for the next template.
    await until('the parameters to be cleared', async () => (await form.getByLabel('{{1}}', { exact: true }).count()) === 0);
    assert((await form.getByLabel('Template name').inputValue()) === '', 'the template name is cleared');
  });

  test('a customer reply in a thread raises the inbox badge until the conversation is read', async () => {
    const { alice } = pages;
    await openInbox(alice);
    const row = alice.locator('.inbox-row', { hasText: 'Kerry Fisher' });
    await row.waitFor();
    const badgeCount = async () => {
      const badge = row.locator('.badge');
      return (await badge.count()) === 0 ? 0 : Number(await badge.textContent());
    };
    const before = await badgeCount();
    const now = Math.floor(Date.now() / 1000);
    await webhook({
      messages: [{ from: WA_CUSTOMER, id: 'wamid.IN-THREAD', timestamp: String(now), type: 'text', text: { body: 'Is it the blue one?' }, context: { from: WA_CUSTOMER, id: 'wamid.IN1' } }],
    });
    const kerry = await conversationOf('Kerry Fisher');
    const reply = await until('the reply to be threaded', async () => {
      const history = await api(ALICE, 'GET', `/channels/${kerry.channel_id}/messages?limit=50`);
      const root = history.messages.find((message) => message.text === 'Hi, where is order #1234?');
      if (!root) return null;
      const thread = await api(ALICE, 'GET', `/channels/${kerry.channel_id}/messages?thread=${root.id}`);
      return thread.messages.find((message) => message.text === 'Is it the blue one?' && message.thread_id === root.id);
    });
    // Live, from the message event.
    await until('the live badge to count the thread reply', async () => (await badgeCount()) === before + 1);
    // From the server, after a reload.
    await openInbox(alice);
    await row.waitFor();
    await until('the reloaded badge to count the thread reply', async () => (await badgeCount()) === before + 1);
    await row.getByLabel(`${before + 1} unread`).waitFor();
    await screenshot(alice, 'desktop-whatsapp-thread-reply-unread');
    // Opening the conversation reads it, thread reply included.
    await row.locator('.inbox-open').click();
    await alice.locator('main.conversation article.message', { hasText: 'Hi, where is order #1234?' }).waitFor();
    await until('the server to have it read', async () => {
      const summary = await api(ALICE, 'GET', `/channels/${kerry.channel_id}`);
      return summary.unread_count === 0 && summary.last_read_message_id >= reply.id;
    });
    await openInbox(alice);
    await row.waitFor();
    assert((await badgeCount()) === 0, 'no badge once read');
  });

  test('a file attached in the inbox reply box reaches the customer as a WhatsApp image', async () => {
    const { alice } = pages;
    // A 1×1 PNG.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
    await openInbox(alice);
    await alice.locator('.inbox-row', { hasText: 'Kerry Fisher' }).locator('.inbox-open').click();
    const box = alice.getByRole('region', { name: 'Reply on WhatsApp' });
    await box.getByRole('button', { name: 'Attach files' }).waitFor();
    await box.locator('input[type="file"]').setInputFiles({ name: 'label.png', mimeType: 'image/png', buffer: png });
    await box.locator('.upload-tray .upload', { hasText: 'label.png' }).waitFor();
    await until('the upload to finish', async () => (await box.locator('.upload-tray progress').count()) === 0);
    await box.getByRole('textbox').fill('Your **shipping** label');
    await axe(alice, 'whatsapp-reply-attachment');
    await screenshot(alice, 'desktop-whatsapp-reply-attachment');
    const before = state.graphSends.length;
    await box.getByRole('button', { name: 'Send reply' }).click();
    const message = alice.locator('main.conversation article.message', { hasText: 'shipping' });
    await message.locator('img[alt="label.png"]').waitFor();
    await until('the tray to be cleared', async () => (await box.locator('.upload-tray').count()) === 0);

    const upload = await until('the media upload to reach the Graph API', async () => state.graphSends.slice(before).find((send) => send.url.endsWith('/media')));
    assert(/^\/v21\.0\/\d+\/media$/.test(upload.url), `an upload for the business number, got ${upload.url}`);
    for (const field of ['name="messaging_product"\r\n\r\nwhatsapp', 'name="type"\r\n\r\nimage/png', 'filename="label.png"']) {
      assert(upload.body.includes(field), `the multipart upload carries ${JSON.stringify(field)}`);
    }
    const mediaId = `media-${state.graphSends.indexOf(upload) + 1}`;
    const sent = await until('the image message to reach the Graph API', async () =>
      state.graphSends.slice(before).find((send) => send.url.endsWith('/messages') && JSON.parse(send.body).type === 'image'),
    );
    const body = JSON.parse(sent.body);
    assert(
      isDeepStrictEqual(body.image, { id: mediaId, caption: 'Your *shipping* label' }),
      `an image with the uploaded media id and the text as its caption, got ${sent.body}`,
    );
    assert(body.to === WA_CUSTOMER, `to the customer, got ${sent.body}`);
  });
}
