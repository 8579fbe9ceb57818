// End-to-end: the real app window (debug build) under Xvfb, driven through WebDriver (tauri-driver +
// WebKitWebDriver), against the real test provider over TLS and the real Secret Service.
//
// The app opens the authorization URL through the OS; this test makes tests/e2e/browser.mjs the
// system browser (xdg-mime default for http/https, and $BROWSER), which signs in, approves, and
// hands the callback to the OS with `gio open`, which starts a second app process that
// single-instance forwards to the running one: the same path a real browser takes.
//
// Run inside tests/with-session (scripts/test does). Screenshots go to tests/artifacts/e2e/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, dirname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';
import { startProvider } from '../provider/harness.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const APP = process.env.LATCHKEY_APP_BINARY ?? join(ROOT, 'target/debug/latchkey-desktop');
const DRIVER = process.env.TAURI_DRIVER ?? join(ROOT, '.tools/bin/tauri-driver');
const ARTIFACTS = join(ROOT, 'tests/artifacts/e2e');
const SCOPES = ['openid', 'email', 'profile', 'demo.read'];
const SERVICE = `latchkey-e2e-${process.pid}-${Date.now()}`;

assert.ok(process.env.DBUS_SESSION_BUS_ADDRESS && process.env.DISPLAY, 'run inside tests/with-session');
assert.ok(process.env.HOME.includes('latchkey-session'), 'never against the real HOME');

let provider, driver, browser, work, driverLog = '';

const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});
const shot = async (name) => {
  const path = join(ARTIFACTS, `${name}.png`);
  await browser.saveScreenshot(path);
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

  // The app's configuration: one connection to the test provider; its own data folder.
  writeFileSync(join(work, 'connections.toml'), [
    '[[connection]]', 'id = "test"', 'name = "Test provider"', `issuer = "${provider.issuer}"`,
    'client_id = "latchkey"', `scopes = ${JSON.stringify(SCOPES)}`, '',
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

  const port = await freePort();
  driver = spawn(DRIVER, ['--port', String(port), '--native-driver', '/usr/bin/WebKitWebDriver'], {
    env: {
      ...process.env,
      LATCHKEY_DATA_DIR: join(work, 'data'),
      LATCHKEY_CONNECTIONS: join(work, 'connections.toml'),
      LATCHKEY_KEYCHAIN_SERVICE: SERVICE,
      SSL_CERT_FILE: join(work, 'roots.pem'),
      BROWSER: browserScript,
      NODE_EXTRA_CA_CERTS: provider.ca_file,
      LATCHKEY_TEST_BROWSER_LOG: join(work, 'browser.log'),
      RUST_LOG: 'debug',
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
});

after(async () => {
  await browser?.deleteSession().catch(() => {});
  driver?.kill();
  await provider?.stop();
  writeFileSync(join(ARTIFACTS, 'app-and-driver.log'), driverLog);
});

test('connect → Active with scopes and identity, revoke → Revoked at the provider and in the keychain; no token anywhere', async () => {
  const card = await browser.$('[data-testid="connection"][data-connection-id="test"]');
  await card.waitForDisplayed({ timeout: 20000 });
  assert.equal(await browser.getTitle(), 'Latchkey');
  console.log('screenshot:', await shot('01-connections'));

  // A forged callback, delivered the way the OS delivers any link: refused, shown, nothing stored.
  execFileSync('gio', ['open', 'io.latchkey.desktop:/oauth/test/callback?code=forged&state=forged']);
  const forgedError = await card.$('[data-testid="connect-error"]');
  await forgedError.waitForDisplayed({ timeout: 15000 });
  assert.match(await forgedError.getText(), /does not match a sign-in Latchkey started/);
  assert.equal((await browser.$$('[data-testid="account"]')).length, 0, 'a forged link created no account');
  console.log('screenshot:', await shot('01b-forged-link-refused'));

  await card.$('[data-testid="connect"]').click();
  const row = await browser.$('[data-testid="account"][data-status="active"]');
  await row.waitForExist({ timeout: 30000, timeoutMsg: `no Active account appeared; app log:\n${driverLog.slice(-4000)}` });
  console.log('screenshot:', await shot('02-active'));

  assert.equal(await row.getAttribute('data-identifier'), 'alice@example.test');
  assert.equal(await row.$('[data-testid="status"]').getText(), 'Active');
  const chips = await browser.execute((id) => [...document.querySelectorAll(
    `[data-testid="account"][data-account-id="${id}"] [data-testid="scope"]`)].map((c) => c.textContent.trim()),
  await row.getAttribute('data-account-id'));
  assert.deepEqual(chips, SCOPES);
  const accountId = await row.getAttribute('data-account-id');

  // The tokens are in the keychain (and only there), and live at the provider.
  const access = secretToolLookup(`${accountId}/access`);
  const refresh = secretToolLookup(`${accountId}/refresh`);
  assert.ok(access && access.length >= 20, 'access token in the Secret Service');
  assert.ok(refresh && refresh.length >= 20, 'refresh token in the Secret Service');
  const introspect = async (token) => {
    const res = await provider.fetch(`${provider.issuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${provider.introspection_client_id}:${provider.introspection_client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    });
    return (await res.json()).active;
  };
  assert.equal(await introspect(access), true);

  await row.$('[data-testid="revoke"]').click();
  await row.$('[data-testid="confirm-revoke"]').click();
  const revoked = await browser.$(`[data-testid="account"][data-account-id="${accountId}"][data-status="revoked"]`);
  await revoked.waitForExist({ timeout: 20000 });
  const message = await revoked.$('[data-testid="revoke-message"]');
  await message.waitForDisplayed({ timeout: 5000 });
  assert.match(await message.getText(), /confirmed/);
  console.log('screenshot:', await shot('03-revoked'));

  assert.equal(await introspect(access), false, 'access token still active at the provider');
  assert.equal(await introspect(refresh), false, 'refresh token still active at the provider');
  assert.equal(secretToolLookup(`${accountId}/access`), null, 'access token left in the keychain');
  assert.equal(secretToolLookup(`${accountId}/refresh`), null, 'refresh token left in the keychain');

  // Secret scan: what crossed IPC, the data folder (SQLite, WAL, logs), the app's output, the
  // browser log. Each source is checked non-empty first, so the scan cannot pass vacuously.
  const ipc = JSON.stringify(await browser.execute(() => window.__latchkeyIpc));
  assert.ok(ipc.includes('alice@example.test') && ipc.includes('accounts-changed'), 'IPC log recorded');
  const sources = { ipc, 'app and driver output': driverLog, 'browser log': readFileSync(join(work, 'browser.log'), 'utf8') };
  const dataFiles = filesUnder(join(work, 'data'));
  assert.ok(dataFiles.some((f) => f.endsWith('latchkey.sqlite3')) && dataFiles.some((f) => f.endsWith('latchkey.log')));
  for (const f of dataFiles) sources[f] = readFileSync(f).toString('latin1');
  assert.ok(sources[join(work, 'data/logs/latchkey.log')].includes('sign-in completed'), 'the app log is the real one');
  const mustHaveContent = ['ipc', 'app and driver output', 'browser log', join(work, 'data/latchkey.sqlite3'), join(work, 'data/logs/latchkey.log')];
  for (const name of mustHaveContent) assert.ok(sources[name]?.length > 0, `${name} is empty`);
  for (const [name, text] of Object.entries(sources)) {
    for (const token of [access, refresh]) assert.ok(!text.includes(token), `a token leaked into ${name}`);
  }
});
