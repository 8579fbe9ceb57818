// End-to-end: the real app window (debug build) under Xvfb, driven through WebDriver (tauri-driver +
// WebKitWebDriver), against the real test provider over TLS and the real Secret Service.
//
// The app opens the authorization URL through the OS; this test makes tests/e2e/browser.mjs the
// system browser (xdg-mime default for http/https, and $BROWSER), which signs in, approves, and
// hands the callback to the OS with `gio open`, which starts a second app process that
// single-instance forwards to the running one: the same path a real browser takes.
//
// Also: Settings → Apps & agents and the consent dialog (a program asking through the app's consent
// desk; the real `latchkey mcp` under the Python MCP SDK's client, and `latchkey token` under the
// Ask and Closed hand-out policies set in the window), revoking from Settings (selection + confirmation), connecting and revoking with the keyboard
// alone, the audit export, the keychain check, the page's IPC limited to Latchkey's own commands and
// events, and screenshots of each screen in the light and the dark scheme (a second app session with
// GTK_THEME=Adwaita:dark, which WebKitGTK maps to prefers-color-scheme: dark).
//
// Run inside tests/with-session (scripts/test does). Screenshots go to tests/artifacts/e2e/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, existsSync, mkdtempSync, openSync, realpathSync, copyFileSync, chmodSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { join, dirname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { remote, Key } from 'webdriverio';
import { startProvider } from '../provider/harness.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const APP = process.env.LATCHKEY_APP_BINARY ?? join(ROOT, 'target/debug/latchkey-desktop');
const CLI = process.env.LATCHKEY_CLI_BINARY ?? join(ROOT, 'target/debug/latchkey');
const DRIVER = process.env.TAURI_DRIVER ?? join(ROOT, '.tools/bin/tauri-driver');
const ARTIFACTS = join(ROOT, 'tests/artifacts/e2e');
const SCOPES = ['openid', 'email', 'profile', 'demo.read'];
const SERVICE = `latchkey-e2e-${process.pid}-${Date.now()}`;

assert.ok(process.env.DBUS_SESSION_BUS_ADDRESS && process.env.DISPLAY, 'run inside tests/with-session');
assert.ok(process.env.HOME.includes('latchkey-session'), 'never against the real HOME');

let provider, driver, browser, work, port, nativePort, driverLog = '';
/** Every token the tests saw in the keychain, for the final secret scan. */
const tokensSeen = [];

const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});
const shot = async (name) => {
  const path = join(ARTIFACTS, `${name}.png`);
  // The window as the X screen shows it (x11-windows.py): let the latest DOM change reach it first.
  await browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
  await new Promise((r) => setTimeout(r, 250));
  execFileSync('/usr/bin/python3', [join(ROOT, 'tests/e2e/x11-windows.py'), 'shot', path]);
  return path;
};
const secretToolLookup = (key) => {
  try {
    return execFileSync('secret-tool', ['lookup', 'service', SERVICE, 'username', key], { encoding: 'utf8' });
  } catch {
    return null; // exit 1: no such entry
  }
};
const filesUnder = (dir) => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n);
  return statSync(p).isDirectory() ? filesUnder(p) : [p];
});

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  assert.ok(existsSync(APP), `build the app first: ${APP}`);
  provider = await startProvider({ tls: true });
  work = mkdtempSync(join(process.env.LATCHKEY_SESSION_DIR ?? tmpdir(), 'e2e-'));

  // The app's configuration: connections to the test provider, one returning through the deep
  // link, one through a loopback listener (as Google's desktop clients do); its own data folder.
  // The catalog's providers (Gmail, GitHub, …) are there too, pending.
  writeFileSync(join(work, 'connections.toml'), [
    '[[connection]]', 'id = "test"', 'name = "Test provider"', `issuer = "${provider.issuer}"`,
    'client_id = "latchkey"', `scopes = ${JSON.stringify(SCOPES)}`, `api_base = "${provider.issuer}"`, '',
    '[[connection]]', 'id = "demo"', 'name = "Loopback provider"', `issuer = "${provider.issuer}"`,
    'client_id = "latchkey"', `scopes = ${JSON.stringify(SCOPES)}`, 'redirect = "loopback"', '',
  ].join('\n'));
  // The app trusts the system roots plus the throw-away CA, the ordinary OpenSSL way.
  writeFileSync(join(work, 'roots.pem'),
    readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8') + readFileSync(provider.ca_file, 'utf8'));

  // Make the scripted browser the system browser for http(s).
  const apps = join(process.env.XDG_DATA_HOME, 'applications');
  mkdirSync(apps, { recursive: true });
  const browserScript = join(ROOT, 'tests/e2e/browser.mjs');
  writeFileSync(join(apps, 'latchkey-test-browser.desktop'), [
    '[Desktop Entry]', 'Type=Application', 'Name=Latchkey test browser', `Exec=${browserScript} %u`,
    'MimeType=x-scheme-handler/http;x-scheme-handler/https;', 'NoDisplay=true', '',
  ].join('\n'));
  for (const scheme of ['http', 'https']) {
    execFileSync('xdg-mime', ['default', 'latchkey-test-browser.desktop', `x-scheme-handler/${scheme}`]);
  }

  // During the WebDriver sessions closing the window quits (the last test covers the tray), so a
  // session's end ends the app; otherwise the next session's app would hand over to it through
  // single-instance.
  const prefsDir = join(process.env.XDG_CONFIG_HOME, 'io.latchkey.desktop');
  mkdirSync(prefsDir, { recursive: true });
  writeFileSync(join(prefsDir, 'preferences.json'), JSON.stringify({ keep_running_in_tray: false }));

  port = await freePort();
  nativePort = await freePort();
  await startSession({});
});

/** The app's data, connections and keychain namespace (the CLI uses the same). */
function appEnv() {
  return {
    LATCHKEY_DATA_DIR: join(work, 'data'),
    LATCHKEY_CONNECTIONS: join(work, 'connections.toml'),
    LATCHKEY_KEYCHAIN_SERVICE: SERVICE,
    SSL_CERT_FILE: join(work, 'roots.pem'),
  };
}

