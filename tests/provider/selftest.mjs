// Self-test of the test provider and the scripted browser:  node --test tests/provider/selftest.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { runBrowser } from '../e2e/browser.mjs';
import { startProvider } from './harness.mjs';

const BROWSER = fileURLToPath(new URL('../e2e/browser.mjs', import.meta.url));
const REDIRECT = 'io.latchkey.desktop:/oauth/demo/callback';
const b64url = (buf) => buf.toString('base64url');
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

let op; // the running provider (see harness.mjs)
let meta; // its discovery document

before(async () => {
  op = await startProvider({ tls: true });
  meta = await (await op.fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
});
after(async () => {
  if (!op) return;
  assert.equal(await op.stop(), 0); // EOF on stdin stops it cleanly...
  assert.equal(existsSync(dirname(op.ca_file)), false); // ...and removes the certificate dir
  assert.deepEqual(op.extraStdout(), []); // stdout carried the ready line only
});

/** Builds an authorization request; returns { url, state, verifier }. */
function authRequest({ scope = 'openid email profile demo.read demo.write', redirectUri = REDIRECT, extra = {} } = {}) {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: op.client_id, response_type: 'code', redirect_uri: redirectUri, scope, state,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256', ...extra,
  });
  return { url: url.href, state, verifier, redirectUri };
}

async function post(endpoint, params, headers = {}) {
  const res = await op.fetch(endpoint, { method: 'POST', headers, body: new URLSearchParams(params) });
  const text = await res.text(); // revocation answers 200 with an empty body
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const token = (params) => post(meta.token_endpoint, { client_id: op.client_id, ...params });
const revoke = (tok) => post(meta.revocation_endpoint, { client_id: op.client_id, token: tok });
async function introspect(tok) {
  const basic = Buffer.from(`${op.introspection_client_id}:${op.introspection_client_secret}`).toString('base64');
  const { status, body } = await post(meta.introspection_endpoint, { token: tok }, { authorization: `Basic ${basic}` });
  assert.equal(status, 200);
  return body;
}
async function userinfo(accessToken) {
  const res = await op.fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, body: res.status === 200 ? await res.json() : null };
}

/** Full user journey: browser -> callback -> code exchange. Returns { callback, tokens }. */
async function login(browserOpts = {}, reqOpts = {}) {
  const req = authRequest(reqOpts);
  const callback = new URL(await runBrowser(req.url, { fetch: op.fetch, ...browserOpts }));
  assert.equal(callback.href.split('?')[0], req.redirectUri);
  assert.equal(callback.searchParams.get('state'), req.state);
  assert.equal(callback.searchParams.get('iss'), op.issuer); // RFC 9207
  const code = callback.searchParams.get('code');
  if (!code) return { callback };
  const { status, body } = await token({
    grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: req.verifier,
  });
  assert.equal(status, 200, JSON.stringify(body));
  return { callback, code, req, tokens: body };
}

