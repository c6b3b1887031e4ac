// End-to-end tests of the web client in real headless Chromium against the
// real conclave server. Usage: CONCLAVE_BIN=/abs/path/conclave npm run test:e2e
//
// The runner starts its own server on a free port with a temporary data
// directory, creates users with the CLI, drives two browser contexts as two
// people (and a phone-sized third), restarts the server mid-conversation,
// runs axe-core on the main screens and writes screenshots to
// ../artifacts/screenshots. It prints "N passed, M failed" last and exits
// non-zero on any failure. Steps share one story, so they run in order.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { registerAdminExtras } from './admin-extras.mjs';
import { registerAccounts } from './accounts.mjs';
import { conversationExtras } from './conversation-extras.mjs';
import { registerInboxExtras } from './inbox-extras.mjs';
import { registerComplianceConsole } from './compliance-console.mjs';
import { registerPhoneAndAdmin } from './phone-and-admin.mjs';
import { registerIssue12Gaps } from './issue12-gaps.mjs';

const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCREENSHOTS = resolve(WEB_DIR, '../artifacts/screenshots');
const AXE_PATH = join(WEB_DIR, 'node_modules/axe-core/axe.min.js');
const IMAGE_PATH = join(WEB_DIR, 'public/icons/icon-512.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STEP_TIMEOUT_MS = 90_000;
const WAIT_MS = 20_000;

const BIN = process.env.CONCLAVE_BIN;
const PASSWORD = 'correct horse battery staple';
const ALICE = { email: 'alice@example.com', name: 'Alice Archer' };
const BOB = { email: 'bob@example.com', name: 'Bob Baker' };
const CAROL = { email: 'carol@example.com', name: 'Carol Clark' };
const DANA = { email: 'dana@example.com', name: 'Dana Admin', role: 'admin' };
// Answers WhatsApp customers with alice; only the inbox steps use her.
const ERIN = { email: 'erin@example.com', name: 'Erin Ellis' };
// The server's upload limit, small enough for a step to pick a file over it.
const UPLOAD_LIMIT_BYTES = 5 * 1024 * 1024;

const tests = [];
function test(name, fn) {
  tests.push({ name, fn });
}

// ---- process plumbing ------------------------------------------------------

const state = { server: null, serverLog: [], browser: null, dataDir: null, port: 0, consoleProblems: [] };

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

function run(args, input) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveRun(output) : reject(new Error(`conclave ${args.join(' ')} exited ${code}: ${output}`))));
    child.stdin.end(input ?? '');
  });
}

async function startServer() {
  const child = spawn(BIN, ['serve', '--data-dir', state.dataDir, '--listen', `127.0.0.1:${state.port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  const log = (chunk) => {
    state.serverLog.push(String(chunk));
    if (state.serverLog.length > 400) state.serverLog.splice(0, state.serverLog.length - 400);
  };
  child.stdout.on('data', log);
  child.stderr.on('data', log);
  state.server = child;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${state.serverLog.join('')}`);
    try {
      const response = await fetch(`http://127.0.0.1:${state.port}/readyz`);
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error('server did not become ready within 30 s');
}

async function stopServer(signal = 'SIGTERM') {
  const child = state.server;
  state.server = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function cleanup() {
  try {
    await state.browser?.close();
  } catch {
    // Already gone.
  }
  await stopServer();
  state.graphServer?.close();
  if (state.dataDir) rmSync(state.dataDir, { recursive: true, force: true });
}

// Whatever happens, never leave a server running behind us.
process.on('exit', () => state.server?.kill('SIGKILL'));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    state.server?.kill('SIGKILL');
    void cleanup().finally(() => process.exit(130));
  });
}