/** Starts tauri-driver and the app (a WebDriver session) with extra environment variables. */
async function startSession(extraEnv) {
  // WebKitWebDriver on a free port too: its default (4445) is another e2e run's on a shared machine.
  driver = spawn(DRIVER, ['--port', String(port), '--native-port', String(nativePort), '--native-driver', '/usr/bin/WebKitWebDriver'], {
    env: {
      ...process.env,
      ...appEnv(),
      BROWSER: join(ROOT, 'tests/e2e/browser.mjs'),
      NODE_EXTRA_CA_CERTS: provider.ca_file,
      LATCHKEY_TEST_BROWSER_LOG: join(work, 'browser.log'),
      RUST_LOG: 'debug',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d) => { driverLog += d; };
  driver.stdout.setEncoding('utf8').on('data', keep);
  driver.stderr.setEncoding('utf8').on('data', keep);
  for (let i = 0; ; i++) {
    try { await fetch(`http://127.0.0.1:${port}/status`); break; } catch {
      if (i > 100) throw new Error(`tauri-driver did not start:\n${driverLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  browser = await remote({
    hostname: '127.0.0.1', port, logLevel: 'error', connectionRetryCount: 0,
    capabilities: { 'wdio:enforceWebDriverClassic': true, 'tauri:options': { application: APP } },
  });
}

async function endSession() {
  await browser?.deleteSession().catch(() => {});
  browser = undefined;
  const exited = driver && driver.exitCode === null ? new Promise((ok) => driver.once('exit', ok)) : null;
  driver?.kill();
  await exited;
  driver = undefined;
  // The app must be gone before another one starts in this D-Bus session.
  for (let i = 0; i < 100 && appRunning(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!appRunning(), 'the app kept running after its session ended');
}

function appRunning() {
  try {
    execFileSync('pgrep', ['-f', '-x', APP]);
    return true;
  } catch {
    return false;
  }
}

after(async () => {
  await endSession().catch(() => {});
  await provider?.stop();
  writeFileSync(join(ARTIFACTS, 'app-and-driver.log'), driverLog);
});

const $id = (id) => browser.$(`[data-testid="${id}"]`);
/** Clicks element `id`, finding it again if the window re-rendered it between finding and clicking. */
const clickId = async (id) => {
  for (let tries = 1; ; tries += 1) {
    try {
      return await (await $id(id)).click();
    } catch (e) {
      if (tries >= 3 || !/stale element/i.test(String(e))) throw e;
    }
  }
};
const activeMatches = (selector) => browser.execute((sel) => Boolean(document.activeElement?.matches(sel)), selector);

/** Presses Tab until the focused element matches `selector` (keyboard only, as a person would). */
async function tabTo(selector, max = 80) {
  for (let i = 0; i < max; i++) {
    if (await activeMatches(selector)) return;
    await browser.keys(Key.Tab);
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** Connects the test connection from Add account with the mouse; returns the account's id. */
async function connectWithMouse() {
  await clickId('nav-add');
  const card = await browser.$('[data-testid="connection"][data-connection-id="test"]');
  await card.waitForDisplayed({ timeout: 20000 });
  await card.$('[data-testid="connect"]').click();
  return waitForConnected();
}

async function waitForConnected() {
  const success = await $id('connect-success');
  await success.waitForDisplayed({ timeout: 30000, timeoutMsg: `the sign-in did not succeed; app log:\n${driverLog.slice(-4000)}` });
  const id = await browser.execute(() =>
    window.__latchkeyIpc.filter((r) => r.name === 'connect-succeeded').at(-1)?.payload.id);
  assert.match(id, /^[0-9a-f-]{36}$/);
  return id;
}

function rememberTokens(accountId) {
  const access = secretToolLookup(`${accountId}/access`);
  const refresh = secretToolLookup(`${accountId}/refresh`);
  assert.ok(access && access.length >= 20, 'access token in the Secret Service');
  assert.ok(refresh && refresh.length >= 20, 'refresh token in the Secret Service');
  tokensSeen.push(access, refresh);
  return { access, refresh };
}

async function introspect(token) {
  const res = await provider.fetch(`${provider.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${provider.introspection_client_id}:${provider.introspection_client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await res.json()).active;
}

async function assertRevokedEverywhere(accountId, { access, refresh }) {
  assert.equal(await introspect(access), false, 'access token still active at the provider');
  assert.equal(await introspect(refresh), false, 'refresh token still active at the provider');
  assert.equal(secretToolLookup(`${accountId}/access`), null, 'access token left in the keychain');
  assert.equal(secretToolLookup(`${accountId}/refresh`), null, 'refresh token left in the keychain');
}

/**
 * Secret scan: what crossed IPC, the data folder (SQLite, WAL, logs), the app's output, the browser
 * log and the Downloads folder. Each source is checked non-empty first, so the scan cannot pass
 * vacuously.
 */
async function scanForSecrets() {
  assert.ok(tokensSeen.length >= 2, 'tokens were seen');
  const ipc = JSON.stringify(await browser.execute(() => window.__latchkeyIpc));
  assert.ok(ipc.includes('alice@example.test') && ipc.includes('accounts-changed'), 'IPC log recorded');
  const sources = { ipc, 'app and driver output': driverLog, 'browser log': readFileSync(join(work, 'browser.log'), 'utf8') };
  const dataFiles = filesUnder(join(work, 'data'));
  assert.ok(dataFiles.some((f) => f.endsWith('latchkey.sqlite3')) && dataFiles.some((f) => f.endsWith('latchkey.log')));
  for (const f of dataFiles) sources[f] = readFileSync(f).toString('latin1');
  const downloads = join(process.env.HOME, 'Downloads');
  if (existsSync(downloads)) for (const f of filesUnder(downloads)) sources[f] = readFileSync(f, 'utf8');
  assert.ok(sources[join(work, 'data/logs/latchkey.log')].includes('sign-in completed'), 'the app log is the real one');
  const mustHaveContent = ['ipc', 'app and driver output', 'browser log', join(work, 'data/latchkey.sqlite3'), join(work, 'data/logs/latchkey.log')];
  for (const name of mustHaveContent) assert.ok(sources[name]?.length > 0, `${name} is empty`);
  for (const [name, text] of Object.entries(sources)) {
    for (const token of tokensSeen) assert.ok(!text.includes(token), `a token leaked into ${name}`);
  }
}

/** Screenshots of each screen, named with the scheme. */
async function screenshots(scheme) {
  const shots = [];
  await clickId('nav-accounts');
  await (await $id('account')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-accounts`));
  await clickId('open-account');
  await (await $id('history-entry')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-account-detail`));
  await clickId('nav-add');
  await (await $id('connection')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-add-account`));
  await clickId('nav-settings');
  await (await $id('accounts-table')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-settings-accounts`));
  await clickId('settings-activity');
  await (await $id('activity-entry')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-settings-activity`));
  await clickId('settings-keychain');
  await (await $id('keychain')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-settings-keychain`));
  await clickId('settings-connections');
  await (await $id('settings-connection')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-settings-connections`));
  await clickId('settings-apps');
  await (await $id('grants-empty')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-settings-apps`));
  // A program asking to use an account: the consent dialog over the window.
  const [first] = JSON.parse(execFileSync(CLI, ['accounts', 'list', '--json'], { encoding: 'utf8', env: { ...process.env, ...appEnv() } }));
  const asked = askDesk({ consumer: 'Claude Desktop', account: first.id, access: 'read', purpose: 'api_call' });
  await (await $id('consent-dialog')).waitForDisplayed({ timeout: 10000 });
  shots.push(await shot(`${scheme}-consent-dialog`));
  await clickId('consent-deny');
  assert.deepEqual(await asked, ['asking', 'deny']);
  for (const s of shots) console.log('screenshot:', s);
  return shots;
}

const schemeOf = () => browser.execute(() => (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));

test('connect → Active with scopes and identity, revoke → Revoked at the provider and in the keychain; no token anywhere', async () => {
  await (await $id('nav-add')).waitForDisplayed({ timeout: 20000 });
  assert.equal(await browser.getTitle(), 'Latchkey');
  // This session has no desktop font setting, so GTK's font is the alias "Sans": the page is given
  // sans-serif by name rather than have WebKit search every font for "Sans" (rendering.rs).
  const font = await browser.execute(() => getComputedStyle(document.documentElement).getPropertyValue('--font').trim());
  assert.equal(font, 'sans-serif');
  await (await $id('empty')).waitForDisplayed({ timeout: 20000 });
  console.log('screenshot:', await shot('01-empty'));

  // A forged callback, delivered the way the OS delivers any link: refused, shown, nothing stored.
  execFileSync('gio', ['open', 'io.latchkey.desktop:/oauth/test/callback?code=forged&state=forged']);
  const notice = await $id('notice');
  await notice.waitForDisplayed({ timeout: 15000 });
  assert.match(await notice.getText(), /does not match a sign-in Latchkey started/);
  assert.equal((await browser.$$('[data-testid="account"]')).length, 0, 'a forged link created no account');
  console.log('screenshot:', await shot('01b-forged-link-refused'));
  await notice.$('button').click();

  const accountId = await connectWithMouse();
  console.log('screenshot:', await shot('02-connected'));
  await clickId('nav-accounts');
  const row = await browser.$(`[data-testid="account"][data-account-id="${accountId}"][data-status="active"]`);
  await row.waitForExist({ timeout: 10000 });
  assert.equal(await row.getAttribute('data-identifier'), 'alice@example.test');
  assert.equal(await row.$('[data-testid="status"]').getText(), 'Active');
  const chips = await browser.execute((id) => [...document.querySelectorAll(
    `[data-testid="account"][data-account-id="${id}"] [data-testid="scope"]`)].map((c) => c.textContent.trim()), accountId);
  assert.deepEqual(chips, SCOPES);
  console.log('screenshot:', await shot('02b-active'));

  // The tokens are in the keychain (and only there), and live at the provider.
  const tokens = rememberTokens(accountId);
  assert.equal(await introspect(tokens.access), true);

  // Revoke from the account's page, after the confirmation.
  await row.$('[data-testid="open-account"]').click();
  await clickId('revoke');
  const dialog = await $id('revoke-dialog');
  await dialog.waitForDisplayed({ timeout: 5000 });
  assert.match(await dialog.getText(), /Latchkey will ask Test provider to invalidate/);
  await clickId('confirm-revoke');
  const message = await $id('revoke-message');
  await message.waitForDisplayed({ timeout: 20000 });
  assert.match(await message.getText(), /confirmed/);
  await browser.$(`[data-testid="account-detail"][data-status="revoked"]`).waitForExist({ timeout: 10000 });
  console.log('screenshot:', await shot('03-revoked'));
  await assertRevokedEverywhere(accountId, tokens);
  await scanForSecrets();
});

test('Connect again, then revoke from Settings: select the account, confirm', async () => {
  await clickId('nav-accounts');
  const row = await browser.$('[data-testid="account"][data-status="revoked"]');
  await row.waitForExist({ timeout: 10000 });
  const accountId = await row.getAttribute('data-account-id');
  await row.$('[data-testid="reconnect"]').click();
  assert.equal(await waitForConnected(), accountId, 'connecting again re-authorizes the same account');
  const tokens = rememberTokens(accountId);

  // The account's page: Test asks the provider who the token belongs to; Suspend and Resume.
  await clickId('nav-accounts');
  await browser.$(`[data-testid="account"][data-account-id="${accountId}"] [data-testid="open-account"]`).click();
  const detail = (status) => browser.$(`[data-testid="account-detail"][data-account-id="${accountId}"][data-status="${status}"]`);
  await detail('active').waitForExist({ timeout: 10000 });
  assert.equal(await $id('revoke-message').then((m) => m.isExisting()), false, 'the old revoke is still shown');
  await clickId('test-account');
  const action = await $id('action-message');
  await action.waitForDisplayed({ timeout: 15000 });
  assert.match(await action.getText(), /^Test passed: Test provider knows this token as .*alice@example\.test/);
  await clickId('suspend');
  await detail('suspended').waitForExist({ timeout: 10000, timeoutMsg: 'Suspend did not suspend the account' });
  assert.match(await $id('action-message').then((m) => m.getText()), /^Suspended: Latchkey keeps the tokens/);
  console.log('screenshot:', await shot('03a-suspended'));
  await clickId('resume');
  await detail('active').waitForExist({ timeout: 10000, timeoutMsg: 'Resume did not make the account active' });
  assert.match(await $id('action-message').then((m) => m.getText()), /^Resumed: the account is active again/);

  // The `latchkey` CLI on the same data: its suspend and resume show up in the window by themselves.
  await clickId('nav-accounts');
  const cli = (...args) => execFileSync(CLI, args, { encoding: 'utf8', env: { ...process.env, ...appEnv() } });
  cli('suspend', 'test:alice@example.test');
  await browser.$(`[data-testid="account"][data-account-id="${accountId}"][data-status="suspended"]`)
    .waitForExist({ timeout: 10000, timeoutMsg: 'the CLI\'s suspend did not reach the window' });
  console.log('screenshot:', await shot('03b-suspended-by-the-cli'));
  cli('resume', 'test:alice@example.test');
  await browser.$(`[data-testid="account"][data-account-id="${accountId}"][data-status="active"]`)
    .waitForExist({ timeout: 10000, timeoutMsg: 'the CLI\'s resume did not reach the window' });
  const trail = cli('audit', '--account', 'test:alice@example.test', '--json');
  assert.match(trail, /"detail":"active -> suspended: suspended"/);

  await clickId('nav-settings');
  const settingsRow = await browser.$(`[data-testid="settings-account"][data-account-id="${accountId}"][data-status="active"]`);
  await settingsRow.waitForExist({ timeout: 10000 });
  await settingsRow.$('[data-testid="select"]').click();
  const revokeSelected = await $id('revoke-selected');
  assert.equal(await revokeSelected.getText(), 'Revoke selected (1)');
  await revokeSelected.click();
  const dialog = await $id('revoke-dialog');
  await dialog.waitForDisplayed({ timeout: 5000 });
  assert.match(await dialog.getText(), /Latchkey will ask Test provider to invalidate the tokens of alice@example\.test/);
  console.log('screenshot:', await shot('04-settings-revoke-confirm'));
  await clickId('confirm-revoke');
  const message = await browser.$(`[data-testid="revoke-message"][data-account-id="${accountId}"]`);
  await message.waitForDisplayed({ timeout: 20000 });
  assert.match(await message.getText(), /confirmed/);
  await browser.$(`[data-testid="settings-account"][data-account-id="${accountId}"][data-status="revoked"]`).waitForExist({ timeout: 10000 });
  await assertRevokedEverywhere(accountId, tokens);
});

test('keyboard only: connect from Add account, revoke from Settings', async () => {
  await browser.execute(() => document.activeElement?.blur());
  await tabTo('[data-testid="nav-add"]');
  await browser.keys(Key.Enter);
  await tabTo('[data-testid="connection"][data-connection-id="test"] [data-testid="connect"]');
  await browser.keys(Key.Enter);
  const accountId = await waitForConnected();
  assert.ok(await activeMatches('[data-testid="connect-success"]'), 'focus moved to the outcome');
  const tokens = rememberTokens(accountId);

  await tabTo('[data-testid="nav-settings"]');
  await browser.keys(Key.Enter);
  await browser.$(`[data-testid="settings-account"][data-account-id="${accountId}"][data-status="active"]`).waitForExist({ timeout: 10000 });
  await tabTo(`[data-testid="settings-account"][data-account-id="${accountId}"] [data-testid="revoke"]`);
  await browser.keys(Key.Enter);
  await $id('revoke-dialog').then((d) => d.waitForDisplayed({ timeout: 5000 }));
  assert.ok(await activeMatches('[data-testid="confirm-revoke"]'), 'the dialog focuses its confirming button');
  // Escape cancels and gives focus back; then confirm for real with Enter.
  await browser.keys(Key.Escape);
  await browser.waitUntil(async () => !(await (await $id('revoke-dialog')).isExisting()), { timeout: 5000 });
  assert.ok(await activeMatches(`[data-testid="settings-account"][data-account-id="${accountId}"] [data-testid="revoke"]`));
  await browser.keys(Key.Enter);
  await $id('revoke-dialog').then((d) => d.waitForDisplayed({ timeout: 5000 }));
  await browser.keys(Key.Enter);
  const message = await browser.$(`[data-testid="revoke-message"][data-account-id="${accountId}"]`);
  await message.waitForDisplayed({ timeout: 20000 });
  assert.match(await message.getText(), /confirmed/);
  await assertRevokedEverywhere(accountId, tokens);
});

test('Activity exports to Downloads; Keychain reports a working Secret Service', async () => {
  await clickId('nav-settings');
  await clickId('settings-activity');
  await (await $id('activity-entry')).waitForDisplayed({ timeout: 10000 });
  const entries = await browser.$$('[data-testid="activity-entry"]').length;
  assert.ok(entries >= 10, `activity lists the trail (${entries})`);
  await clickId('export-csv');
  const result = await $id('export-result');
  await browser.waitUntil(async () => /Saved \d+ entries to /.test(await result.getText()), { timeout: 10000 });
  const path = (await result.getText()).replace(/^Saved \d+ entries to /, '');
  assert.ok(path.startsWith(join(process.env.HOME, 'Downloads')), path);
  const csv = readFileSync(path, 'utf8').split('\r\n');
  assert.equal(csv[0], 'id,at,account_id,connection_id,action,actor,caller,outcome,detail');
  assert.ok(csv.some((line) => line.includes('token.revoked')), 'the export holds the revocations');

  await clickId('export-jsonl');
  await browser.waitUntil(async () => /\.jsonl$/.test(await result.getText()), { timeout: 10000 });
  const jsonl = readFileSync((await result.getText()).replace(/^Saved \d+ entries to /, ''), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(jsonl.length, csv.filter((l) => l !== '').length - 1);

  await clickId('settings-keychain');
  const keychain = await $id('keychain');
  await keychain.waitForDisplayed({ timeout: 10000 });
  assert.equal(await keychain.getAttribute('data-healthy'), 'true');
  assert.match(await (await $id('keychain-description')).getText(), new RegExp(`Secret Service \\(service “${SERVICE}”\\)`));
  assert.throws(() => execFileSync('secret-tool', ['lookup', 'service', 'io.latchkey.desktop.health-check', 'username', 'probe']),
    'the keychain probe left its entry behind');
  await scanForSecrets();
});

test("the page reaches Latchkey's commands and its events only: window, path, opener and other commands are refused", async () => {
  // An object with an `error` key would read as a WebDriver error: the refusal comes back as `refusal`.
  const call = (cmd, args) => browser.execute(async (cmd, args) => {
    try {
      return { ok: true, value: await window.__TAURI_INTERNALS__.invoke(cmd, args) };
    } catch (e) {
      return { ok: false, refusal: String(e) };
    }
  }, cmd, args);
  // The control: the same path succeeds for a command the page does use.
  const own = await call('list_connections', {});
  assert.ok(own.ok && Array.isArray(own.value) && own.value.length > 0, `list_connections: ${JSON.stringify(own)}`);
  const refused = {
    'plugin:window|close': { label: 'main' },
    'plugin:window|set_title': { label: 'main', value: 'pwned' },
    'plugin:webview|create_webview_window': { options: { label: 'evil', url: 'https://example.test' } },
    'plugin:opener|open_url': { url: 'https://example.test' },
    'plugin:path|resolve_directory': { directory: 8 },
    'plugin:app|version': {},
    'plugin:event|emit': { event: 'accounts-changed', payload: [] },
    'plugin:deep-link|get_current': {},
  };
  for (const [cmd, args] of Object.entries(refused)) {
    const result = await call(cmd, args);
    assert.equal(result.ok, false, `${cmd} was allowed`);
    assert.match(result.refusal, /not allowed/, `${cmd}: ${result.refusal}`);
  }
  assert.equal(await browser.getTitle(), 'Latchkey');
  assert.equal((await browser.getWindowHandles()).length, 1, 'no second window');
});

test('screenshots of each screen, light and dark', async () => {
  assert.equal(await schemeOf(), 'light');
  // One account Active again, with a label and a note, beside a revoked one.
  await clickId('nav-accounts');
  const row = await browser.$('[data-testid="account"][data-identifier="alice@example.test"]');
  await row.waitForExist({ timeout: 10000 });
  await row.$('[data-testid="reconnect"]').click();
  const accountId = await waitForConnected();
  rememberTokens(accountId);
  await clickId('view-account');
  await (await $id('label-input')).setValue('personal');
  await clickId('add-label');
  await browser.$('[data-testid="label"]').waitForExist({ timeout: 5000 });
  await (await $id('note')).setValue('Used by the nightly backup script.');
  await clickId('save-note');
  await browser.waitUntil(async () => (await (await $id('save-note')).isEnabled()) === false, { timeout: 5000 });

  const light = await screenshots('light');
  await scanForSecrets();
  await endSession();

  await startSession({ GTK_THEME: 'Adwaita:dark' });
  await (await $id('nav-add')).waitForDisplayed({ timeout: 20000 });
  assert.equal(await schemeOf(), 'dark', 'GTK_THEME=Adwaita:dark makes WebKitGTK prefer the dark scheme');
  const dark = await screenshots('dark');
  // The dark window really is dark: its background differs from the light one's.
  const bg = await browser.execute(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(20, 21, 24)');
  assert.equal(light.length, dark.length);
});

test('Gmail asks for your own Google client first; a loopback provider connects in the window', async () => {
  await clickId('nav-add');
  const search = await $id('catalog-search');
  await search.waitForDisplayed({ timeout: 10000 });
  await search.setValue('gmail');
  const gmail = await browser.$('[data-testid="connection"][data-connection-id="gmail"]');
  await gmail.waitForDisplayed({ timeout: 10000 });
  assert.equal((await browser.$$('[data-testid="connection"]')).length, 1, 'the search narrows the catalog');
  await gmail.$('[data-testid="set-up"]').click();
  await (await $id('setup')).waitForDisplayed({ timeout: 10000 });
  assert.match(await (await $id('setup-instructions')).getText(), /Desktop app/);
  console.log('screenshot:', await shot('09-gmail-setup'));
  await (await $id('client-id')).setValue('1234-e2e.apps.googleusercontent.com');
  await (await $id('client-secret')).setValue('GOCSPX-e2e-client-secret');
  await clickId('save-setup');
  await browser.$('[data-testid="setup-result"][data-status="active"]').waitForExist({ timeout: 10000 });
  assert.equal(await (await $id('client-secret')).getValue().catch(() => ''), '', 'the secret is not shown again');
  console.log('screenshot:', await shot('10-gmail-ready'));
  // The client id in the file, the secret in the keychain only.
  const file = readFileSync(join(work, 'connections.toml'), 'utf8');
  assert.match(file, /1234-e2e\.apps\.googleusercontent\.com/);
  assert.doesNotMatch(file, /GOCSPX/);
  assert.equal(secretToolLookup('client/gmail/secret'), 'GOCSPX-e2e-client-secret');
  assert.doesNotMatch(readFileSync(join(work, 'data/logs/latchkey.log'), 'utf8'), /GOCSPX/);

  // The loopback provider: the browser comes back to a one-shot listener on 127.0.0.1.
  await clickId('back-to-catalog');
  const box = await $id('catalog-search');
  await box.clearValue();
  await box.setValue('loopback');
  const card = await browser.$('[data-testid="connection"][data-connection-id="demo"]');
  await card.waitForDisplayed({ timeout: 10000 });
  await card.$('[data-testid="connect"]').click();
  const accountId = await waitForConnected();
  const log = readFileSync(join(work, 'browser.log'), 'utf8');
  assert.match(log, /"deliver":"loopback"/, 'the browser delivered the callback to the loopback listener');
  await clickId('nav-accounts');
  await browser.$(`[data-testid="account"][data-account-id="${accountId}"][data-status="active"]`)
    .waitForExist({ timeout: 10000 });
  console.log('screenshot:', await shot('11-loopback-connected'));
});

test('an account the provider drops: a notification, the banner, reconnect from it, a recovery notification', async () => {
  // Notifications go to org.freedesktop.Notifications on the session bus; watch them go by.
  const seen = join(work, 'notifications.txt');
  const monitor = spawn('dbus-monitor', ['--session', "interface='org.freedesktop.Notifications',member='Notify'"],
    { stdio: ['ignore', openSync(seen, 'w'), 'ignore'] });
  const notices = () => (existsSync(seen) ? readFileSync(seen, 'utf8') : '');
  const until = async (what, check, ms = 15000) => {
    for (let t = 0; t < ms; t += 200) { if (check()) return; await new Promise((r) => setTimeout(r, 200)); }
    assert.fail(`timed out waiting until ${what}; app log:\n${driverLog.slice(-3000)}`);
  };
  try {
    await new Promise((r) => setTimeout(r, 500));
    const env = { ...process.env, ...appEnv() };
    const [demo] = JSON.parse(execFileSync(CLI, ['accounts', 'list', '--connection', 'demo', '--json'], { env, encoding: 'utf8' }));
    assert.equal(demo.status, 'active');
    // The user removed the app at the provider; the next refresh (a script asking for a fresh token)
    // is refused with invalid_grant and the account becomes Expired.
    await provider.control('revoke-grants', { account: 'alice' });
    const refused = spawnSync(CLI, ['token', demo.ref, '--min-valid', '999999'], { env, encoding: 'utf8' });
    assert.equal(refused.status, 4, refused.stderr);
    await clickId('nav-accounts');
    const item = await browser.$(`[data-testid="attention-item"][data-account-id="${demo.id}"]`);
    await item.waitForDisplayed({ timeout: 15000, timeoutMsg: 'no banner for the expired account' });
    await until('a notification says the account needs the user', () => notices().includes('needs you'));
    console.log('screenshot:', await shot('12-expired-banner'));

    // Reconnect from the banner: the browser signs in again and the same account is Active.
    await item.$('button').click();
    assert.equal(await waitForConnected(), demo.id, 'the same account');
    await clickId('nav-accounts');
    await browser.$(`[data-testid="account"][data-account-id="${demo.id}"][data-status="active"]`)
      .waitForExist({ timeout: 10000 });
    assert.equal((await browser.$$(`[data-testid="attention-item"][data-account-id="${demo.id}"]`)).length, 0,
      'the banner is gone');
    await until('a notification says it works again', () => notices().includes('works again'));
    const count = (s) => notices().split(s).length - 1;
    const who = `${demo.connection_name} — ${demo.identifier}`;
    assert.equal(count(`${who} needs you`), 1, `one notification for the incident:\n${notices()}`);
    assert.equal(count(`${who} works again`), 1, `one for the recovery:\n${notices()}`);
    console.log('screenshot:', await shot('13-reconnected'));
  } finally {
    monitor.kill();
  }
});

/** The desk's proof of its cookie (the core's consent.rs `proof`): hex SHA-256 of the cookie and
 * each part after a newline. */
const deskProof = (cookie, ...parts) => createHash('sha256').update([cookie, ...parts].join('\n')).digest('hex');

/**
 * Asks the app's consent desk as `latchkey mcp` and the `ask` hand-out policy do (the core's
 * consent.rs protocol): reads `consent-desk.json` from the data folder, sends one JSON line with a
 * fresh nonce and its proof of the cookie, and resolves with the desk's replies once the answer
 * (or an error) came: `asking`, then the answer, whose proof is checked, or `error: …`.
 */
function askDesk(request, cookie) {
  const address = JSON.parse(readFileSync(join(work, 'data', 'consent-desk.json'), 'utf8'));
  cookie ??= address.cookie;
  const nonce = randomBytes(32).toString('hex');
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, '127.0.0.1');
    const replies = [];
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ nonce, auth: deskProof(cookie, nonce), ...request })}\n`));
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const reply = JSON.parse(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        const unproven = reply.answer && reply.auth !== deskProof(cookie, nonce, reply.answer);
        replies.push(unproven ? 'an answer without a proof of the cookie' : reply.status ?? reply.answer ?? `error: ${reply.error}`);
        if (reply.answer || reply.error) socket.end();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(replies));
  });
}

test('Apps & agents shows a grant from the CLI with its access and last use, and removes it; the consent dialog answers a program', async () => {
  const cli = (...args) => execFileSync(CLI, args, { encoding: 'utf8', env: { ...process.env, ...appEnv() } });
  const grants = () => JSON.parse(cli('grants', 'list', '--json'));
  // An account to grant: one the earlier tests left, or a sign-in now when this test runs alone.
  let alice = JSON.parse(cli('accounts', 'list', '--json')).find((a) => a.ref === 'test:alice@example.test');
  if (!alice) {
    await connectWithMouse();
    alice = JSON.parse(cli('accounts', 'list', '--json')).find((a) => a.ref === 'test:alice@example.test');
  }
  assert.ok(alice, 'an account to grant');

  // (a) A grant made in a terminal appears in the pane by itself, with its access.
  await clickId('nav-settings');
  await clickId('settings-apps');
  await (await $id('grants-empty')).waitForDisplayed({ timeout: 10000 });
  assert.match(await (await $id('grants-empty')).getText(), /latchkey grants add/);
  cli('grants', 'add', 'e2e-script', 'test:alice@example.test', '--access', 'full', '--for', '7d');
  const row = await browser.$(`[data-testid="grant-consumer"][data-consumer="e2e-script"] [data-testid="grant"][data-account-id="${alice.id}"]`);
  await row.waitForExist({ timeout: 10000, timeoutMsg: 'the CLI\'s grant did not reach the pane' });
  assert.equal(await row.$('[data-testid="grant-access"]').getText(), 'Full');
  // The end as a date: a week from now.
  const until = new Date(await row.$('[data-testid="grant-until"] time').getAttribute('datetime'));
  assert.ok(Math.abs(until - Date.now() - 7 * 86_400_000) < 120_000, `${until}`);
  assert.match(await row.$('[data-testid="grant-until"]').getText(), /^[A-Z][a-z]{2}\s\d{1,2},\s\d{4}$/);
  assert.equal(await row.$('[data-testid="grant-last-used"]').getText(), 'never');
  assert.match(await row.getText(), /Test provider · alice@example\.test/);
  // A use of a grant (a real call through `latchkey mcp`) is the next test's.
  console.log('screenshot:', await shot('12-apps-and-agents'));

  // Remove, after the confirmation: gone from the pane and from the CLI's list, audited as the user's.
  await row.$('[data-testid="remove-grant"]').click();
  const confirm = await $id('remove-grant-dialog');
  await confirm.waitForDisplayed({ timeout: 5000 });
  assert.match(await confirm.getText(), /e2e-script will no longer be able to use/);
  await clickId('confirm-remove-grant');
  await (await $id('grants-empty')).waitForDisplayed({ timeout: 10000 });
  assert.deepEqual(grants(), []);
  const removed = cli('audit', '--account', 'test:alice@example.test', '--json').trim().split('\n')
    .map((line) => JSON.parse(line)).filter((e) => e.action === 'grant.removed').at(-1);
  assert.equal(removed.actor, 'user');
  assert.match(removed.detail, /e2e-script/);

  // (b) A program asks through the desk: the window shows who, which account, what access; each
  // answer reaches the program, and only "Always allow" stores a grant.
  await clickId('nav-accounts');
  const ask = (consumer, access) => askDesk({ consumer, account: alice.id, access, purpose: 'api_call' });
  const dialogFor = async (consumer) => {
    const dialog = await $id('consent-dialog');
    await dialog.waitForDisplayed({ timeout: 10000, timeoutMsg: `no dialog for ${consumer}` });
    await browser.waitUntil(async () => (await (await $id('consent-consumer')).getText()) === consumer, { timeout: 10000 });
    return dialog;
  };

  const once = ask('e2e-agent-once', 'read');
  const dialog = await dialogFor('e2e-agent-once');
  assert.match(await (await $id('consent-account')).getText(), /Test provider · alice@example\.test/);
  assert.equal(await (await $id('consent-access')).getText(), 'Read only (GET)');
  assert.match(await (await $id('consent-purpose')).getText(), /Call its API through Latchkey/);
  assert.ok(await activeMatches('[data-testid="consent-deny"]'), 'Deny has the focus');
  console.log('screenshot:', await shot('13-consent-dialog'));
  await clickId('consent-once');
  assert.deepEqual(await once, ['asking', 'once']);
  await dialog.waitForExist({ reverse: true, timeout: 10000 });
  assert.deepEqual(grants(), [], '"Allow once" stores nothing');

  const always = ask('e2e-agent-always', 'full');
  await dialogFor('e2e-agent-always');
  assert.equal(await (await $id('consent-access')).getText(), 'Full (any request, changes too)');
  await clickId('consent-always');
  assert.deepEqual(await always, ['asking', 'always']);
  const stored = grants();
  assert.equal(stored.length, 1);
  assert.deepEqual([stored[0].consumer, stored[0].account, stored[0].access, stored[0].until],
    ['e2e-agent-always', 'test:alice@example.test', 'full', null]);
  await clickId('nav-settings');
  await clickId('settings-apps');
  await browser.$('[data-testid="grant-consumer"][data-consumer="e2e-agent-always"] [data-testid="grant"]')
    .waitForExist({ timeout: 10000, timeoutMsg: 'the "always" grant is not in the pane' });

  // Two at once: one dialog at a time, oldest first; Escape denies.
  const denied = ask('e2e-agent-deny', 'read');
  await dialogFor('e2e-agent-deny');
  const second = ask('e2e-agent-second', 'read');
  await (await $id('consent-waiting')).waitForDisplayed({ timeout: 10000 });
  await clickId('consent-deny');
  assert.deepEqual(await denied, ['asking', 'deny']);
  await dialogFor('e2e-agent-second');
  // The second question keeps the focus the first had (not the screen heading it opened over).
  await browser.waitUntil(() => activeMatches('[data-testid="consent-deny"]'), { timeout: 5000, timeoutMsg: 'Deny lost the focus' });
  await browser.keys(Key.Escape);
  assert.deepEqual(await second, ['asking', 'deny']);
  assert.deepEqual(grants().map((g) => g.consumer), ['e2e-agent-always']);

  // A wrong cookie never reaches the window.
  const forged = await askDesk({ consumer: 'forger', account: alice.id, access: 'full', purpose: 'token' }, '0'.repeat(64));
  assert.deepEqual(forged, ['error: not authenticated']);
  assert.equal(await (await $id('consent-dialog')).isExisting(), false);

  cli('grants', 'remove', 'e2e-agent-always', 'test:alice@example.test');
  await (await $id('grants-empty')).waitForDisplayed({ timeout: 10000 });
});

/** The CLI with the app's data, connections and keychain. */
const cliEnv = () => ({ ...process.env, ...appEnv() });
const cliJson = (...args) => JSON.parse(execFileSync(CLI, args, { encoding: 'utf8', env: cliEnv() }));

/** Opens an account's page from Accounts. */
async function openAccount(id) {
  await clickId('nav-accounts');
  const row = await browser.$(`[data-testid="account"][data-account-id="${id}"]`);
  await row.waitForExist({ timeout: 10000 });
  await row.$('[data-testid="open-account"]').click();
  await browser.$(`[data-testid="account-detail"][data-account-id="${id}"]`).waitForExist({ timeout: 10000 });
}

/**
 * test:alice with fresh tokens: re-authorized from its page (an earlier test had the provider drop
 * alice's grants), or signed in now when this test runs alone.
 */
async function activeAlice() {
  const find = () => cliJson('accounts', 'list', '--json').find((a) => a.ref === 'test:alice@example.test');
  if (find()) {
    await openAccount(find().id);
    await clickId('reauthorize');
    assert.equal(await waitForConnected(), find().id, 'the same account');
  } else {
    await connectWithMouse();
  }
  const alice = find();
  assert.equal(alice?.status, 'active');
  return alice;
}

/** Waits for the consent dialog asking for `consumer`; returns its facts' texts. */
async function consentFor(consumer) {
  const dialog = await $id('consent-dialog');
  await dialog.waitForDisplayed({ timeout: 15000, timeoutMsg: `no dialog for ${consumer}; app log:\n${driverLog.slice(-3000)}` });
  await browser.waitUntil(async () => (await (await $id('consent-consumer')).getText()) === consumer,
    { timeout: 10000, timeoutMsg: `the dialog does not name ${consumer}` });
  const text = async (id) => (await $id(id)).getText();
  return {
    dialog,
    account: await text('consent-account'),
    access: await text('consent-access'),
    purpose: await text('consent-purpose'),
  };
}

/**
 * Answers the question on screen and waits until it is gone. The next question may take its place
 * at once (an agent asks again right after a refusal), so this waits on the question, not the dialog.
 */
async function answerConsent(button) {
  // Read in the page in one step: the dialog may re-render between finding it and reading it.
  let question = null;
  await browser.waitUntil(async () => {
    question = await browser.execute(
      () => document.querySelector('[data-consent-id]')?.getAttribute('data-consent-id') ?? null);
    return question !== null;
  }, { timeout: 10000, timeoutMsg: 'no question on screen' });
  await clickId(button);
  await browser.$(`[data-consent-id="${question}"]`).waitForExist({
    reverse: true, timeout: 10000, timeoutMsg: `question ${question} stayed after ${button}`,
  });
}

/** Runs a child process; resolves with its exit code, stdout and stderr. */
function run(cmd, args, env) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  return new Promise((ok) => child.once('close', (code) => ok({ code, stdout, stderr })));
}

test('an agent without elicitation asks the app: `latchkey mcp` under the Python MCP client; allow once, deny, always', async () => {
  const alice = await activeAlice();
  const agent = 'e2e MCP agent';
  assert.equal(cliJson('grants', 'list', '--json').filter((g) => g.consumer === agent).length, 0, 'no grant to start with');
  // The official Python SDK's client, declaring no elicitation: `latchkey mcp` has only the app to ask.
  const dir = mkdtempSync(join(work, 'mcp-'));
  const me = { tool: 'call_api', args: { account: alice.ref, method: 'GET', path: '/me' } };
  const plan = {
    command: [CLI, 'mcp'], env: appEnv(), client_name: agent, elicit: null,
    transcript: join(dir, 'transcript.log'), stderr: join(dir, 'stderr.log'),
    provider: { issuer: provider.issuer, ca_file: provider.ca_file },
    steps: [me, me, me, me],
  };
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
  const client = run(join(ROOT, '.tools/mcp-venv/bin/python'), [join(ROOT, 'tests/mcp/client.py'), join(dir, 'plan.json')], process.env);
  const expectDialog = async () => {
    const asked = await consentFor(agent);
    assert.match(asked.account, /Test provider · alice@example\.test/);
    assert.match(asked.account, /test:alice@example\.test/);
    assert.equal(asked.access, 'Read only (GET)');
    assert.match(asked.purpose, /Call its API through Latchkey/);
    return asked.dialog;
  };

  // 1: Allow once. 2: asked again (nothing was stored), Deny. 3: Always allow. 4: the grant answers.
  let dialog = await expectDialog();
  console.log('screenshot:', await shot('14-consent-mcp-agent'));
  await answerConsent('consent-once');
  dialog = await expectDialog();
  assert.deepEqual(cliJson('grants', 'list', '--json').filter((g) => g.consumer === agent), [], '"Allow once" stored a grant');
  await answerConsent('consent-deny');
  dialog = await expectDialog();
  const beforeAlways = Date.now();
  await answerConsent('consent-always');
  const { code, stdout, stderr } = await client;
  assert.equal(code, 0, `the MCP client failed:\n${stderr}\n${readFileSync(plan.stderr, 'utf8').slice(-3000)}`);
  const report = JSON.parse(stdout);
  assert.equal(report.exit_code, 0, '`latchkey mcp` ended cleanly');
  assert.equal(report.initialize.capabilities?.elicitation, undefined);
  const [once, denied, always, granted] = report.steps;
  const mes = (step) => step.served.filter((r) => r.path === '/me');
  for (const [name, step] of Object.entries({ once, always, granted })) {
    assert.equal(step.is_error, false, `${name}: ${step.text}`);
    assert.equal(step.structured.status, 200, name);
    assert.equal(step.structured.body.sub, 'alice', `${name}: the provider's /me answer`);
    assert.deepEqual(mes(step), [{ method: 'GET', path: '/me' }], name);
  }
  assert.equal(denied.is_error, true);
  assert.match(denied.text, new RegExp(`The person declined: “${agent}” may not use test:alice@example\\.test`));
  assert.deepEqual(mes(denied), [], 'the provider got no request for the denied call');

  // The grant "Always allow" stored, in Settings → Apps & agents, with the last use the calls set.
  const [grant] = cliJson('grants', 'list', '--json').filter((g) => g.consumer === agent);
  assert.deepEqual([grant.account, grant.access, grant.until], ['test:alice@example.test', 'read', null]);
  const lastUsed = Date.parse(grant.last_used);
  assert.ok(lastUsed >= beforeAlways - 1000 && lastUsed <= Date.now() + 1000, `last use ${grant.last_used}`);
  await clickId('nav-settings');
  await clickId('settings-apps');
  const row = await browser.$(`[data-testid="grant-consumer"][data-consumer="${agent}"] [data-testid="grant"][data-account-id="${alice.id}"]`);
  await row.waitForExist({ timeout: 10000, timeoutMsg: 'the "always" grant is not in the pane' });
  assert.equal(await row.$('[data-testid="grant-access"]').getText(), 'Read only (GET)');
  const shown = row.$('[data-testid="grant-last-used"] time');
  assert.equal(Date.parse(await shown.getAttribute('datetime')), lastUsed);
  assert.match(await row.$('[data-testid="grant-last-used"]').getText(), /just now|seconds? ago|1 minute ago/);
  console.log('screenshot:', await shot('15-apps-and-agents-mcp'));

  // Each answer is in the audit trail.
  const asked = execFileSync(CLI, ['audit', '--account', alice.ref, '--json'], { encoding: 'utf8', env: cliEnv() })
    .trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.action === 'consent.asked' && e.detail.includes(agent));
  assert.deepEqual(asked.slice(-3).map((e) => e.detail.split('→ ')[1]), ['allowed once', 'denied', 'always allowed']);
  const transcript = readFileSync(plan.transcript, 'utf8');
  assert.match(transcript, /"name":"call_api"/, 'the transcript is the real one');
  tokensSeen.push(secretToolLookup(`${alice.id}/access`));
  for (const token of tokensSeen) assert.ok(!transcript.includes(token), 'a token in the MCP transcript');

  execFileSync(CLI, ['grants', 'remove', agent, alice.ref], { env: cliEnv() });
});