describe('discovery', () => {
  test('issuer, RFC 9207 and endpoints are advertised', () => {
    assert.equal(meta.issuer, op.issuer);
    assert.match(op.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    for (const e of ['token', 'userinfo', 'revocation', 'introspection']) assert.ok(meta[`${e}_endpoint`], e);
  });
});

describe('authorization code + PKCE', () => {
  test('approve, exchange, userinfo, rotate, revoke', async () => {
    const { tokens } = await login();
    assert.equal(tokens.token_type, 'Bearer');
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
    assert.deepEqual(tokens.scope.split(' ').sort(), ['demo.read', 'demo.write', 'email', 'openid', 'profile']);
    assert.equal(tokens.expires_in, 3600);

    const info = await userinfo(tokens.access_token);
    assert.deepEqual(info.body, {
      sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice Example', preferred_username: 'alice',
    });

    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.refresh_token, tokens.refresh_token); // rotated
    assert.notEqual(refreshed.body.access_token, tokens.access_token);
    assert.equal((await userinfo(refreshed.body.access_token)).status, 200);
    assert.equal((await introspect(refreshed.body.access_token)).active, true);

    // RFC 7009: revoking the refresh token revokes the whole grant, access tokens included.
    assert.equal((await revoke(refreshed.body.refresh_token)).status, 200);
    assert.equal((await introspect(refreshed.body.refresh_token)).active, false);
    assert.equal((await introspect(refreshed.body.access_token)).active, false);
    assert.equal((await revoke(refreshed.body.access_token)).status, 200); // still 200 for a dead token
    assert.equal((await userinfo(refreshed.body.access_token)).status, 401);
  });

  test('revoking only the access token also revokes the refresh token (same grant)', async () => {
    const { tokens } = await login();
    assert.equal((await introspect(tokens.refresh_token)).active, true);
    assert.equal((await revoke(tokens.access_token)).status, 200);
    assert.equal((await introspect(tokens.access_token)).active, false);
    assert.equal((await introspect(tokens.refresh_token)).active, false);
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(refreshed.body.error, 'invalid_grant');
  });

  test('a code is single use; replaying it revokes the tokens it produced', async () => {
    const { tokens, code, req } = await login();
    const again = await token({ grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: req.verifier });
    assert.equal(again.body.error, 'invalid_grant');
    assert.equal((await userinfo(tokens.access_token)).status, 401);
    assert.equal((await introspect(tokens.refresh_token)).active, false);
  });

  test('a wrong code_verifier is refused', async () => {
    const req = authRequest();
    const callback = new URL(await runBrowser(req.url, { fetch: op.fetch }));
    const { body } = await token({
      grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: req.redirectUri,
      code_verifier: b64url(randomBytes(32)),
    });
    assert.equal(body.error, 'invalid_grant');
  });

  test('reusing a rotated refresh token fails and kills the new one too', async () => {
    const { tokens } = await login();
    const first = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(first.status, 200);
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    const log = await op.control('requests');
    assert.match(log.at(-1).error, /refresh token already used/); // the real reason is in the log
    const next = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    assert.equal(next.body.error, 'invalid_grant');
  });

  test('deny ends with error=access_denied on the redirect', async () => {
    const { callback } = await login({ decision: 'deny' });
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('code'), null);
  });

  test('partial grant: only the checked scopes are granted', async () => {
    const { tokens } = await login({ grant: ['openid', 'demo.read'] });
    assert.equal(tokens.scope.split(' ').sort().join(' '), 'demo.read openid');
    const info = await userinfo(tokens.access_token);
    assert.deepEqual(info.body, { sub: 'alice' });
  });

  test('other users and the loopback redirect on any port', async () => {
    const { tokens } = await login({ login: 'bob' }, { redirectUri: 'http://127.0.0.1:49152/callback' });
    const info = await userinfo(tokens.access_token);
    assert.equal(info.body.email, 'bob@example.test');
    assert.equal(info.body.name, 'Bob Example');
  });

  test('without PKCE the request is refused', async () => {
    const url = new URL(authRequest().url);
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const callback = new URL(await runBrowser(url.href, { fetch: op.fetch }));
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
  });
});

describe('test controls', () => {
  test('ttl: access tokens can be made to expire in a second', async () => {
    await op.control('ttl', { access_token: 1 });
    try {
      const { tokens } = await login();
      assert.equal(tokens.expires_in, 1);
      await sleep(2100);
      assert.equal((await userinfo(tokens.access_token)).status, 401);
      assert.equal((await introspect(tokens.access_token)).active, false);
    } finally {
      await op.control('ttl', { access_token: 3600 });
    }
  });

  test('fault: the next token request gets a 503, the one after succeeds; requests are logged', async () => {
    const { tokens } = await login();
    await op.control('requests/clear', {});
    await op.control('fault', { path: '/token', status: 503, body: '<h1>down</h1>', content_type: 'text/html', times: 1 });
    const res = await op.fetch(meta.token_endpoint, {
      method: 'POST', body: new URLSearchParams({ client_id: op.client_id, grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    });
    assert.equal(res.status, 503);
    assert.equal(await res.text(), '<h1>down</h1>');
    const ok = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(ok.status, 200); // the faulted request never reached the provider
    const log = await op.control('requests');
    assert.deepEqual(log.map((r) => [r.method, r.path, r.status]), [['POST', '/token', 503], ['POST', '/token', 200]]);
  });

  test('revoke-grants: the user removes the app at the provider', async () => {
    const { tokens } = await login({ login: 'carol' });
    const { removed } = await op.control('revoke-grants', { account: 'carol' });
    assert.ok(removed >= 3, `removed ${removed}`);
    assert.equal((await userinfo(tokens.access_token)).status, 401);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).body.error, 'invalid_grant');
  });
});