// ---- browser helpers -------------------------------------------------------

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function until(description, predicate, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await predicate();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${description}${last instanceof Error ? ` (${last.message})` : ''}`);
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const baseUrl = () => `http://127.0.0.1:${state.port}`;

async function newPage(label, viewport) {
  const context = await state.browser.newContext({ viewport, deviceScaleFactor: 1, hasTouch: viewport.width < 500, isMobile: viewport.width < 500 });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (error) => state.consoleProblems.push(`[${label}] uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    // While the server is deliberately down, the browser logs failed loads and sockets.
    if (state.expectAuthError && /status of 401/.test(text)) return;
    // Once a new policy is published, requests answer 403 until it is accepted.
    if (state.expectRestriction && /status of 403/.test(text)) return;
    if (state.expectLockout && /status of (401|423)/.test(text)) return;
    // A step that has the server refuse bad input on purpose.
    if (state.expectBadRequest && /status of 400/.test(text)) return;
    // A refused hold name or erasure answers 409, which the console shows.
    if (state.expectConflict && /status of 409/.test(text)) return;
    if (state.expectNetworkErrors && /Failed to load resource|WebSocket connection|ERR_CONNECTION_REFUSED|net::/.test(text)) return;
    // A failed load names its URL, so the culprit can be found.
    const where = message.location()?.url;
    state.consoleProblems.push(`[${label}] console: ${text}${where ? ` (${where})` : ''}`);
  });
  return page;
}

async function signIn(page, user) {
  await page.goto(baseUrl());
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('nav.sidebar').waitFor();
}

async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

async function axe(page, screen) {
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  // page.evaluate runs outside the page's CSP (which rightly forbids inline
  // scripts), where addScriptTag would be blocked.
  if (!loaded) await page.evaluate(readFileSync(AXE_PATH, 'utf8'));
  const results = await page.evaluate(async () => {
    const outcome = await window.axe.run(document, { resultTypes: ['violations'] });
    return outcome.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.slice(0, 3).map((node) => node.target.join(' ')),
    }));
  });
  const serious = results.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  mkdirSync(SCREENSHOTS, { recursive: true });
  writeFileSync(join(SCREENSHOTS, `axe-${screen}.json`), JSON.stringify(results, null, 2));
  assert(serious.length === 0, `axe found serious/critical violations on ${screen}: ${JSON.stringify(serious, null, 2)}`);
}

const composer = (page) => page.locator('main.conversation textarea.composer-input');
const threadComposer = (page) => page.locator('aside.side-panel textarea.composer-input');
const messageWith = (page, text) => page.locator('main.conversation article.message', { hasText: text });

async function send(page, text) {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

async function countMessages(page, text) {
  return page.locator('main.conversation article.message .message-text', { hasText: text }).count();
}

async function openChannel(page, name) {
  await page.locator('nav.sidebar a.sidebar-item', { hasText: name }).first().click();
  await page.locator('main.conversation h1', { hasText: name }).waitFor();
}

/** Calls the REST API as a user, for seeding data the UI is not under test for. */
async function api(user, method, path, body) {
  if (!user.token) {
    const login = await fetch(`${baseUrl()}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
    });
    assert(login.ok, `login for seeding failed: ${login.status}`);
    user.token = (await login.json()).token;
  }
  let response;
  for (let attempt = 0; ; attempt += 1) {
    response = await fetch(`${baseUrl()}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // Seeding goes faster than a person types; honour the server's rate limit.
    if (response.status !== 429 || attempt >= 20) break;
    await sleep(1000 * Math.max(1, Number(response.headers.get('retry-after')) || 1));
  }
  assert(response.ok, `${method} ${path} answered ${response.status}: ${await response.clone().text()}`);
  return response.status === 204 ? null : response.json();
}

// ---- WhatsApp: a stand-in for Meta's Graph API and signed webhooks ----------

const WA_SECRET = 'e2e-app-secret';
const WA_NUMBER = '1055501';
const WA_CUSTOMER = '4915112345678';

function startGraphStandIn() {
  state.graphSends = [];
  const server = createHttpServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      state.graphSends.push({ url: request.url, body });
      response.writeHead(200, { 'Content-Type': 'application/json' });
      // Meta's media upload (multipart) answers the media id for the message that follows.
      if (request.method === 'POST' && request.url.endsWith('/media')) return response.end(JSON.stringify({ id: `media-${state.graphSends.length}` }));
      response.end(JSON.stringify({ messaging_product: 'whatsapp', contacts: [{ wa_id: WA_CUSTOMER }], messages: [{ id: `wamid.OUT${state.graphSends.length}` }] }));
    });
  });
  state.graphServer = server;
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => {
      state.graphBase = `http://127.0.0.1:${server.address().port}/v21.0`;
      done();
    }),
  );
}