test('hand-out policy Ask and Closed, set in the window: `latchkey token` asks in the app, then is refused', async () => {
  const alice = await activeAlice();
  const setPolicy = async (policy) => {
    await openAccount(alice.id);
    await clickId(`handout-${policy}`);
    await browser.waitUntil(() => cliJson('accounts', 'show', alice.ref, '--json').handout === policy,
      { timeout: 10000, timeoutMsg: `the window did not set ${policy}` });
  };
  const token = (parent = []) => run(parent[0] ?? CLI, parent[0] ? [...parent.slice(1), CLI, 'token', alice.ref] : ['token', alice.ref], cliEnv());
  const keychain = () => secretToolLookup(`${alice.id}/access`);

  await setPolicy('ask');
  // The consumer is the program that ran `latchkey token`: this test's node, and then a shell kept
  // in a long folder (a long path must wrap in the dialog).
  const node = realpathSync(process.execPath);
  const longDir = join(work, 'a-folder-with-a-rather-long-name-for-scripts', 'and-another-deeper-one-for-this-test', 'bin');
  mkdirSync(longDir, { recursive: true });
  const sh = join(longDir, 'sh');
  copyFileSync(realpathSync('/bin/sh'), sh);
  chmodSync(sh, 0o755);

  // Allow once, asked for the shell: its token, as the keychain holds it.
  let out = token([sh, '-c', '"$0" "$@"; exit $?']);
  let asked = await consentFor(sh).catch(async (e) => {
    const r = await out;
    throw new Error(`${e.message.split('\n')[0]}; \`latchkey token\` exited ${r.code}: ${r.stderr}`);
  });
  assert.match(asked.account, /Test provider · alice@example\.test/);
  assert.equal(asked.access, 'Full (any request, changes too)');
  assert.match(asked.purpose, /Take its access token or credential/);
  assert.match(await (await $id('consent-note')).getText(), /For a shell or an interpreter/);
  // The long path stays inside the dialog.
  const fits = await browser.execute(() => {
    const dd = document.querySelector('[data-testid="consent-consumer"]');
    const box = document.querySelector('[data-testid="consent-dialog"]').getBoundingClientRect();
    const r = dd.getBoundingClientRect();
    return { right: r.right <= box.right, wide: dd.scrollWidth <= dd.clientWidth };
  });
  assert.ok(fits.right && fits.wide, `the program path overflows the dialog: ${JSON.stringify(fits)}`);
  console.log('screenshot:', await shot('16-consent-token'));
  await answerConsent('consent-once');
  let result = await out;
  assert.equal(result.code, 0, result.stderr);
  const held = keychain();
  assert.ok(held && result.stdout.trim() === held.trim(), 'the printed token is the keychain\'s');
  tokensSeen.push(held);

  // Deny, asked for node: exit 4 and one line on stderr saying why and how to allow it.
  out = token();
  asked = await consentFor(node);
  await answerConsent('consent-deny');
  result = await out;
  assert.equal(result.code, 4);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /may not take test:alice@example\.test's token: its hand-out policy is ask and you declined it in Latchkey/);
  assert.ok(result.stderr.includes(`latchkey grants add "${node}" test:alice@example.test --access full`), result.stderr);
  assert.deepEqual(cliJson('grants', 'list', '--json').filter((g) => g.account === alice.ref), [], 'nothing remembered');

  // Closed: refused without asking.
  await setPolicy('closed');
  result = await token();
  assert.equal(result.code, 4);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /hand-out policy is closed/);
  assert.equal(await (await $id('consent-dialog')).isExisting(), false, 'Closed asked anyway');
  assert.equal(cliJson('accounts', 'show', alice.ref, '--json').handout, 'closed');
  for (const t of tokensSeen) assert.ok(!result.stderr.includes(t), 'a token in the refusal');

  await setPolicy('open');
});

