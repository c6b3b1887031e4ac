// End-to-end steps for the compliance console, driven as a compliance
// officer (Carol, made one by the admin steps): a channel retention policy,
// a legal hold that refuses an erasure naming the hold, its release and the
// erasure, exports in every format with authenticated downloads, and the
// journal. Each step checks the server's state through the API after the UI
// acts. run.mjs registers these with registerComplianceConsole(context),
// after the admin console's steps.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export function registerComplianceConsole(ctx) {
  const { test, pages, api, axe, screenshot, until, assert, state, newPage, signIn, CAROL, DANA } = ctx;
  const ERIN = { email: 'erin.leaver@example.com', name: 'Erin Leaver' };
  const HOLD = 'Matter 2026-17 “Leaver”';
  const story = {};

  const acceptPolicy = async (user) => {
    const policy = await api(user, 'GET', '/policy');
    if (policy?.version) await api(user, 'POST', '/policy/accept', { version: policy.version });
  };

  const openConsole = async (page, tab) => {
    const dialog = page.getByRole('dialog', { name: 'Compliance' });
    if (!(await dialog.isVisible().catch(() => false))) {
      await page.locator('.me-button').click();
      await page.getByRole('menuitem', { name: 'Compliance' }).click();
    }
    await dialog.getByRole('tab', { name: tab }).click();
    await until(`the ${tab} tab to be selected`, async () => (await dialog.getByRole('tab', { name: tab }).getAttribute('aria-selected')) === 'true');
    return dialog;
  };

  /** Chooses a person in a people picker by searching for them. */
  const pick = async (scope, legend, query, name, verb = 'Add') => {
    const picker = scope.locator('fieldset.people-picker', { has: scope.page().locator('legend', { hasText: legend }) });
    await picker.getByLabel('Search people').fill(query);
    await picker.getByRole('button', { name: `${verb} ${name}` }).click();
    await picker.getByRole('list', { name: `${legend}: chosen` }).getByRole('button', { name: `Remove ${name}` }).waitFor();
  };

  /** Clicks a download button and answers the saved file's bytes. */
  const downloadBytes = async (page, button) => {
    const pending = page.waitForEvent('download');
    await button.click();
    const download = await pending;
    const failure = await download.failure();
    assert(!failure, `the download failed: ${failure}`);
    return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
  };

  const noHorizontalScroll = async (page, what) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 360, `no horizontal scrolling in ${what} (scrollWidth ${width})`);
  };

  test('a compliance officer opens the console and sets a channel retention policy; others do not see it', async () => {
    // The people and channel of this story, seeded through the API.
    const created = await api(DANA, 'POST', '/channels', { name: 'records', kind: 'public', topic: 'Kept 30 days' });
    story.recordsId = created.channel?.id ?? created.id;
    story.generalId = (await api(DANA, 'GET', '/channels/browse')).find((entry) => entry.channel.name === 'general').channel.id;
    await api(DANA, 'POST', '/users', { email: ERIN.email, name: ERIN.name, role: 'member', password: ctx.PASSWORD });
    await acceptPolicy(ERIN);
    for (const channelId of [story.recordsId, story.generalId]) {
      await api(ERIN, 'POST', `/channels/${channelId}/join`);
      await api(ERIN, 'POST', `/channels/${channelId}/messages`, { text: `Erin’s note in ${channelId}`, client_id: `erin-${channelId}` });
    }
    story.erinId = (await api(DANA, 'GET', `/admin/users?q=${encodeURIComponent(ERIN.email)}`))[0].id;
    const [carol] = await api(DANA, 'GET', `/admin/users?q=${encodeURIComponent(CAROL.email)}`);
    if (carol.role !== 'compliance') await api(DANA, 'PUT', `/admin/users/${carol.id}/role`, { role: 'compliance' });
    // Carol was deactivated and reactivated by the admin steps, which revoked
    // the API token seeding used before: sign in afresh.
    delete CAROL.token;
    await acceptPolicy(CAROL);

    // An admin who is not a compliance officer has no compliance console.
    const admin = pages.dana;
    await admin.locator('.me-button').click();
    await admin.getByRole('menuitem', { name: 'Administration' }).waitFor();
    assert((await admin.getByRole('menuitem', { name: 'Compliance' }).count()) === 0, 'an admin does not see the compliance console');
    await admin.locator('.me-button').click();
    await until('the menu to close', async () => (await admin.getByRole('menuitem', { name: 'Administration' }).count()) === 0);

    const officer = await newPage('carol-compliance', { width: 1280, height: 800 });
    pages.compliance = officer;
    await signIn(officer, CAROL);
    const dialog = await openConsole(officer, 'Retention');
    await dialog.getByText('No retention policies yet').waitFor();
    await axe(officer, 'compliance-retention-empty');
    // Keyboard: the arrow keys move between the console's tabs.
    await dialog.getByRole('tab', { name: 'Retention' }).focus();
    await officer.keyboard.press('ArrowRight');
    await until('Legal holds to be selected from the keyboard', async () => (await dialog.getByRole('tab', { name: 'Legal holds' }).getAttribute('aria-selected')) === 'true');
    assert(await dialog.getByRole('tab', { name: 'Legal holds' }).evaluate((element) => element === document.activeElement), 'focus follows the selected tab');
    await officer.keyboard.press('ArrowLeft');
    await dialog.getByRole('heading', { name: 'Set a policy' }).waitFor();

    const form = dialog.getByRole('form', { name: 'Set a retention policy' });
    await form.getByLabel('Scope', { exact: true }).selectOption('channel');
    await form.getByLabel('Channel', { exact: true }).selectOption({ label: '#records' });
    await form.getByLabel('Days to keep (1–36500)').fill('0');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await form.getByRole('alert').filter({ hasText: 'between 1 and 36500' }).waitFor();
    await form.getByLabel('Days to keep (1–36500)').fill('30');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await form.getByRole('status').filter({ hasText: '#records: 30 days' }).waitFor();
    const row = dialog.locator(`tr[data-retention="channel:${story.recordsId}"]`);
    await row.getByText('30 days').waitFor();
    const policies = await api(CAROL, 'GET', '/compliance/retention');
    assert(
      policies.some((policy) => policy.scope === 'channel' && policy.channel_id === story.recordsId && policy.days === 30),
      `the server keeps #records for 30 days: ${JSON.stringify(policies)}`,
    );
    // Running retention now shows what it removed (nothing is 30 days old here).
    await dialog.getByRole('button', { name: 'Run retention now' }).click();
    await dialog.locator('[data-testid="retention-report"]').filter({ hasText: 'Removed 0 messages' }).waitFor();
    const audit = await api(DANA, 'GET', '/audit?action=retention.run&limit=5');
    const entries = Array.isArray(audit) ? audit : audit.entries;
    assert(entries.length >= 1, 'the manual retention run is audited');
    await screenshot(officer, 'desktop-compliance-retention');
    await axe(officer, 'compliance-retention');
  });

  test('a legal hold refuses the custodian’s erasure, naming the hold; once released, the erasure succeeds', async () => {
    const officer = pages.compliance;
    let dialog = await openConsole(officer, 'Legal holds');
    await dialog.getByText('No active legal holds.').waitFor();
    await dialog.getByRole('button', { name: 'New hold' }).click();
    let form = dialog.getByRole('form', { name: 'New legal hold' });
    await form.getByRole('button', { name: 'Place hold' }).click();
    await form.getByRole('alert').filter({ hasText: 'Name the hold' }).waitFor();
    await form.getByLabel('Hold name').fill(HOLD);
    await pick(form, 'Custodians', 'erin', ERIN.name);
    await form.getByRole('checkbox', { name: '#records' }).check();
    await axe(officer, 'compliance-hold-form');
    await form.getByRole('button', { name: 'Place hold' }).click();
    const hold = dialog.locator('.hold', { hasText: HOLD });
    await hold.locator('.pill', { hasText: 'Active' }).waitFor();
    await hold.getByText(ERIN.name).waitFor();
    await hold.getByText('#records').waitFor();
    const [held] = await api(CAROL, 'GET', '/compliance/holds');
    assert(held && held.name === HOLD && held.active && held.custodian_ids.includes(story.erinId) && held.channel_ids.includes(story.recordsId), `the server holds Erin and #records: ${JSON.stringify(held)}`);
    story.holdId = held.id;

    // A second hold with the same name is refused (409) inside the form.
    state.expectConflict = true;
    await dialog.getByRole('button', { name: 'New hold' }).click();
    form = dialog.getByRole('form', { name: 'New legal hold' });
    await form.getByLabel('Hold name').fill(HOLD);
    await form.getByRole('checkbox', { name: '#general' }).check();
    await form.getByRole('button', { name: 'Place hold' }).click();
    await form.getByRole('alert').filter({ hasText: 'already exists' }).filter({ hasText: 'conflict' }).waitFor();
    await screenshot(officer, 'desktop-compliance-hold-conflict');
    await form.getByRole('button', { name: 'Cancel' }).click();
    assert((await api(CAROL, 'GET', '/compliance/holds?include_released=true')).length === 1, 'the refused hold was not created');
    await screenshot(officer, 'desktop-compliance-holds');
    await axe(officer, 'compliance-holds');

    // Erasing the custodian is refused, naming the hold.
    dialog = await openConsole(officer, 'Erasure');
    await pick(dialog, 'Person to erase', 'erin', ERIN.name, 'Choose');
    const eraseButton = dialog.getByRole('button', { name: `Erase ${ERIN.name} permanently` });
    assert(await eraseButton.isDisabled(), 'erasing waits for the typed confirmation');
    await dialog.getByLabel(/to confirm/).fill('someone@example.com');
    assert(await eraseButton.isDisabled(), 'a wrong email does not confirm');
    await dialog.getByLabel(/to confirm/).fill(ERIN.email.toUpperCase());
    await eraseButton.click();
    const refusal = dialog.getByRole('alert').filter({ hasText: 'Erasure refused' });
    await refusal.filter({ hasText: `The legal hold “${HOLD}” covers ${ERIN.name}` }).waitFor();
    // Said once, in plain words: one notice, no raw error code beside it, no toast repeating it.
    await officer.waitForTimeout(300);
    const notices = await dialog.getByRole('alert').allTextContents();
    assert(notices.length === 1, `exactly one refusal is shown: ${JSON.stringify(notices)}`);
    assert(!/\bconflict\b|error code|[a-z]+_[a-z]+/.test(notices[0]), `the refusal has no raw code: ${notices[0]}`);
    assert((await officer.locator('.toast', { hasText: /refused|erase/i }).count()) === 0, 'no toast repeats the refusal');
    await screenshot(officer, 'desktop-compliance-erasure-refused');
    await axe(officer, 'compliance-erasure-refused');
    let [erin] = await api(DANA, 'GET', `/admin/users?q=${encodeURIComponent(ERIN.email)}`);
    assert(erin && erin.id === story.erinId && erin.name === ERIN.name, 'Erin is untouched while held');
    state.expectConflict = false;

    // Release the hold, with a confirmation.
    dialog = await openConsole(officer, 'Legal holds');
    await dialog.locator('.hold', { hasText: HOLD }).getByRole('button', { name: `Release hold ${HOLD}` }).click();
    await dialog.getByRole('group', { name: `Release hold ${HOLD}` }).getByRole('button', { name: 'Confirm release' }).click();
    await dialog.getByText('No active legal holds.').waitFor();
    await dialog.getByRole('checkbox', { name: 'Show released holds' }).check();
    await dialog.locator('.hold', { hasText: HOLD }).locator('.pill', { hasText: 'Released' }).waitFor();
    const [released] = await api(CAROL, 'GET', '/compliance/holds?include_released=true');
    assert(released.id === story.holdId && !released.active && released.released_at, `the server released the hold: ${JSON.stringify(released)}`);

    // Now the erasure goes through and reports what it removed.
    dialog = await openConsole(officer, 'Erasure');
    await pick(dialog, 'Person to erase', 'erin', ERIN.name, 'Choose');
    await dialog.getByLabel(/to confirm/).fill(ERIN.email);
    await dialog.getByRole('button', { name: `Erase ${ERIN.name} permanently` }).click();
    const result = dialog.locator('[data-testid="erasure-result"]');
    await result.filter({ hasText: `${ERIN.name} was erased.` }).waitFor();
    const text = await result.textContent();
    const erased = Number(/(\d+) messages?\b/.exec(text)?.[1]);
    assert(erased >= 2, `the result counts at least Erin’s two messages: ${text}`);
    await dialog.locator('[data-testid="erasure-keys"]').filter({ hasText: 'encryption key was destroyed' }).waitFor();
    [erin] = await api(DANA, 'GET', `/admin/users?q=erased-${story.erinId}`);
    assert(erin && erin.id === story.erinId && erin.name === `Erased user ${story.erinId}` && !erin.active, `Erin is anonymised: ${JSON.stringify(erin)}`);
    const general = await api(DANA, 'GET', `/channels/${story.generalId}/messages?limit=100`);
    assert(!general.messages.some((message) => message.author_id === story.erinId && /Erin’s note/.test(message.text ?? '')), 'Erin’s messages are gone');
    await screenshot(officer, 'desktop-compliance-erasure');
    await axe(officer, 'compliance-erasure');
  });

  test('exports in all four formats list their counts and filters and download with the bearer token', async () => {
    const officer = pages.compliance;
    const dialog = await openConsole(officer, 'Exports');
    await dialog.getByText('No exports yet.').waitFor();
    const form = dialog.getByRole('form', { name: 'New export' });
    await form.getByRole('checkbox', { name: '#general' }).check();
    const today = new Date().toISOString().slice(0, 10);
    await form.getByLabel('From (optional)').fill(today);
    await form.getByLabel('To (optional, included)').fill('2020-01-01');
    await form.getByRole('button', { name: 'Create export' }).click();
    await form.getByRole('alert').filter({ hasText: 'before the start' }).waitFor();
    await form.getByLabel('To (optional, included)').fill(today);
    for (const [format, label] of [
      ['jsonl', 'JSON Lines'],
      ['eml', 'Email (EML)'],
      ['actiance', 'Actiance XML'],
      ['csv', 'CSV'],
    ]) {
      await form.getByLabel('Format').selectOption(format);
      await form.getByRole('button', { name: 'Create export' }).click();
      await form.getByRole('status').filter({ hasText: 'is ready' }).waitFor();
      await until(`the ${label} export to be listed`, async () => (await dialog.locator('.export-item .hold-name', { hasText: label }).count()) === 1);
    }
    const exports = await api(CAROL, 'GET', '/compliance/exports');
    assert(exports.length === 4, `four exports on the server, got ${exports.length}`);
    assert(['jsonl', 'eml', 'actiance', 'csv'].every((format) => exports.some((record) => record.manifest.format === format)), 'one export per format');
    for (const record of exports) {
      assert(record.manifest.filters.channels.join() === 'general' && record.manifest.filters.from === today, `filters recorded: ${JSON.stringify(record.manifest.filters)}`);
      assert(record.manifest.counts.messages > 0, `the ${record.manifest.format} export has messages`);
      const item = dialog.locator(`.export-item[data-export-id="${record.id}"]`);
      await item.getByText(`${record.manifest.counts.messages} message`, { exact: false }).first().waitFor();
      await item.getByText('channels #general').waitFor();
    }
    // Downloads go through fetch with the bearer token and match the manifest byte for byte.
    const csv = exports.find((record) => record.manifest.format === 'csv');
    const item = dialog.locator(`.export-item[data-export-id="${csv.id}"]`);
    const manifestFile = await downloadBytes(officer, item.getByRole('button', { name: `Download manifest.json of export ${csv.id}` }));
    assert(manifestFile.name === `${csv.id}-manifest.json`, `the manifest is saved by name: ${manifestFile.name}`);
    assert(JSON.parse(manifestFile.bytes.toString('utf8')).files.length === csv.manifest.files.length, 'the downloaded manifest lists the files');
    const [first] = csv.manifest.files;
    const dataFile = await downloadBytes(officer, item.getByRole('button', { name: `Download ${first.name} of export ${csv.id}` }));
    const digest = createHash('sha256').update(dataFile.bytes).digest('hex');
    assert(digest === first.sha256 && dataFile.bytes.length === first.bytes, `${first.name} matches its manifest entry (${digest} vs ${first.sha256})`);
    const audit = await api(DANA, 'GET', '/audit?action=export.download&limit=10');
    const downloads = Array.isArray(audit) ? audit : audit.entries;
    assert(downloads.length >= 2, `both downloads are audited (${downloads.length})`);
    await screenshot(officer, 'desktop-compliance-exports');
    await axe(officer, 'compliance-exports');
  });

  test('the journal verifies intact and shows a checkpoint to copy; the console fits a phone and dark mode', async () => {
    const officer = pages.compliance;
    await officer.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    const dialog = await openConsole(officer, 'Journal');
    const checkpoint = dialog.locator('[data-testid="journal-checkpoint"]');
    await checkpoint.waitFor();
    const shownPosition = Number(await checkpoint.locator('[data-field="position"]').textContent());
    const shownHash = (await checkpoint.locator('[data-field="hash"]').textContent()).trim();
    const head = await api(CAROL, 'GET', '/compliance/journal/checkpoint');
    assert(shownPosition > 0 && shownPosition <= head.position, `a real journal position is shown (${shownPosition}, head ${head.position})`);
    if (shownPosition === head.position) assert(shownHash === head.hash, 'the shown hash is the head’s');
    assert(/^[0-9a-f]{64}$/.test(shownHash), `a SHA-256 hash is shown: ${shownHash}`);
    await dialog.getByRole('button', { name: 'Copy checkpoint' }).click();
    await dialog.getByRole('button', { name: 'Copied' }).waitFor();
    const copied = JSON.parse(await officer.evaluate(() => navigator.clipboard.readText()));
    assert(copied.position === shownPosition && copied.hash === shownHash, `the copied checkpoint matches: ${JSON.stringify(copied)}`);
    await dialog.getByRole('button', { name: 'Verify journal' }).click();
    const verdict = dialog.locator('[data-testid="journal-verdict"]');
    await verdict.filter({ hasText: 'Intact.' }).waitFor();
    const checked = Number((await verdict.textContent()).match(/([\d,]+) entr/)[1].replace(/,/g, ''));
    const server = await api(CAROL, 'GET', '/compliance/journal/verify');
    assert(server.intact && checked > 0 && checked <= server.checked, `intact with ${checked} entries checked (server ${server.checked})`);
    await screenshot(officer, 'desktop-compliance-journal');
    await axe(officer, 'compliance-journal');

    // Dark mode: the same screens, and axe's contrast checks, in the dark theme.
    await officer.emulateMedia({ colorScheme: 'dark' });
    await openConsole(officer, 'Legal holds');
    await dialog.getByRole('checkbox', { name: 'Show released holds' }).check();
    await dialog.locator('.hold').first().waitFor();
    await screenshot(officer, 'desktop-dark-compliance-holds');
    await axe(officer, 'compliance-holds-dark');
    await officer.emulateMedia({ colorScheme: 'light' });

    // At phone size every tab fits without horizontal scrolling.
    await officer.setViewportSize({ width: 360, height: 740 });
    try {
      for (const tab of ['Retention', 'Legal holds', 'Exports', 'Erasure', 'Journal']) {
        await openConsole(officer, tab);
        await dialog.getByRole('tabpanel').locator('h3').first().waitFor();
        await noHorizontalScroll(officer, `the ${tab} tab`);
      }
      await openConsole(officer, 'Exports');
      await dialog.locator('.export-item').first().waitFor();
      await screenshot(officer, 'phone-compliance-exports');
      await openConsole(officer, 'Legal holds');
      await dialog.getByRole('checkbox', { name: 'Show released holds' }).check();
      await dialog.locator('.hold').first().waitFor();
      await noHorizontalScroll(officer, 'the list of holds');
      await screenshot(officer, 'phone-compliance-holds');
      await axe(officer, 'compliance-phone');
    } finally {
      await officer.setViewportSize({ width: 1280, height: 800 });
    }
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await officer.context().close();
    delete pages.compliance;
  });
}