async function webhook(value) {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550100', phone_number_id: WA_NUMBER }, contacts: [{ profile: { name: 'Kerry Fisher' }, wa_id: WA_CUSTOMER }], ...value } }] }],
  });
  const signature = `sha256=${createHmac('sha256', WA_SECRET).update(body).digest('hex')}`;
  const response = await fetch(`${baseUrl()}/connectors/whatsapp/webhook`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature }, body });
  const text = await response.text();
  assert(response.ok, `webhook answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

// ---- the story -------------------------------------------------------------

const pages = {};

test('users sign in with email and password', async () => {
  pages.alice = await newPage('alice', { width: 1280, height: 800 });
  pages.bob = await newPage('bob', { width: 1280, height: 800 });
  await pages.alice.goto(baseUrl());
  await pages.alice.getByRole('button', { name: 'Sign in' }).waitFor();
  await screenshot(pages.alice, 'desktop-sign-in');
  await axe(pages.alice, 'sign-in');
  // A wrong password is refused with a clear message.
  await pages.alice.getByLabel('Email').fill(ALICE.email);
  await pages.alice.getByLabel('Password').fill('wrong password');
  state.expectAuthError = true;
  await pages.alice.getByRole('button', { name: 'Sign in' }).click();
  await pages.alice.getByRole('alert').waitFor();
  state.expectAuthError = false;
  await signIn(pages.alice, ALICE);
  await signIn(pages.bob, BOB);
  await screenshot(pages.alice, 'desktop-empty-workspace');
});

test('a channel is created, found in the browser and joined', async () => {
  const { alice, bob } = pages;
  await alice.getByRole('button', { name: 'Create channel' }).click();
  await alice.locator('input[name="channel-name"]').fill('general');
  await alice.locator('input[name="channel-topic"]').fill('Company-wide announcements');
  await screenshot(alice, 'desktop-create-channel');
  await axe(alice, 'create-channel-dialog');
  await alice.getByRole('button', { name: 'Create', exact: true }).click();
  await alice.locator('main.conversation h1', { hasText: 'general' }).waitFor();

  await bob.getByRole('button', { name: 'Browse channels' }).first().click();
  await bob.getByRole('button', { name: 'Join general' }).click();
  await bob.locator('main.conversation h1', { hasText: 'general' }).waitFor();
  await until('alice to see bob as a member', async () => (await alice.getByRole('button', { name: '2 members' }).count()) === 1);
});

test('two people chat in real time with mentions and markdown', async () => {
  const { alice, bob } = pages;
  await send(alice, 'Hello Bob, **welcome** to the team!');
  await messageWith(bob, 'welcome to the team').waitFor();
  assert((await bob.locator('main.conversation article.message strong', { hasText: 'welcome' }).count()) === 1, 'bold text is rendered');

  // Bob types: alice sees the typing indicator.
  await composer(bob).fill('Thanks @ali');
  await bob.locator('.mention-list li', { hasText: ALICE.name }).waitFor();
  await composer(bob).press('Enter');
  assert((await composer(bob).inputValue()).startsWith('Thanks @alice'), `mention completed: ${await composer(bob).inputValue()}`);
  await alice.locator('.typing-line', { hasText: `${BOB.name} is typing` }).waitFor();
  await composer(bob).pressSequentially(' glad to be here');
  await composer(bob).press('Enter');
  const mention = messageWith(alice, 'glad to be here');
  await mention.waitFor();
  await until('the mention to be highlighted for alice', async () => (await mention.locator('.mention-me').count()) === 1);

  // Script in a message is shown as text, never run.
  await send(alice, '<img src=x onerror="window.__xss=1"> and [bad](javascript:alert(1))');
  await messageWith(bob, 'onerror').waitFor();
  assert((await bob.evaluate(() => window.__xss)) === undefined, 'no injected script ran');
  assert((await messageWith(bob, 'onerror').locator('img, a[href^="javascript"]').count()) === 0, 'no element was injected');
  await screenshot(bob, 'desktop-conversation');
});

test('an image is uploaded and previewed, and opens in a lightbox', async () => {
  const { alice, bob } = pages;
  await alice.locator('main.conversation input[type="file"]').setInputFiles(IMAGE_PATH);
  await alice.locator('.upload-tray .upload', { hasText: 'icon-512.png' }).waitFor();
  await until('the upload to finish', async () => (await alice.locator('.upload-tray progress').count()) === 0 && (await alice.getByRole('button', { name: 'Send message' }).isEnabled()));
  await composer(alice).fill('Our new logo');
  await composer(alice).press('Enter');
  const message = messageWith(bob, 'Our new logo');
  await message.waitFor();
  const image = message.locator('.image-attachment img');
  await image.waitFor();
  await until('the preview to load from a blob URL', async () =>
    image.evaluate((element) => element.complete && element.naturalWidth > 0 && element.src.startsWith('blob:')),
  );
  await message.locator('.image-attachment').click();
  const lightbox = bob.locator('dialog.lightbox');
  await lightbox.locator('img').waitFor();
  await until('the full image to load', async () => lightbox.locator('img').evaluate((element) => element.complete && element.naturalWidth > 0));
  await screenshot(bob, 'desktop-lightbox');
  await bob.keyboard.press('Escape');
  await lightbox.waitFor({ state: 'detached' });
});

test('reactions show up for everyone', async () => {
  const { alice, bob } = pages;
  const message = messageWith(bob, 'welcome to the team');
  await message.hover();
  await message.getByRole('button', { name: 'React with 👍' }).click();
  const chip = messageWith(alice, 'welcome to the team').locator('button.reaction', { hasText: '👍' });
  await chip.waitFor();
  await until('the count to be 1', async () => (await chip.locator('.reaction-count').textContent()) === '1');
  // Alice adds her own: the count reaches 2 on both sides.
  await chip.click();
  await until('bob to see 2 reactions', async () => (await messageWith(bob, 'welcome to the team').locator('button.reaction .reaction-count').first().textContent()) === '2');
  // Any emoji from the picker, found by name.
  const target = messageWith(alice, 'welcome to the team');
  await target.hover();
  await target.locator('.message-actions').getByRole('button', { name: 'Add reaction' }).click();
  const picker = alice.getByRole('dialog', { name: 'Add reaction' });
  await picker.getByLabel('Search emoji').fill('rocket');
  await screenshot(alice, 'desktop-emoji-picker');
  await picker.getByRole('button', { name: 'rocket' }).click();
  await messageWith(bob, 'welcome to the team').locator('button.reaction', { hasText: '🚀' }).waitFor();
});

test('authors edit and delete their own messages', async () => {
  const { alice, bob } = pages;
  await send(alice, 'Lunch at 12?');
  const mine = messageWith(alice, 'Lunch at 12?');
  await mine.waitFor();
  await messageWith(bob, 'Lunch at 12?').waitFor();
  await mine.hover();
  await mine.getByRole('button', { name: 'More actions' }).click();
  await alice.getByRole('menuitem', { name: 'Edit message' }).click();
  const editor = alice.getByLabel('Edit message');
  await editor.fill('Lunch at 12:30?');
  await editor.press('Enter');
  const edited = messageWith(bob, 'Lunch at 12:30?');
  await edited.waitFor();
  await edited.locator('.edited', { hasText: '(edited)' }).waitFor();

  await send(alice, 'Oops, wrong channel');
  const oops = messageWith(alice, 'Oops, wrong channel');
  await oops.waitFor();
  await messageWith(bob, 'Oops, wrong channel').waitFor();
  await oops.hover();
  await oops.getByRole('button', { name: 'More actions' }).click();
  await alice.getByRole('menuitem', { name: 'Delete message' }).click();
  await alice.getByRole('button', { name: 'Delete', exact: true }).click();
  await until('bob to see the tombstone', async () => (await countMessages(bob, 'Oops, wrong channel')) === 0 && (await bob.locator('.message-deleted').count()) >= 1);
});

test('replies go into a thread with a reply count', async () => {
  const { alice, bob } = pages;
  const root = messageWith(bob, 'Lunch at 12:30?');
  await root.hover();
  await root.getByRole('button', { name: 'Reply in thread' }).click();
  await bob.locator('aside.side-panel h2', { hasText: 'Thread' }).waitFor();
  await threadComposer(bob).fill('Works for me 🍕');
  await threadComposer(bob).press('Enter');
  await bob.locator('aside.side-panel article.message', { hasText: 'Works for me' }).waitFor();
  const summary = messageWith(alice, 'Lunch at 12:30?').locator('.thread-summary', { hasText: '1 reply' });
  await summary.waitFor();
  await summary.click();
  await alice.locator('aside.side-panel article.message', { hasText: 'Works for me' }).waitFor();
  await screenshot(alice, 'desktop-thread');
  await axe(alice, 'conversation-with-thread');
  await alice.getByRole('button', { name: 'Close thread' }).click();
  await bob.getByRole('button', { name: 'Close thread' }).click();
  // The reply stays out of the main timeline.
  assert((await countMessages(alice, 'Works for me')) === 0, 'thread replies are not in the channel timeline');
});

test('a direct message shows an unread badge', async () => {
  const { alice, bob } = pages;
  await alice.getByRole('button', { name: 'New message' }).click();
  await alice.getByLabel('Find people').fill('bob');
  await alice.locator('dialog .user-results button', { hasText: BOB.name }).click();
  await alice.getByRole('button', { name: 'Start conversation' }).click();
  await alice.locator('main.conversation h1', { hasText: BOB.name }).waitFor();
  await send(alice, 'Psst, a private note');
  const item = bob.locator('nav.sidebar a.sidebar-item', { hasText: ALICE.name });
  await item.waitFor();
  await item.locator('.badge', { hasText: '1' }).waitFor();
  await item.click();
  await messageWith(bob, 'Psst, a private note').waitFor();
  await until('the badge to clear', async () => (await item.locator('.badge').count()) === 0);
  await openChannel(alice, 'general');
  // While bob reads the DM, alice writes in #general: bob gets the unread
  // state and, on opening it, a "New messages" line above the new message.
  await send(alice, 'While you were away');
  await bob.locator('nav.sidebar a.sidebar-item.unread', { hasText: 'general' }).waitFor();
  await openChannel(bob, 'general');
  await bob.locator('.new-messages-line').waitFor();
  const lineIsBeforeMessage = await bob.evaluate(() => {
    const line = document.querySelector('.new-messages-line');
    const next = line?.nextElementSibling;
    return Boolean(next && next.textContent?.includes('While you were away'));
  });
  assert(lineIsBeforeMessage, 'the new-messages line sits right above the first unread message');
});

test('messages are pinned and listed in the pins panel', async () => {
  const { alice, bob } = pages;
  const message = messageWith(alice, 'Lunch at 12:30?');
  await message.hover();
  await message.getByRole('button', { name: 'More actions' }).click();
  await alice.getByRole('menuitem', { name: 'Pin message' }).click();
  await messageWith(bob, 'Lunch at 12:30?').locator('.pinned-flag').waitFor();
  await bob.getByRole('button', { name: 'Pinned messages' }).click();
  await bob.locator('aside.side-panel .pin-card', { hasText: 'Lunch at 12:30?' }).waitFor();
  await bob.getByRole('button', { name: 'Close pinned messages' }).click();
});

test('files are dropped onto the conversation and shown as document cards', async () => {
  const { alice, bob } = pages;
  await alice.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['Quarterly numbers\n1,2,3\n'], 'numbers.csv', { type: 'text/csv' }));
    const target = document.querySelector('main.conversation');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    }
  });
  await alice.locator('.upload-tray .upload', { hasText: 'numbers.csv' }).waitFor();
  await until('the upload to finish', async () => alice.getByRole('button', { name: 'Send message' }).isEnabled());
  await composer(alice).press('Enter');
  const card = messageWith(bob, 'numbers.csv').locator('.document-card', { hasText: 'numbers.csv' });
  await card.waitFor();
  assert((await alice.locator('.drop-overlay').count()) === 0, 'the drop overlay goes away');
});

test('a voice note is recorded, sent and played back with progress', async () => {
  const { alice, bob } = pages;
  await alice.getByRole('button', { name: 'Record voice note' }).click();
  await alice.locator('.recording').waitFor();
  await sleep(1600);
  await alice.getByRole('button', { name: 'Stop and send voice note' }).click();
  const note = bob.locator('main.conversation article.message .voice-note').last();
  await note.waitFor();
  await note.getByRole('button', { name: 'Play voice note' }).click();
  await until('playback progress', async () => Number(await note.getByRole('progressbar').getAttribute('aria-valuenow')) > 0 || (await note.getByRole('button', { name: 'Pause voice note' }).count()) === 1);
});

test('history pages load while scrolling up, in order and without duplicates', async () => {
  const { alice } = pages;
  const created = await api(ALICE, 'POST', '/channels', { name: 'history', kind: 'public', topic: 'Long backlog' });
  const channelId = created.channel?.id ?? created.id;
  for (let index = 1; index <= 120; index += 1) {
    await api(ALICE, 'POST', `/channels/${channelId}/messages`, { text: `History ${String(index).padStart(3, '0')}`, client_id: `seed-${index}` });
  }
  await openChannel(alice, 'history');
  await messageWith(alice, 'History 120').waitFor();
  const scroller = alice.locator('main.conversation .message-scroller');
  await until('the oldest message after scrolling up', async () => {
    await scroller.evaluate((element) => (element.scrollTop = 0));
    return (await countMessages(alice, 'History 001')) === 1;
  }, 40_000);
  await alice.locator('.channel-start', { hasText: 'Welcome to #history' }).waitFor();
  const texts = await alice.locator('main.conversation article.message .message-text').allTextContents();
  const numbers = texts.map((text) => /History (\d{3})/.exec(text)?.[1]).filter(Boolean).map(Number);
  assert(numbers.length === 120, `120 messages shown, got ${numbers.length}`);
  assert(numbers.every((value, index) => value === index + 1), 'messages are in order without gaps or repeats');
  await openChannel(alice, 'general');
});

conversationExtras({ test, api, pages, openChannel, messageWith, composer, until, assert, sleep, axe, screenshot, users: { ALICE, BOB, CAROL, DANA } });

test('the app shell is cached by the service worker, API responses never', async () => {
  const { alice } = pages;
  const manifest = await (await fetch(`${baseUrl()}/manifest.webmanifest`)).json();
  assert(manifest.icons?.length >= 2 && manifest.display === 'standalone', 'the manifest describes an installable app');
  const cached = await alice.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const names = await caches.keys();
    const urls = [];
    for (const name of names) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) urls.push(new URL(request.url).pathname);
    }
    return { active: Boolean(registration.active), names, urls };
  });
  assert(cached.active, 'a service worker is active');
  assert(cached.urls.includes('/') && cached.urls.some((url) => url.startsWith('/assets/') && url.endsWith('.js')), `the shell is cached: ${cached.urls.join(', ')}`);
  assert(!cached.urls.some((url) => url.startsWith('/api/')), `no API response is cached: ${cached.urls.join(', ')}`);
});

test('the dark theme follows the system and keeps contrast', async () => {
  const { alice } = pages;
  await alice.emulateMedia({ colorScheme: 'dark' });
  const background = await alice.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert(background !== 'rgb(255, 255, 255)', `dark background, got ${background}`);
  await screenshot(alice, 'desktop-dark');
  await axe(alice, 'dark-conversation');
  await alice.emulateMedia({ colorScheme: 'light' });
});

test('both clients recover from a server restart without losing or duplicating messages', async () => {
  const { alice, bob } = pages;
  await send(alice, 'Before the restart');
  await messageWith(bob, 'Before the restart').waitFor();

  state.expectNetworkErrors = true;
  await stopServer('SIGKILL');
  await alice.locator('.banner.offline').waitFor({ timeout: 30_000 });
  await bob.locator('.banner.offline').waitFor({ timeout: 30_000 });
  await screenshot(alice, 'desktop-offline');

  // A send while the server is down fails visibly and is retried later.
  await send(alice, 'Sent while offline');
  await alice.locator('article.message.failed', { hasText: 'Sent while offline' }).waitFor();

  await startServer();
  await alice.locator('.banner.offline').waitFor({ state: 'detached', timeout: 40_000 });
  await bob.locator('.banner.offline').waitFor({ state: 'detached', timeout: 40_000 });
  await messageWith(bob, 'Sent while offline').waitFor({ timeout: 30_000 });
  await until('alice to see her message confirmed', async () => (await alice.locator('article.message.pending').count()) === 0);
  state.expectNetworkErrors = false;

  await send(bob, 'After the restart');
  await messageWith(alice, 'After the restart').waitFor();
  // Alice was watching the channel: what arrives meanwhile is read, not "new".
  assert((await alice.locator('.new-messages-line').count()) === 0, 'no new-messages line for messages that arrive while watching');
  await send(alice, 'And one more');
  await messageWith(bob, 'And one more').waitFor();

  for (const page of [alice, bob]) {
    for (const text of ['Hello Bob', 'glad to be here', 'Our new logo', 'Lunch at 12:30?', 'While you were away', 'Before the restart', 'Sent while offline', 'After the restart', 'And one more']) {
      const count = await countMessages(page, text);
      assert(count === 1, `"${text}" appears ${count} times`);
    }
  }
  // A fresh load from the server agrees with what the live clients show.
  await bob.reload();
  await bob.locator('main.conversation h1', { hasText: 'general' }).waitFor();
  await messageWith(bob, 'And one more').waitFor();
  for (const text of ['Before the restart', 'Sent while offline', 'After the restart']) {
    assert((await countMessages(bob, text)) === 1, `"${text}" after reload`);
  }
});

test('a phone-sized window navigates list → conversation → back', async () => {
  const phone = await newPage('phone', { width: 360, height: 740 });
  pages.phone = phone;
  await signIn(phone, BOB);
  const sidebar = phone.locator('nav.sidebar');
  assert(await sidebar.isVisible(), 'the list is shown first');
  assert((await phone.locator('main.conversation').count()) === 0 || !(await phone.locator('main.conversation').isVisible()), 'no conversation yet');
  await screenshot(phone, 'phone-list');
  await axe(phone, 'phone-list');
  await phone.locator('nav.sidebar a.sidebar-item', { hasText: 'general' }).click();
  await phone.locator('main.conversation h1', { hasText: 'general' }).waitFor();
  await messageWith(phone, 'And one more').waitFor();
  assert(!(await sidebar.isVisible()), 'the list is hidden in the conversation');
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= 360, `no horizontal scrolling (scrollWidth ${width})`);
  await screenshot(phone, 'phone-conversation');
  await axe(phone, 'phone-conversation');
  await send(phone, 'Hello from my phone');
  await messageWith(pages.alice, 'Hello from my phone').waitFor();
  await phone.getByRole('button', { name: 'Back to conversations' }).click();
  await sidebar.waitFor();
  assert(!(await phone.locator('main.conversation').isVisible().catch(() => false)), 'back on the list');
});

test('the quick switcher opens a conversation from the keyboard', async () => {
  const { alice } = pages;
  await alice.keyboard.press('Control+k');
  await alice.getByLabel('Channel or person').fill('bob');
  await alice.locator('.switcher-list li', { hasText: BOB.name }).first().waitFor();
  await screenshot(alice, 'desktop-quick-switcher');
  await alice.keyboard.press('Enter');
  await alice.locator('main.conversation h1', { hasText: BOB.name }).waitFor();
  await axe(alice, 'direct-message');
});

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) from a base32 secret. */
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const digest = createHmac('sha1', key).update(counter).digest();
  const offset = digest[digest.length - 1] & 0xf;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

test('presence is watched for channel members who are not conversation partners', async () => {
  const { alice } = pages;
  const general = (await api(CAROL, 'GET', '/channels/browse')).find((entry) => entry.channel.name === 'general');
  await api(CAROL, 'POST', `/channels/${general.channel.id}/join`);
  await openChannel(alice, 'general');
  await alice.getByRole("button", { name: /^\d+ members$/ }).click();
  const row = alice.locator('aside.side-panel .member-row', { hasText: CAROL.name });
  await row.waitFor();
  assert((await row.locator('.presence-online').count()) === 0, 'carol is offline at first');
  // Carol comes online (a socket of her own, opened from a page): alice,
  // who shares no conversation with her, sees it because she watches the member list.
  const carolPage = await newPage('carol', { width: 800, height: 600 });
  await carolPage.goto(baseUrl());
  await carolPage.evaluate(([token]) => {
    window.__carol = new WebSocket(`${location.origin.replace('http', 'ws')}/api/v1/ws?token=${encodeURIComponent(token)}`);
  }, [CAROL.token]);
  await row.locator('.presence-online').waitFor();
  await carolPage.evaluate(() => window.__carol.close());
  await row.locator('.presence-offline').waitFor();
  await carolPage.context().close();
  await alice.getByRole('button', { name: 'Close members' }).click().catch(() => undefined);
});

test('two-factor authentication is set up, a wrong code keeps the session, sessions are listed', async () => {
  const { alice } = pages;
  await alice.locator('.me-button').click();
  await alice.getByRole('menuitem', { name: 'Security' }).click();
  const dialog = alice.getByRole('dialog', { name: 'Security' });
  await dialog.locator('.session-row', { hasText: 'This device' }).waitFor();
  await dialog.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  const secret = (await dialog.locator('[data-testid="totp-secret"]').textContent()).trim();
  assert(/^[A-Z2-7]+=*$/.test(secret), `a base32 secret is shown: ${secret}`);
  assert((await dialog.locator('code', { hasText: 'otpauth://totp/' }).count()) === 1, 'the otpauth URI is shown as text');
  await axe(alice, 'mfa-enrolment');
  await dialog.getByLabel('Code from your app').fill(totp(secret));
  await dialog.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
  const codes = dialog.locator('.recovery-codes li');
  await until('ten recovery codes', async () => (await codes.count()) === 10);
  const recovery = (await codes.first().textContent()).trim();
  await screenshot(alice, 'desktop-recovery-codes');
  await dialog.getByRole('button', { name: 'I have saved my codes' }).click();
  await dialog.locator('.pill.on', { hasText: 'On' }).waitFor();
  // A wrong code is refused (401 invalid_totp) without signing out.
  await dialog.getByRole('button', { name: 'Turn off' }).click();
  state.expectAuthError = true;
  await dialog.getByLabel('Code to turn off two-factor authentication').fill('000000');
  await dialog.getByRole('button', { name: 'Turn off' }).last().click();
  await dialog.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
  state.expectAuthError = false;
  assert(await alice.locator('nav.sidebar').isVisible(), 'still signed in after a wrong code');
  await dialog.getByLabel('Code to turn off two-factor authentication').fill(recovery);
  await dialog.getByRole('button', { name: 'Turn off' }).last().click();
  await dialog.locator('.pill', { hasText: 'Off' }).waitFor();
  await dialog.getByRole('button', { name: 'Close' }).click();
});

test('admins manage people and guests and read the audit log; SSO errors are shown', async () => {
  const admin = await newPage('dana', { width: 1280, height: 800 });
  pages.dana = admin;
  await admin.goto(`${baseUrl()}/#sso_error=unknown_user`);
  await admin.getByRole('alert').filter({ hasText: 'no Conclave account' }).waitFor();
  assert((await admin.evaluate(() => location.hash)) === '', 'the fragment is removed');
  assert((await admin.getByRole('link', { name: /single sign-on/i }).count()) === 0, 'no SSO button while SSO is off');
  await signIn(admin, DANA);
  await admin.locator('.me-button').click();
  await admin.getByRole('menuitem', { name: 'Administration' }).click();
  const dialog = admin.getByRole('dialog', { name: 'Administration' });
  await dialog.locator('.admin-user', { hasText: BOB.name }).waitFor();
  await dialog.getByRole('button', { name: 'Invite guest' }).click();
  await dialog.getByLabel('Name').fill('Gina Guest');
  await dialog.getByLabel('Email').fill('gina@example.com');
  await dialog.getByLabel('Password (optional)').fill('a long guest password 42');
  await dialog.getByRole('checkbox', { name: '#general' }).check();
  await dialog.getByRole('button', { name: 'Create guest' }).click();
  const gina = dialog.locator('.admin-user', { hasText: 'Gina Guest' });
  await gina.locator('.guest-badge', { hasText: 'Guest' }).waitFor();
  await dialog.getByLabel('Search people').fill('carol');
  await until('the search to narrow the list', async () => (await dialog.locator('.admin-user').count()) === 1);
  await dialog.getByLabel(`Role of ${CAROL.name}`).selectOption('compliance');
  // Role changes and deactivation wait for a confirmation (e2e/phone-and-admin.mjs tests the dialogs).
  await admin.getByRole('dialog', { name: /compliance officer\?/ }).getByRole('button', { name: 'Make compliance officer' }).click();
  await until('the role to change', async () => (await api(DANA, 'GET', '/admin/users?q=carol')).some((user) => user.role === 'compliance'));
  await dialog.getByRole('button', { name: `Deactivate ${CAROL.name}` }).click();
  await admin.getByRole('dialog', { name: `Deactivate ${CAROL.name}?` }).getByRole('button', { name: 'Deactivate', exact: true }).click();
  await dialog.getByRole('button', { name: `Reactivate ${CAROL.name}` }).click();
  await dialog.getByRole('button', { name: `Deactivate ${CAROL.name}` }).waitFor();
  await screenshot(admin, 'desktop-admin-people');
  await axe(admin, 'admin-people');
  await dialog.getByRole('tab', { name: 'Audit log' }).click();
  await dialog.locator('.audit-table tbody tr').first().waitFor();
  await dialog.getByLabel('Action').fill('user.deactivate');
  await dialog.getByRole('button', { name: 'Filter' }).click();
  await until('only deactivations', async () => {
    const actions = await dialog.locator('.audit-table tbody tr td:nth-child(3)').allTextContents();
    return actions.length > 0 && actions.every((action) => action.includes('deactivate'));
  }).catch(() => undefined);
  const download = admin.waitForEvent('download');
  await dialog.getByRole('button', { name: 'Export JSON Lines' }).click();
  assert((await download).suggestedFilename().endsWith('.jsonl'), 'the export downloads as JSON Lines');
  await axe(admin, 'admin-audit');
  await dialog.getByRole('button', { name: 'Close' }).click();
});