describe('device flow (RFC 8628)', () => {
  const deviceAuth = (scope = 'openid email') => post(meta.device_authorization_endpoint, { client_id: op.client_id, scope });
  const poll = (deviceCode) => token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode });

  test('advertised; pending until approved by the control, then tokens for the approved user', async () => {
    assert.equal(meta.device_authorization_endpoint, `${op.issuer}/device/auth`);
    await op.control('device/interval', { seconds: 1 });
    const { status, body } = await deviceAuth();
    await op.control('device/interval', { seconds: null });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.interval, 1);
    assert.equal(body.verification_uri, `${op.issuer}/device`);
    assert.match(body.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
    assert.equal((await poll(body.device_code)).body.error, 'authorization_pending');
    assert.equal((await op.control('device/approve', { user_code: body.user_code, login: 'bob' })).ok, true);
    const tokens = await poll(body.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.scope, 'openid email');
    assert.ok(tokens.body.refresh_token);
    assert.equal((await userinfo(tokens.body.access_token)).body.email, 'bob@example.test');
    assert.equal((await poll(body.device_code)).body.error, 'invalid_grant', 'a device code is single use');
  });

  test('a person enters the code at /device, signs in and consents (browser.mjs), or aborts', async () => {
    const approved = (await deviceAuth('openid email demo.read')).body;
    assert.equal(await runBrowser(approved.verification_uri_complete, { fetch: op.fetch, login: 'carol' }), null);
    const tokens = await poll(approved.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.scope, 'openid email demo.read');
    assert.equal((await userinfo(tokens.body.access_token)).body.email, 'carol@example.test');
    const aborted = (await deviceAuth()).body;
    assert.equal(await runBrowser(aborted.verification_uri_complete, { fetch: op.fetch, decision: 'deny' }), null);
    assert.equal((await poll(aborted.device_code)).body.error, 'access_denied');
  });

  test('deny gives access_denied; an expired code gives expired_token', async () => {
    const denied = (await deviceAuth()).body;
    assert.equal((await deviceAuth()).body.interval, undefined, 'no interval unless set');
    await op.control('device/deny', { user_code: denied.user_code.toLowerCase() });
    assert.equal((await poll(denied.device_code)).body.error, 'access_denied');
    await op.control('ttl', { device_code: 1 });
    const expiring = (await deviceAuth()).body;
    await op.control('ttl', { device_code: 600 });
    await sleep(1200);
    assert.equal((await poll(expiring.device_code)).body.error, 'expired_token');
  });
});

describe('browser.mjs as the system browser', () => {
  test('hands the custom-scheme callback to the handoff command; the log has no code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-browser-'));
    try {
      writeFileSync(join(dir, 'handoff.sh'), 'printf "%s" "$1" > "$(dirname "$0")/delivered"\n');
      const req = authRequest();
      const code = await new Promise((resolve) => {
        spawn(process.execPath, [BROWSER, req.url], {
          stdio: 'inherit',
          env: {
            ...process.env, NODE_EXTRA_CA_CERTS: op.ca_file, LATCHKEY_TEST_HANDOFF: `sh ${join(dir, 'handoff.sh')}`,
            LATCHKEY_TEST_BROWSER_LOG: join(dir, 'log.jsonl'), LATCHKEY_TEST_GRANT: 'openid demo.write',
          },
        }).on('exit', resolve);
      });
      assert.equal(code, 0);
      const delivered = new URL(readFileSync(join(dir, 'delivered'), 'utf8'));
      assert.equal(delivered.searchParams.get('state'), req.state);
      const codeValue = delivered.searchParams.get('code');
      assert.ok(codeValue);
      const log = readFileSync(join(dir, 'log.jsonl'), 'utf8');
      assert.ok(!log.includes(codeValue), 'browser log leaks the code');
      assert.match(log, /"deliver":"handoff"/);
      const tokens = await token({ grant_type: 'authorization_code', code: codeValue, redirect_uri: REDIRECT, code_verifier: req.verifier });
      assert.equal(tokens.body.scope, 'openid demo.write');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a loopback callback is fetched with GET instead of handed off', async () => {
    const hits = [];
    const app = http.createServer((req, res) => { hits.push(req.url); res.end('You can close this window.'); });
    await new Promise((r) => { app.listen(0, '127.0.0.1', r); });
    try {
      const req = authRequest({ redirectUri: `http://127.0.0.1:${app.address().port}/callback` });
      const code = await new Promise((resolve) => {
        spawn(process.execPath, [BROWSER, req.url], {
          stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: op.ca_file, LATCHKEY_TEST_HANDOFF: 'false' },
        }).on('exit', resolve);
      });
      assert.equal(code, 0);
      assert.equal(hits.length, 1);
      const got = new URL(hits[0], 'http://127.0.0.1');
      assert.equal(got.pathname, '/callback');
      assert.equal(got.searchParams.get('state'), req.state);
      assert.ok(got.searchParams.get('code'));
    } finally {
      app.close();
    }
  });

  test('an error page makes the browser exit non-zero', async () => {
    const bad = authRequest({ redirectUri: 'io.latchkey.desktop:/not/registered' });
    const stderr = await new Promise((resolve) => {
      let out = '';
      const child = spawn(process.execPath, [BROWSER, bad.url], { env: { ...process.env, NODE_EXTRA_CA_CERTS: op.ca_file } });
      child.stderr.on('data', (d) => { out += d; });
      child.on('exit', (c) => resolve({ c, out }));
    });
    assert.equal(stderr.c, 1);
    assert.match(stderr.out, /unexpected HTTP 400 .*redirect_uri/);
  });
});
