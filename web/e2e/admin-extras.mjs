// End-to-end steps for the admin console's security and directory pages:
// publishing an acceptable-use policy, SCIM tokens, teams with an
// auto-membership rule, and per-user MFA reset, sessions and guest expiry.
// run.mjs registers these with registerAdminExtras(context), after the
// MFA-policy step (so the organisation requires MFA here).

export function registerAdminExtras(ctx) {
  const { test, pages, api, axe, screenshot, until, assert, baseUrl, state, totp, BOB, DANA, ALICE, PASSWORD } = ctx;

  const openAdmin = async (page, tab) => {
    const dialog = page.getByRole('dialog', { name: 'Administration' });
    if (!(await dialog.isVisible().catch(() => false))) {
      await page.locator('.me-button').click();
      await page.getByRole('menuitem', { name: 'Administration' }).click();
    }
    await dialog.getByRole('tab', { name: tab }).click();
    return dialog;
  };

  test('admin publishes an acceptable-use policy from the console and a member must accept it', async () => {
    const admin = pages.dana;
    const { bob } = pages;
    state.expectRestriction = true;
    // The organisation requires MFA by now: the admin enrols first (API), then uses the console.
    const security = await api(DANA, 'GET', '/me/security');
    if (!security.mfa_enabled) {
      const { secret } = await api(DANA, 'POST', '/me/mfa/totp');
      await api(DANA, 'POST', '/me/mfa/totp/confirm', { code: totp(secret) });
    }
    await admin.reload();
    await admin.locator('nav.sidebar').waitFor();
    let dialog = await openAdmin(admin, 'Security');
    await dialog.getByRole('heading', { name: 'Acceptable use policy' }).waitFor();
    await dialog.getByText('Version', { exact: false }).first().waitFor();
    await dialog.getByLabel('New policy text').fill('Version three.\nNo customer data in direct messages.');
    await dialog.getByRole('button', { name: 'Publish new version' }).click();
    // The admin, too, must accept the new version before continuing.
    await admin.getByRole('heading', { name: /Acceptable use policy/ }).waitFor();
    await admin.locator('.policy-text', { hasText: 'No customer data in direct messages.' }).waitFor();
    await admin.getByRole('button', { name: 'Accept' }).click();
    await admin.locator('nav.sidebar').waitFor();
    await bob.reload();
    await bob.locator('.policy-text', { hasText: 'No customer data in direct messages.' }).waitFor();
    await bob.getByRole('button', { name: 'Accept' }).click();
    await bob.locator('nav.sidebar').waitFor();
    dialog = await openAdmin(admin, 'Security');
    await dialog.locator('.acceptances li', { hasText: BOB.name }).waitFor();
    await dialog.getByRole('checkbox', { name: /Require two-factor authentication/ }).waitFor();
    assert(await dialog.getByRole('checkbox', { name: /Require two-factor authentication/ }).isChecked(), 'the MFA policy shows as required');
    await dialog.getByText('[sso]').waitFor();
    await screenshot(admin, 'desktop-admin-security');
    await axe(admin, 'admin-security');
  });

  test('admin creates a SCIM token in the console; it works against /scim/v2/Users until revoked', async () => {
    const admin = pages.dana;
    const dialog = await openAdmin(admin, 'Security');
    await dialog.getByLabel('Token name').fill('Okta e2e');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const secretBox = dialog.locator('[data-testid="scim-secret"]');
    await secretBox.waitFor();
    const secret = (await secretBox.textContent()).trim();
    assert(secret.length > 16, 'a secret is shown once');
    await dialog.getByRole('button', { name: 'Copy token' }).waitFor();
    await axe(admin, 'admin-scim-secret');
    const scim = (token) => fetch(`${baseUrl()}/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${BOB.email}"`)}`, { headers: { Authorization: `Bearer ${token}` } });
    const response = await scim(secret);
    assert(response.status === 200, `SCIM answered ${response.status}`);
    const body = await response.json();
    assert(body.totalResults === 1 && body.Resources[0].userName === BOB.email, `SCIM lists bob: ${JSON.stringify(body).slice(0, 300)}`);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.getByRole('button', { name: 'Revoke token Okta e2e' }).click();
    await dialog.locator('.scim-tokens li', { hasText: 'Okta e2e' }).locator('.pill', { hasText: 'Revoked' }).waitFor();
    assert((await scim(secret)).status === 401, 'a revoked token is refused');
  });

  test('admin creates a team and an auto-membership rule; the member appears in the channel', async () => {
    const admin = pages.dana;
    const created = await api(DANA, 'POST', '/channels', { name: 'support-desk', kind: 'public' });
    const channelId = created.channel?.id ?? created.id;
    const bobId = (await api(DANA, 'GET', `/admin/users?q=${encodeURIComponent(BOB.email)}`))[0].id;
    const dialog = await openAdmin(admin, 'Directory');
    await dialog.getByLabel('New team name').fill('Support');
    await dialog.getByRole('button', { name: 'Create team' }).click();
    const team = dialog.locator('.admin-unit', { hasText: 'Support' });
    await team.getByRole('button', { name: 'Edit team Support' }).click();
    await team.getByLabel('Add member').selectOption({ label: `${BOB.name} (${BOB.email})` });
    await team.getByRole('button', { name: 'Add', exact: true }).click();
    await team.locator('.unit-members li', { hasText: BOB.name }).waitFor();
    await dialog.getByLabel('Department or team').selectOption({ label: 'Team: Support' });
    await dialog.getByLabel('Channel', { exact: true }).selectOption({ label: '#support-desk' });
    await dialog.getByRole('button', { name: 'Add rule' }).click();
    await dialog.locator('.admin-rules li', { hasText: 'Team Support → #support-desk' }).waitFor();
    await until('bob to be added to #support-desk', async () => (await api(DANA, 'GET', `/channels/${channelId}/members`)).some((member) => (member.id ?? member.user?.id) === bobId));
    await screenshot(admin, 'desktop-admin-directory');
    await axe(admin, 'admin-directory');
    // At phone size the console fits without horizontal scrolling.
    await admin.setViewportSize({ width: 360, height: 740 });
    await dialog.getByRole('heading', { name: 'Teams' }).waitFor();
    const width = await admin.evaluate(() => document.documentElement.scrollWidth);
    await screenshot(admin, 'phone-admin-directory');
    await admin.setViewportSize({ width: 1280, height: 800 });
    assert(width <= 360, `no horizontal scrolling in the directory (scrollWidth ${width})`);
  });

  /** Searches the people list and waits until it shows only `name`: a bare count of one could still be the previous search's answer. */
  const searchPeople = async (dialog, query, name) => {
    await dialog.getByLabel('Search people').fill(query);
    await until(`the search for “${query}” to list only ${name}`, async () => {
      const rows = await dialog.locator('.admin-user').allTextContents();
      return rows.length === 1 && rows[0].includes(name);
    });
  };

  test('admin resets a member’s MFA (signing them out), sees sessions and changes a guest’s expiry', async () => {
    const admin = pages.dana;
    const { bob } = pages;
    try {
      await resetMfaStory(admin, bob);
    } finally {
      // Leave the organisation as the later steps expect it (MFA optional,
      // policy accepted) even when a check above failed, so one failure does
      // not cascade into every later step.
      state.expectAuthError = false;
      await api(DANA, 'PUT', '/auth/mfa-policy', { required: false });
      const { version } = await api(ALICE, 'GET', '/policy');
      await api(ALICE, 'POST', '/policy/accept', { version });
    }
  });

  const resetMfaStory = async (admin, bob) => {
    const dialog = await openAdmin(admin, 'People');
    await searchPeople(dialog, 'gina', 'Gina Guest');
    await dialog.getByRole('button', { name: 'Manage Gina Guest' }).click();
    const later = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
    await dialog.getByLabel('Access until').fill(later);
    await dialog.getByRole('button', { name: 'Save expiry' }).click();
    await until('the expiry to change', async () => {
      const [gina] = await api(DANA, 'GET', '/admin/users?q=gina');
      return gina.expires_at && new Date(gina.expires_at).toISOString().slice(0, 10) === later;
    });
    await searchPeople(dialog, 'bob', BOB.name);
    await dialog.getByRole('button', { name: `Manage ${BOB.name}` }).click();
    const tools = dialog.locator('.user-tools');
    await tools.locator('.admin-session').first().waitFor();
    await axe(admin, 'admin-user-tools');
    await screenshot(admin, 'desktop-admin-user-tools');
    state.expectAuthError = true;
    await tools.getByRole('button', { name: 'Reset two-factor authentication' }).click();
    await tools.getByRole('button', { name: 'Confirm reset' }).click();
    await tools.getByText('No active sessions.').waitFor();
    // Bob is signed out everywhere and may sign in without a code (then must enrol again).
    await bob.getByRole('button', { name: 'Sign in' }).waitFor();
    const login = await fetch(`${baseUrl()}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: BOB.email, password: PASSWORD }) });
    assert(login.status === 200, `bob signs in without a code after the reset (${login.status})`);
    assert((await login.json()).mfa_enrolment_required === true, 'bob must enrol again');
    state.expectAuthError = false;
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  };

  test('admin adds a person from the console and they can sign in with the temporary password', async () => {
    const admin = pages.dana;
    const dialog = await openAdmin(admin, 'People');
    await dialog.getByRole('button', { name: 'Add person' }).first().click();
    const form = dialog.getByRole('form', { name: 'Add a person' });
    await form.getByLabel('Name').fill('Hana Example');
    await form.getByLabel('Email').fill('hana@example.com');
    await form.getByLabel('Role').selectOption('compliance');
    await form.getByLabel('Temporary password').fill('short');
    await form.getByRole('button', { name: 'Add person' }).click();
    await form.getByRole('alert').waitFor();
    await form.getByLabel('Temporary password').fill('temporary password 1');
    await form.getByRole('button', { name: 'Add person' }).click();
    await until('hana to be listed', async () => {
      const [hana] = await api(DANA, 'GET', '/admin/users?q=hana');
      return hana && hana.role === 'compliance';
    });
    await axe(admin, 'admin-add-person');
    const login = await fetch(`${baseUrl()}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'hana@example.com', password: 'temporary password 1' }) });
    assert(login.status === 200, `the new person signs in (${login.status})`);
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  test('admin unlocks an account locked by failed sign-ins', async () => {
    const admin = pages.dana;
    const signIn = (password) =>
      fetch(`${baseUrl()}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'hana@example.com', password }) });
    let status = 0;
    for (let attempt = 0; attempt < 10 && status !== 423; attempt += 1) status = (await signIn('not the password')).status;
    assert(status === 423, `repeated failures lock the account (${status})`);
    assert((await signIn('temporary password 1')).status === 423, 'even the right password is refused while locked');
    const dialog = await openAdmin(admin, 'People');
    await searchPeople(dialog, 'hana', 'Hana Example');
    const row = dialog.locator('li.admin-user', { hasText: 'Hana Example' });
    await row.getByText('Locked', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Unlock Hana Example' }).click();
    await row.getByText('Locked', { exact: true }).waitFor({ state: 'detached' });
    const [hana] = await api(DANA, 'GET', '/admin/users?q=hana');
    assert(!hana.locked_until, `the server lifted the lock: ${JSON.stringify(hana)}`);
    assert((await signIn('temporary password 1')).status === 200, 'the person signs in at once');
    await dialog.getByRole('button', { name: 'Close' }).click();
  });
}