test('staff answer WhatsApp customers from the inbox with delivery ticks', async () => {
  const { alice } = pages;
  const now = Math.floor(Date.now() / 1000);
  await webhook({ messages: [{ from: WA_CUSTOMER, id: 'wamid.IN1', timestamp: String(now), type: 'text', text: { body: 'Hi, where is order #1234?' } }] });
  await alice.reload();
  await alice.getByRole('button', { name: 'Customer inbox' }).click();
  await alice.getByRole('heading', { name: 'Customer inbox' }).waitFor();
  const row = alice.locator('.inbox-row', { hasText: 'Kerry Fisher' });
  await row.locator('.window.open').waitFor();
  await row.getByText('Unassigned').waitFor();
  await screenshot(alice, 'desktop-whatsapp-inbox');
  await axe(alice, 'whatsapp-inbox');
  await row.getByRole('button', { name: /^Claim/ }).click();
  await row.getByText('Assigned to you').waitFor();
  await row.locator('.inbox-open').click();
  await messageWith(alice, 'where is order #1234').waitFor();
  await alice.getByLabel(/^Reply to Kerry Fisher/).fill('It ships today!');
  await alice.getByRole('button', { name: 'Send reply' }).click();
  const reply = messageWith(alice, 'It ships today!');
  await reply.waitFor();
  await until('the reply to reach the Graph API', async () => state.graphSends.some((send) => send.body.includes('It ships today!')));
  await reply.locator('.delivery[data-status="sent"]').waitFor();
  // Meta reports the reply delivered, then read: the ticks follow live.
  const wamid = `wamid.OUT${state.graphSends.findIndex((send) => send.body.includes('It ships today!')) + 1}`;
  const status = (value) => ({ id: wamid, status: value, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: WA_CUSTOMER });
  await webhook({ statuses: [status('delivered')] });
  await reply.locator('.delivery[data-status="delivered"]').waitFor();
  await webhook({ statuses: [status('read')] });
  await reply.locator('.delivery[data-status="read"]').waitFor();
  await screenshot(alice, 'desktop-whatsapp-conversation');
  await axe(alice, 'whatsapp-conversation');

  // A customer who last wrote two days ago: only a template may be sent.
  const old = Math.floor(Date.now() / 1000) - 2 * 86_400;
  await webhook({
    contacts: [{ profile: { name: 'Old Customer' }, wa_id: '4915100000001' }],
    messages: [{ from: '4915100000001', id: 'wamid.IN-OLD', timestamp: String(old), type: 'text', text: { body: 'Any news?' } }],
  });
  await alice.getByRole('button', { name: 'Customer inbox' }).click();
  const stale = alice.locator('.inbox-row', { hasText: 'Old Customer' });
  await stale.locator('.window.closed').waitFor();
  await stale.locator('.inbox-open').click();
  await alice.getByText('Only an approved template can be sent').waitFor();
  assert((await alice.locator('.wa-composer textarea').count()) === 0, 'no free text outside the window');
  await alice.getByLabel('Template name').fill('order_update');
  await alice.getByRole('button', { name: 'Send template' }).click();
  await until('the template to reach the Graph API', async () => state.graphSends.some((send) => send.body.includes('order_update')));
  await axe(alice, 'whatsapp-template');
  // At phone size the inbox fits without horizontal scrolling.
  await alice.setViewportSize({ width: 360, height: 740 });
  await alice.getByRole('button', { name: 'Back to conversations' }).click();
  await alice.getByRole('button', { name: 'Customer inbox' }).click();
  await alice.locator('.inbox-row').first().waitFor();
  const width = await alice.evaluate(() => document.documentElement.scrollWidth);
  await screenshot(alice, 'phone-whatsapp-inbox');
  await alice.setViewportSize({ width: 1280, height: 800 });
  assert(width <= 360, `no horizontal scrolling in the inbox (scrollWidth ${width})`);
});