test('closing the window rests Latchkey in latchkey-tray (no WebKit, no GTK); its icon, menu, notifications and a second launch bring the window back', async () => {
  await endSession();
  const env = { ...process.env, ...appEnv() };
  const prefs = join(process.env.XDG_CONFIG_HOME, 'io.latchkey.desktop', 'preferences.json');
  const logFrom = driverLog.length;
  writeFileSync(prefs, JSON.stringify({ keep_running_in_tray: true }));
  const windows = (cmd = 'count') => Number(execFileSync('/usr/bin/python3', [join(ROOT, 'tests/e2e/x11-windows.py'), cmd], { encoding: 'utf8' }).trim());
  // Web processes of this app only (another WebKit program on the machine must not count).
  const pages = () => {
    const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' }).trim().split('\n')
      .map((l) => l.trim().split(/\s+/)).map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm }));
    const mine = new Set([app.pid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const r of rows) if (mine.has(r.ppid) && !mine.has(r.pid)) { mine.add(r.pid); grew = true; }
    }
    return rows.filter((r) => mine.has(r.pid) && r.comm.startsWith('WebKitWebProces')).length;
  };
  // Every WebKit process of this app (the network process included).
  const webkit = () => execFileSync('ps', ['-e', '-o', 'ppid=,comm='], { encoding: 'utf8' }).trim().split('\n')
    .map((l) => l.trim().split(/\s+/)).filter(([ppid, comm]) => Number(ppid) === app.pid && comm.startsWith('WebKit')).length;
  const program = () => { try { return readFileSync(`/proc/${app.pid}/cmdline`, 'utf8').split('\0')[0]; } catch { return ''; } };
  const resting = () => program().endsWith('/latchkey-tray');
  const maps = () => readFileSync(`/proc/${app.pid}/maps`, 'utf8');
  const until = async (what, check) => {
    for (let i = 0; i < 150; i++) { if (check()) return; await new Promise((r) => setTimeout(r, 100)); }
    assert.fail(`timed out waiting until ${what}; app log:\n${driverLog.slice(-3000)}`);
  };
  // The tray icon is a StatusNotifierItem on the session bus; a tray host reads it like this.
  const gdbus = (...args) => execFileSync('gdbus', ['call', '--session', ...args], { encoding: 'utf8' });
  const trayItem = () => gdbus('--dest', 'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus',
    '--method', 'org.freedesktop.DBus.ListNames').match(new RegExp(`org\\.kde\\.StatusNotifierItem-${app.pid}-\\d+`))?.[0];
  const tooltip = () => gdbus('--dest', trayItem(), '--object-path', '/StatusNotifierItem', '--method',
    'org.freedesktop.DBus.Properties.Get', 'org.kde.StatusNotifierItem', 'ToolTip');
  const clickMenu = (label) => {
    const layout = gdbus('--dest', trayItem(), '--object-path', '/MenuBar', '--method', 'com.canonical.dbusmenu.GetLayout', '0', 'int32 -1', '@as []');
    const id = layout.match(new RegExp(`\\((\\d+), \\{[^}]*'label': <'${label}'>`))?.[1];
    assert.ok(id, `no "${label}" in the tray menu:\n${layout}`);
    gdbus('--dest', trayItem(), '--object-path', '/MenuBar', '--method', 'com.canonical.dbusmenu.Event', id, 'clicked', '<0>', '0');
  };
  const seen = join(work, 'tray-notifications.txt');
  const monitor = spawn('dbus-monitor', ['--session', "interface='org.freedesktop.Notifications',member='Notify'"],
    { stdio: ['ignore', openSync(seen, 'w'), 'ignore'] });
  const notices = () => readFileSync(seen, 'utf8');

  let app = spawn(APP, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  app.stdout.setEncoding('utf8').on('data', (d) => { driverLog += d; });
  app.stderr.setEncoding('utf8').on('data', (d) => { driverLog += d; });
  let exited = false;
  app.once('exit', () => { exited = true; });
  // Closes the window once it has painted its `nth` page of this test, until `done`. A close that
  // arrives while the window is still starting is sometimes lost (about one run in ten here); a
  // person then closes it again, and so does this, once.
  const painted = () => (driverLog.slice(logFrom).match(/window painted/g) ?? []).length;
  const close = async (nth, what, done) => {
    await until(`page ${nth} has painted`, () => windows() === 1 && pages() === 1 && painted() >= nth);
    assert.equal(windows('close'), 1);
    try {
      await until(what, done);
    } catch {
      console.log(`the close was lost; closing again (${what})`);
      if (windows() === 1) windows('close');
      await until(what, done);
    }
  };
  /** Closed, and idle, it rests: the same process (pid) replaced by latchkey-tray. */
  const rests = async (nth) => {
    await close(nth, 'the window and its page are gone', () => windows() === 0 && pages() === 0);
    await until('Latchkey rests in latchkey-tray', () => resting() && webkit() === 0 && trayItem());
    assert.equal(exited, false, 'Latchkey quit instead of staying in the tray');
  };
  try {
    await rests(1);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(exited, false, 'Latchkey quit while resting');
    assert.equal(webkit(), 0, 'a WebKit process runs beside the resting tray');
    assert.equal(windows(), 0);
    assert.doesNotMatch(maps(), /libwebkit2gtk|libjavascriptcoregtk|libgtk-3|libLLVM|_dri\.so/,
      'the resting process loaded WebKit, GTK or a GL driver');
    assert.match(driverLog, /Latchkey rests in latchkey-tray/);
    // The tray serves a resting consent desk (it opens the window for a question; the next test).
    const desk = join(work, 'data', 'consent-desk.json');
    const deskAddress = () => { try { return JSON.parse(readFileSync(desk, 'utf8')); } catch { return null; } };
    await until('the tray serves a resting desk', () => deskAddress()?.wakes === true && deskAddress().pid === app.pid);
    // The tray's summary is the core's: the accounts needing the user, as the CLI lists them.
    const summary = () => {
      const all = JSON.parse(execFileSync(CLI, ['accounts', 'list', '--json'], { env, encoding: 'utf8' }));
      const n = all.filter((a) => ['expired', 'error'].includes(a.status) || (a.status === 'active' && a.reauth_needed)).length;
      return all.length === 0 ? 'No accounts connected' : n === 0 ? 'All accounts are fine'
        : `${n} account${n === 1 ? ' needs' : 's need'} attention`;
    };
    assert.match(tooltip(), new RegExp(`'Latchkey', '${summary()}'`));

    // Resting, it still watches: an account the provider drops (seen by a script's refresh) turns
    // the tray's summary and sends one notification.
    const [demo] = JSON.parse(execFileSync(CLI, ['accounts', 'list', '--connection', 'demo', '--json'], { env, encoding: 'utf8' }));
    await provider.control('revoke-grants', { account: 'alice' });
    assert.equal(spawnSync(CLI, ['token', demo.ref, '--min-valid', '999999'], { env }).status, 4);
    const who = `${demo.connection_name} — ${demo.identifier}`;
    await until('the tray notifies', () => notices().includes(`${who} needs you`));
    await until('the tray\'s summary counts it', () => tooltip().includes(`'Latchkey', '${summary()}'`));
    assert.match(summary(), /need/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(notices().split(`${who} needs you`).length - 1, 1, `one notification:\n${notices()}`);

    // Starting Latchkey again (as the launcher does) hands over through single-instance: a window.
    execFileSync(APP, [], { env, timeout: 10000 });
    await until('a new window and page exist', () => windows() === 1 && pages() === 1);
    assert.ok(!resting(), 'the window runs in latchkey-desktop');
    await until('the window\'s consent desk is back', () => deskAddress() && !deskAddress().wakes);

    // Resting again; the tray menu's Open brings the window back.
    await rests(2);
    clickMenu('Open Latchkey');
    await until('the tray menu opened a window', () => windows() === 1 && pages() === 1);
    assert.ok(program().endsWith('/latchkey-desktop'));

    // With the setting off, closing the window quits.
    writeFileSync(prefs, JSON.stringify({ keep_running_in_tray: false }));
    await close(3, 'Latchkey quit', () => exited);
  } finally {
    monitor.kill();
    if (!exited) app.kill();
  }

  // A login item's start (`--background`) goes straight to latchkey-tray; its menu's Quit ends it.
  writeFileSync(prefs, JSON.stringify({ keep_running_in_tray: true }));
  app = spawn(APP, ['--background'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  app.stderr.setEncoding('utf8').on('data', (d) => { driverLog += d; });
  const code = new Promise((r) => app.once('exit', (c) => r(c)));
  try {
    await until('a login start rests in latchkey-tray', () => resting() && trayItem());
    assert.equal(windows(), 0);
    clickMenu('Quit Latchkey');
    assert.equal(await code, 0);
  } finally {
    app.kill();
  }
});

test('resting in latchkey-tray, a program asking for consent brings the window back; its dialog answers the program', async () => {
  // Run alone, the session `before` started may still be starting; a close then can be lost and
  // the app outlive its session. Ready, its end ends it.
  if (browser) await (await $id('nav-add')).waitForDisplayed({ timeout: 20000 });
  await endSession();
  const env = { ...process.env, ...appEnv() };
  const prefs = join(process.env.XDG_CONFIG_HOME, 'io.latchkey.desktop', 'preferences.json');
  const connections = join(work, 'connections.toml');
  const original = readFileSync(connections, 'utf8');
  const x11 = (...args) => execFileSync('/usr/bin/python3', [join(ROOT, 'tests/e2e/x11-windows.py'), ...args], { encoding: 'utf8' }).trim();
  const windows = () => Number(x11('count'));
  const program = () => { try { return readFileSync(`/proc/${app.pid}/cmdline`, 'utf8').split('\0')[0]; } catch { return ''; } };
  const deskAddress = () => { try { return JSON.parse(readFileSync(join(work, 'data', 'consent-desk.json'), 'utf8')); } catch { return null; } };
  const logFrom = driverLog.length;
  const log = () => driverLog.slice(logFrom);
  const painted = () => (log().match(/window painted/g) ?? []).length;
  const until = async (what, check, ms = 15000) => {
    for (const end = Date.now() + ms; Date.now() < end;) { if (check()) return; await new Promise((r) => setTimeout(r, 100)); }
    assert.fail(`timed out waiting until ${what}; app log:\n${log().slice(-3000)}`);
  };

  // An API-key account (no provider involved) whose raw key is handed out only when the person
  // allows it: the `ask` policy.
  writeFileSync(connections, `${original}\n[[connection]]\nid = "e2e-key"\nname = "E2E key"\ntype = "api-key"\n`);
  writeFileSync(prefs, JSON.stringify({ keep_running_in_tray: true }));
  const key = `e2e-key-${randomBytes(16).toString('hex')}`;
  execFileSync(CLI, ['accounts', 'add', 'e2e-key:robot', '--secret-stdin'], { env, input: `${key}\n` });
  execFileSync(CLI, ['accounts', 'policy', 'e2e-key:robot', 'ask'], { env });

  const app = spawn(APP, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  app.stdout.setEncoding('utf8').on('data', (d) => { driverLog += d; });
  app.stderr.setEncoding('utf8').on('data', (d) => { driverLog += d; });
  let exited = false;
  app.once('exit', () => { exited = true; });
  try {
    await until('the window has painted', () => windows() === 1 && painted() >= 1, 30000);
    x11('close');
    // A close that arrives while the window is still starting is sometimes lost (the tray test).
    await until('the window is gone', () => windows() === 0, 5000).catch(() => { x11('close'); return until('the window is gone', () => windows() === 0); });
    await until('Latchkey rests in latchkey-tray', () => program().endsWith('/latchkey-tray'));
    await until('the tray serves a resting desk', () => deskAddress()?.wakes === true && deskAddress().pid === app.pid);
    const resting = deskAddress();
    assert.equal(exited, false);

    // The real `latchkey token` under the `ask` policy asks the resting app.
    const asker = spawn(CLI, ['token', 'e2e-key:robot'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    asker.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    asker.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    const code = new Promise((r) => asker.once('exit', (c) => r(c)));
    let answered = false;
    code.then(() => { answered = true; });

    // The same process becomes the window's again; its desk replaces the resting one and gets the
    // question, which the window shows.
    await until('the window is back', () => windows() === 1 && program().endsWith('/latchkey-desktop'));
    assert.equal(exited, false, 'Latchkey quit instead of opening its window');
    await until('the window\'s desk replaced the resting one', () => {
      const d = deskAddress();
      return d && d.cookie !== resting.cookie && !d.wakes && d.pid === app.pid;
    });
    await until('the question reached the window', () => /consent asked.*e2e-key:robot/.test(log()));
    await until('the window has painted', () => painted() >= 2, 30000);
    assert.equal(answered, false, 'the program had its answer before the person gave it');
    await new Promise((r) => setTimeout(r, 1500));
    const picture = join(ARTIFACTS, '14-consent-after-rest.png');
    x11('shot', picture);
    console.log('screenshot:', picture);
    // The dialog has the focus on Deny; Tab reaches "Allow once". (Pressed again if the page
    // took the first keys before its dialog was up.)
    for (let i = 0; i < 3 && !answered; i++) {
      x11('keys', 'Tab', 'Return');
      for (let j = 0; j < 30 && !answered; j++) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await code, 0, `latchkey token: ${err}`);
    assert.equal(out.trim(), key, 'the allowed program got the key');
    const asked = execFileSync(CLI, ['audit', '--account', 'e2e-key:robot', '--json'], { env, encoding: 'utf8' }).trim().split('\n')
      .map((l) => JSON.parse(l)).filter((e) => e.action === 'consent.asked');
    assert.equal(asked.length, 1, JSON.stringify(asked));
    assert.match(asked[0].detail, /→ allowed once$/);
    for (const [name, text] of [['app output', log()], ['app log', readFileSync(join(work, 'data/logs/latchkey.log'), 'utf8')]]) {
      assert.ok(!text.includes(key), `the key leaked into the ${name}`);
    }
  } finally {
    app.kill();
    writeFileSync(connections, original);
    writeFileSync(prefs, JSON.stringify({ keep_running_in_tray: false }));
  }
});
