// End-to-end steps for a person's own account: the default channel on
// first sign-in, changing one's password, an administrator's one-time reset
// code redeemed on the sign-in page, profiles with a cropped photo, an
// erasure leaving other people's open screens at once, and a deactivated
// person told why they were signed out. run.mjs registers these with
// registerAccounts(context), after the admin console step (pages.dana).

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PHOTO_PATH = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'public/icons/icon-512.png');
const DEFAULT_CHANNEL = 'town-square';

export function registerAccounts(ctx) {
  const { test, pages, api, axe, screenshot, until, assert, baseUrl, state, newPage, DANA, PASSWORD } = ctx;
  const FRANK = { email: 'frank@example.com', name: 'Frank Fischer' };
  const HANK = { email: 'hank@example.com', name: 'Hank Hill' };
  const IVY = { email: 'ivy@example.com', name: 'Ivy Irwin' };
  const OFFICER = { email: 'oscar.officer@example.com', name: 'Oscar Officer' };
  const NEW_PASSWORD = 'frank chose this himself';
  const RESET_PASSWORD = 'a fresh start for frank';

  const create = (user, role = 'member') => api(DANA, 'POST', '/users', { email: user.email, name: user.name, role, password: PASSWORD }).then((created) => Object.assign(user, { id: created.id }));

  /** Signs in on the sign-in page, accepting the acceptable-use policy if one is waiting. */
  const signInAs = async (page, user, password = PASSWORD) => {
    if (!(await page.getByLabel('Email').isVisible().catch(() => false))) await page.goto(baseUrl());
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('nav.sidebar, .policy').first().waitFor();
    if (await page.locator('.policy').isVisible().catch(() => false)) {
      await page.getByRole('button', { name: 'Accept' }).click();
      await page.locator('nav.sidebar').waitFor();
    }
  };

  const menu = async (page, item) => {
    await page.locator('.me-button').click();
    await page.getByRole('menuitem', { name: item }).click();
  };

  const login = (email, password) =>
    fetch(`${baseUrl()}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }) });

  test('a new member finds the default channel on their first sign-in', async () => {
    for (const [label, page] of Object.entries(pages)) {
      page.on('response', (response) => {
        if (response.status() === 404) console.log(`[${label}] 404 ${response.request().method()} ${response.url()}`);
      });
    }
    await create(FRANK);
    const frank = await newPage('frank', { width: 1280, height: 800 });
    pages.frank = frank;
    await signInAs(frank, FRANK);
    await frank.locator('nav.sidebar a.sidebar-item', { hasText: DEFAULT_CHANNEL }).waitFor();
    await frank.locator('nav.sidebar a.sidebar-item', { hasText: DEFAULT_CHANNEL }).click();
    await frank.locator('main.conversation h1', { hasText: DEFAULT_CHANNEL }).waitFor();
    await screenshot(frank, 'desktop-default-channel');
    await axe(frank, 'default-channel');
    const phone = await newPage('frank-phone', { width: 390, height: 844 });
    await signInAs(phone, FRANK);
    await phone.locator('nav.sidebar a.sidebar-item', { hasText: DEFAULT_CHANNEL }).waitFor();
    await screenshot(phone, 'phone-default-channel');
    await phone.context().close();
  });

  test('a member changes their password in Security and signs out their other sessions', async () => {
    const { frank } = pages;
    const other = await newPage('frank-other', { width: 1280, height: 800 });
    await signInAs(other, FRANK);
    await menu(frank, 'Security');
    const dialog = frank.getByRole('dialog', { name: 'Security' });
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await dialog.getByLabel('Current password').fill(PASSWORD);
    await dialog.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await dialog.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    assert(await dialog.getByRole('checkbox', { name: /Sign out my other sessions/ }).isChecked(), 'signing out elsewhere is the default');
    await screenshot(frank, 'desktop-change-password');
    await axe(frank, 'change-password');
    state.expectAuthError = true;
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await frank.locator('.toast', { hasText: 'Password changed' }).waitFor();
    // The other browser is signed out at once.
    await other.getByRole('button', { name: 'Sign in' }).waitFor();
    await other.context().close();
    state.expectAuthError = false;
    assert((await login(FRANK.email, PASSWORD)).status === 401, 'the old password no longer works');
    assert((await login(FRANK.email, NEW_PASSWORD)).ok, 'the new password works');
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  test('an admin issues a one-time reset code and the person redeems it on the sign-in page', async () => {
    const admin = pages.dana;
    const { frank } = pages;
    await menu(admin, 'Administration');
    const dialog = admin.getByRole('dialog', { name: 'Administration' });
    await dialog.getByLabel('Search people').fill('frank');
    await until('frank in the list', async () => (await dialog.locator('.admin-user', { hasText: FRANK.name }).count()) === 1);
    state.expectAuthError = true;
    await dialog.getByRole('button', { name: `Reset password for ${FRANK.name}` }).click();
    await dialog.getByRole('button', { name: 'Create reset code' }).click();
    const codeBox = dialog.locator('[data-testid="reset-code"]');
    await codeBox.waitFor();
    const code = (await codeBox.textContent()).trim();
    assert(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/.test(code), `a grouped one-time code: ${code}`);
    const link = await dialog.getByLabel('Reset link').inputValue();
    assert(link === `${baseUrl()}/reset-password?code=${code}`, `the link carries the code: ${link}`);
    await screenshot(admin, 'desktop-admin-reset-code');
    await axe(admin, 'admin-reset-code');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Frank was signed out; the sign-in page says how to get back in.
    await frank.getByRole('button', { name: 'Sign in' }).waitFor();
    await frank.getByRole('button', { name: 'Forgot your password?' }).click();
    await frank.getByText('Ask an administrator').waitFor();
    await screenshot(frank, 'desktop-sign-in-forgot');
    await axe(frank, 'sign-in-forgot');
    const phone = await newPage('reset-phone', { width: 390, height: 844 });
    await phone.goto(`${baseUrl()}/reset-password?code=${code}`);
    await phone.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    assert((await phone.getByLabel('Reset code').inputValue()) === code, 'the link fills the code in');
    await screenshot(phone, 'phone-reset-password');
    await axe(phone, 'reset-password');
    await phone.context().close();

    await frank.getByRole('button', { name: 'I have a reset code' }).click();
    await frank.getByLabel('Reset code').fill(code.toLowerCase());
    await frank.getByLabel('New password', { exact: true }).fill(RESET_PASSWORD);
    await frank.getByLabel('Repeat the new password').fill(RESET_PASSWORD);
    await frank.getByRole('button', { name: 'Set new password' }).click();
    await frank.getByText('Your new password is set').waitFor();
    await signInAs(frank, FRANK, RESET_PASSWORD);
    state.expectAuthError = false;
    const again = await fetch(`${baseUrl()}/api/v1/auth/password-reset`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code, new_password: 'someone else tries' }),
    });
    assert(again.status === 400 && (await again.json()).code === 'invalid_reset_code', 'the code worked once');
  });

  test('a member edits their name, status and a cropped photo, and others see the photo', async () => {
    const { frank, bob } = pages;
    await menu(frank, 'Edit profile');
    const dialog = frank.getByRole('dialog', { name: 'Your profile' });
    await dialog.locator('input[type="file"]').setInputFiles(PHOTO_PATH);
    await dialog.getByRole('img', { name: 'Photo preview' }).waitFor();
    await dialog.getByLabel('Zoom').fill('1.5');
    await dialog.getByLabel('Display name').fill('Frank F. Fischer');
    await dialog.getByLabel('Status').fill('On leave until Monday');
    await screenshot(frank, 'desktop-edit-profile');
    await axe(frank, 'edit-profile');
    await dialog.getByRole('button', { name: 'Save profile' }).click();
    await frank.locator('.toast', { hasText: 'Profile saved' }).waitFor();
    FRANK.token = (await (await login(FRANK.email, RESET_PASSWORD)).json()).token;
    await api(FRANK, 'POST', `/channels/${(await api(FRANK, 'GET', '/channels')).find((s) => s.channel.name === DEFAULT_CHANNEL).channel.id}/messages`, { text: 'Photo test from Frank' });
    await bob.locator('nav.sidebar a.sidebar-item', { hasText: DEFAULT_CHANNEL }).click();
    const message = bob.locator('main.conversation article.message', { hasText: 'Photo test from Frank' });
    await message.waitFor();
    await message.locator('.avatar.has-photo img').waitFor();
    assert((await message.textContent()).includes('Frank F. Fischer'), 'the new name shows');
    await screenshot(bob, 'desktop-message-avatar');
    await bob.locator('nav.sidebar a.sidebar-item', { hasText: 'general' }).first().click();
    const phone = await newPage('frank-profile-phone', { width: 390, height: 844 });
    await signInAs(phone, FRANK, RESET_PASSWORD);
    await menu(phone, 'Edit profile');
    await phone.getByRole('dialog', { name: 'Your profile' }).locator('.avatar.has-photo img').waitFor();
    await screenshot(phone, 'phone-edit-profile');
    await phone.context().close();
  });

  test('an erasure removes the person’s messages from other people’s open screens at once', async () => {
    const { bob } = pages;
    await create(HANK);
    await create(OFFICER, 'compliance');
    const channels = await api(HANK, 'GET', '/channels');
    const square = channels.find((summary) => summary.channel.name === DEFAULT_CHANNEL).channel.id;
    await api(HANK, 'POST', `/channels/${square}/messages`, { text: 'Hank shares something personal' });
    await bob.locator('nav.sidebar a.sidebar-item', { hasText: DEFAULT_CHANNEL }).click();
    const message = bob.locator('main.conversation article.message', { hasText: 'Hank shares something personal' });
    await message.waitFor();
    await api(OFFICER, 'POST', '/compliance/erasures', { user_id: HANK.id });
    await until('the erased message to leave bob’s screen without a reload', async () => (await message.count()) === 0);
    await screenshot(bob, 'desktop-after-erasure');
    await axe(bob, 'after-erasure');
    // The admin console offers no way back for an erased account.
    const admin = pages.dana;
    await menu(admin, 'Administration');
    const dialog = admin.getByRole('dialog', { name: 'Administration' });
    await dialog.getByLabel('Search people').fill(`erased-${HANK.id}`);
    const row = dialog.locator('.admin-user', { hasText: `Erased user ${HANK.id}` });
    await row.waitFor();
    await row.locator('.pill', { hasText: 'Erased' }).waitFor();
    assert((await row.getByRole('button', { name: /Reactivate/ }).count()) === 0, 'no Reactivate for an erased account');
    await screenshot(admin, 'desktop-admin-erased-user');
    await dialog.getByRole('button', { name: 'Close' }).click();
    // Later steps expect bob in #general.
    await bob.locator('nav.sidebar a.sidebar-item', { hasText: 'general' }).first().click();
    await bob.locator('main.conversation h1', { hasText: 'general' }).waitFor();
  });

  test('a deactivated person is told why they were signed out', async () => {
    await create(IVY);
    const ivy = await newPage('ivy', { width: 390, height: 844 });
    await signInAs(ivy, IVY);
    state.expectAuthError = true;
    await api(DANA, 'POST', `/admin/users/${IVY.id}/deactivate`);
    await ivy.getByText('Your account was deactivated by an administrator').waitFor();
    await screenshot(ivy, 'phone-signed-out-deactivated');
    await axe(ivy, 'signed-out-deactivated');
    await ivy.context().close();
    state.expectAuthError = false;
  });
}