registerInboxExtras({ test, pages, api, webhook, axe, screenshot, until, assert, state, ALICE, DANA, ERIN, WA_CUSTOMER });
registerPhoneAndAdmin({ test, pages, api, newPage, signIn, baseUrl, axe, screenshot, until, assert, sleep, openChannel, messageWith, composer, ALICE, BOB, DANA });
registerIssue12Gaps({ test, pages, api, newPage, signIn, baseUrl, screenshot, axe, until, assert, sleep, state, openChannel, messageWith, composer, ALICE, BOB, CAROL, DANA, UPLOAD_LIMIT_BYTES });

test('too many failed sign-ins lock the account, and the screen says for how long', async () => {
  const page = await newPage('locked', { width: 1280, height: 800 });
  state.expectLockout = true;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    await fetch(`${baseUrl()}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'gina@example.com', password: 'wrong password here' }) });
  }
  await page.goto(baseUrl());
  await page.getByLabel('Email').fill('gina@example.com');
  await page.getByLabel('Password').fill('a long guest password 42');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: /Try again in \d+ (minute|second)/ }).waitFor();
  await screenshot(page, 'desktop-locked');
  await page.context().close();
  state.expectLockout = false;
});

registerAccounts({ test, pages, api, axe, screenshot, until, assert, baseUrl, state, newPage, DANA, PASSWORD });

test('a new acceptable-use policy blocks until accepted', async () => {
  const { bob } = pages;
  state.expectRestriction = true;
  await api(DANA, 'POST', '/policy', { text: 'Be kind.\nKeep customer data inside Conclave.' });
  await bob.reload();
  await bob.getByRole('heading', { name: /Acceptable use policy/ }).waitFor();
  await bob.locator('.policy-text', { hasText: 'Keep customer data inside Conclave.' }).waitFor();
  await screenshot(bob, 'desktop-policy');
  await axe(bob, 'policy');
  await bob.getByRole('button', { name: 'Accept' }).click();
  await bob.locator('nav.sidebar').waitFor();
  await bob.locator('main.conversation h1', { hasText: 'general' }).waitFor();
});

test('when the organisation requires MFA, a signed-in member must enrol first', async () => {
  const { bob } = pages;
  const { version } = await api(DANA, 'GET', '/policy');
  await api(DANA, 'POST', '/policy/accept', { version });
  await api(DANA, 'PUT', '/auth/mfa-policy', { required: true });
  await bob.reload();
  await bob.getByRole('heading', { name: 'Set up two-factor authentication' }).waitFor();
  const secret = (await bob.locator('[data-testid="totp-secret"]').textContent()).trim();
  await axe(bob, 'mfa-required');
  await bob.getByLabel('Code from your app').fill(totp(secret));
  await bob.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
  await until('ten recovery codes', async () => (await bob.locator('.recovery-codes li').count()) === 10);
  await bob.getByRole('button', { name: 'I have saved my codes' }).click();
  await bob.locator('nav.sidebar').waitFor();
  await bob.locator('main.conversation h1', { hasText: 'general' }).waitFor();
});

registerAdminExtras({ test, pages, api, axe, screenshot, until, assert, baseUrl, state, totp, BOB, DANA, ALICE, PASSWORD });
registerComplianceConsole({ test, pages, api, axe, screenshot, until, assert, state, newPage, signIn, CAROL, DANA, PASSWORD });

test('no console errors or uncaught exceptions', async () => {
  assert(state.consoleProblems.length === 0, state.consoleProblems.join('\n'));
});

// ---- runner ----------------------------------------------------------------

async function main() {
  let passed = 0;
  let failed = 0;
  if (!BIN) {
    console.error('CONCLAVE_BIN must name the built conclave binary (for example ../target/debug/conclave).');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  try {
    state.dataDir = mkdtempSync(join(tmpdir(), 'conclave-e2e-'));
    state.port = await freePort();
    await startGraphStandIn();
    // The WhatsApp connector, talking to the Graph API stand-in, with alice
    // and erin answering one business number.
    writeFileSync(
      join(state.dataDir, 'conclave.toml'),
      `[whatsapp]\nverify_token = "verify"\napp_secret = "${WA_SECRET}"\naccess_token = "graph-token"\ngraph_api_base = "${state.graphBase}"\nretry_base_ms = 10\n\n[[whatsapp.numbers]]\nphone_number_id = "${WA_NUMBER}"\nstaff = ["${ALICE.email}", "${ERIN.email}"]\n\n[onboarding]\n# The suite creates its own #general; the default channel gets its own name.\ndefault_channel = "town-square"\n\n[limits]\nmax_upload_bytes = ${UPLOAD_LIMIT_BYTES}\n`,
    );
    await startServer();
    for (const user of [ALICE, BOB, CAROL, DANA, ERIN]) {
      await run(['user', 'create', '--data-dir', state.dataDir, '--email', user.email, '--name', user.name, '--role', user.role ?? 'member', '--password-stdin'], `${PASSWORD}\n`);
    }
    state.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // A synthetic microphone, so voice notes can be recorded headless.
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
      ],
    });
  } catch (error) {
    console.error(`setup failed: ${error.stack ?? error}`);
    if (state.serverLog.length) console.error(`server log:\n${state.serverLog.join('').slice(-4000)}`);
    await cleanup();
    console.log(`0 passed, ${tests.length} failed`);
    process.exit(1);
  }

  for (const { name, fn } of tests) {
    const started = Date.now();
    try {
      await Promise.race([fn(), sleep(STEP_TIMEOUT_MS).then(() => Promise.reject(new Error(`step timed out after ${STEP_TIMEOUT_MS / 1000} s`)))]);
      passed += 1;
      console.log(`✔ ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failed += 1;
      console.log(`✖ ${name} (${Date.now() - started} ms)\n    ${String(error?.stack ?? error).split('\n').slice(0, 6).join('\n    ')}`);
      for (const [label, page] of Object.entries(pages)) {
        await screenshot(page, `failure-${tests.findIndex((entry) => entry.name === name)}-${label}`).catch(() => undefined);
      }
    }
  }
  if (failed > 0 && state.serverLog.length) console.log(`server log (tail):\n${state.serverLog.join('').slice(-3000)}`);
  await cleanup();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

await main();
