#!/usr/bin/env node
// A real OpenID Connect provider (oidc-provider 9) on 127.0.0.1 for Latchkey's tests and demo mode.
//
//   node tests/provider/server.mjs [--tls] [--port N] [--redirect-uri URI]...
//
// Prints ONE JSON "ready" line on stdout once listening; everything else goes to stderr.
// Exits on SIGTERM/SIGINT and when stdin (if it is a pipe or socket) reaches EOF.
// See tests/provider/README.md for the routes and test controls.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { fstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

// stdout carries only the ready line: oidc-provider prints its notices with console.info.
console.log = console.info = console.warn;

const { values: opts } = parseArgs({
  options: {
    tls: { type: 'boolean', default: false },
    port: { type: 'string', default: '0' },
    'redirect-uri': { type: 'string', multiple: true },
    'strict-offline-access': { type: 'boolean', default: false },
  },
});
const DEFAULT_REDIRECT_URIS = [
  'io.latchkey.desktop:/oauth/demo/callback',
  'io.latchkey.desktop:/oauth/test/callback',
  'http://127.0.0.1/callback', // native clients: a loopback redirect matches on any port
  'http://127.0.0.1/oauth/demo/callback',
  'http://127.0.0.1/oauth/test/callback',
];
const HOUR = 3600;
const DAY = 24 * HOUR;
const ttl = { access_token: HOUR, refresh_token: 14 * DAY, device_code: 600 }; // changed at run time by /__test/ttl
// The `interval` the device authorization answer advertises (RFC 8628 §3.2); null: none (5 s).
let deviceInterval = null;
// OpenID Connect Core §11 to the letter: a refresh token only for a grant with offline_access
// (which oidc-provider keeps only with prompt=consent). Set by the flag or /__test/offline-access.
let strictOfflineAccess = opts['strict-offline-access'];
const claimOverrides = new Map(); // login -> claims merged over the defaults, set by /__test/claims

// ---------------------------------------------------------------------------------------------
// Unbounded in-memory adapter (the bundled MemoryAdapter is an LRU capped at 1000 entries).
// One Map for every model; key `${model}:${id}`, value { payload, expiresAt (ms) | undefined }.
const store = new Map();
class MapAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  async upsert(id, payload, expiresIn) {
    // A device code is kept a minute past its end, so a late poll is told `expired_token`
    // (oidc-provider checks the expiry itself) rather than that the code is unknown.
    const grace = this.model === 'DeviceCode' ? 60 : 0;
    const expiresAt = expiresIn ? Date.now() + (expiresIn + grace) * 1000 : undefined;
    store.set(this.key(id), { payload, expiresAt });
    if (this.model === 'Session') store.set(`sessionUid:${payload.uid}`, { payload: id, expiresAt });
    if (this.model === 'DeviceCode') store.set(`userCode:${payload.userCode}`, { payload: id, expiresAt });
  }
  async find(id) { return get(this.key(id)); }
  async findByUid(uid) { const id = get(`sessionUid:${uid}`); return id && this.find(id); }
  async findByUserCode(userCode) { const id = get(`userCode:${userCode}`); return id && this.find(id); }
  async consume(id) { const payload = get(this.key(id)); if (payload) payload.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) { deleteWhere((p) => p.grantId === grantId); }
}
function get(key) {
  const entry = store.get(key);
  if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) { store.delete(key); return undefined; }
  return entry?.payload;
}
function deleteWhere(test) {
  let n = 0;
  for (const [key, { payload }] of store) {
    if (payload && typeof payload === 'object' && test(payload, key)) { store.delete(key); n += 1; }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Throw-away CA + leaf certificate for 127.0.0.1, made with the openssl CLI.
let tmpDir = null;
function makeCertificates() {
  tmpDir = mkdtempSync(join(tmpdir(), 'latchkey-provider-'));
  const f = (name) => join(tmpDir, name);
  const ssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '7',
    '-subj', '/CN=Latchkey throw-away test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('leaf.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth',
    'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid',
  ].join('\n'));
  ssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '7', '-extfile', f('leaf.ext'), '-out', f('leaf.pem'));
  return { caFile: f('ca.pem'), key: readFileSync(f('leaf.key')), cert: readFileSync(f('leaf.pem')) };
}

// ---------------------------------------------------------------------------------------------
// HTML (no third-party content; every page says it is the local test provider).
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const SCOPE_TEXT = {
  openid: 'Sign you in (your user id)', email: 'Your email address', profile: 'Your name and username',
  offline_access: 'Stay connected while you are away', 'demo.read': 'Read demo data', 'demo.write': 'Change demo data',
};
function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}
main{max-width:26rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 4px #0002}
.note{background:#fff4d6;border:1px solid #e8c56a;border-radius:6px;padding:.5rem .75rem;font-size:.9rem}
label{display:block;margin:.6rem 0}input[type=text],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}
button{padding:.5rem 1.2rem;margin:.8rem .5rem 0 0;font-size:1rem;cursor:pointer}
h1{font-size:1.35rem}ul{list-style:none;padding:0}#deny button{background:none;border:1px solid #bbb}</style></head><body><main><h1>${esc(title)}</h1>
<p class="note">This is Latchkey's <strong>local demo/test provider</strong> on this computer. It is not a real
account service: any user name and password are accepted.</p>
${body}</main></body></html>`;
}
function loginPage(uid, client, error) {
  return page('Latchkey demo provider — sign in', `
${error ? `<p role="alert">${esc(error)}</p>` : ''}
<p><strong>${esc(client)}</strong> wants you to sign in.</p>
<form id="login" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label>User name <input type="text" name="login" value="alice" required autofocus></label>
<label>Password (anything) <input type="password" name="password"></label>
<button type="submit">Sign in</button></form>`);
}
function consentPage(uid, client, account, scopes) {
  const items = scopes.map((s) => `<li><label><input type="checkbox" name="scope" value="${esc(s)}" checked>
 <code>${esc(s)}</code> — ${esc(SCOPE_TEXT[s] ?? 'Access')}</label></li>`).join('');
  return page('Latchkey demo provider — allow access', `
<p>Signed in as <strong>${esc(account)}</strong>. <strong>${esc(client)}</strong> asks for:</p>
<form id="consent" method="post" action="/interaction/${esc(uid)}/confirm">
<input type="hidden" name="scope_form" value="1"><ul>${items || '<li>(nothing new)</li>'}</ul>
<button type="submit">Allow</button></form>
<form id="deny" method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Deny</button></form>`);
}

// ---------------------------------------------------------------------------------------------
// Accounts: any login name signs in; alice is the documented default user.
function account(login) {
  const name = login === 'alice' ? 'Alice Example' : `${login[0].toUpperCase()}${login.slice(1)} Example`;
  return {
    accountId: login,
    claims: async () => ({
      sub: login, email: `${login}@example.test`, email_verified: true, name, preferred_username: login,
      ...claimOverrides.get(login),
    }),
  };
}

function providerConfig(redirectUris, introspectionSecret) {
  // The signing key as PEM, read back into a key of its own before the JWK export: exporting the
  // generated key object itself can deadlock Node 20 when a garbage collection during the export
  // finalizes the generation job, which takes the same key's lock (seen here: the provider hung
  // before its ready line, its main thread waiting in ~KeyGenJob under ExportJWKRsaKey).
  const pem = generateKeyPairSync('rsa', {
    modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  const renderHtml = (ctx, title, body) => {
    ctx.type = 'html';
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.body = page(title, body);
  };
  return {
    adapter: MapAdapter,
    clients: [{
      client_id: 'latchkey', application_type: 'native', token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'], redirect_uris: redirectUris,
    }, {
      client_id: 'resource-server', client_secret: introspectionSecret,
      token_endpoint_auth_method: 'client_secret_basic', grant_types: [], response_types: [], redirect_uris: [],
    }],
    jwks: { keys: [{ ...jwk, kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx, sub) => account(sub),
    // Mail servers (Dovecot's oauth2 passdb) know the user by the email in the introspection answer.
    extraTokenClaims: async (_ctx, token) => (token.kind === 'AccessToken' && token.scope?.split(' ').includes('email')
      ? { email: (await account(token.accountId).claims()).email } : undefined),
    scopes: ['openid', 'email', 'profile', 'offline_access', 'demo.read', 'demo.write'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    clockTolerance: 0,
    responseTypes: ['code'], // authorization code flow only (no implicit/hybrid)
    features: {
      devInteractions: { enabled: false },
      // RFC 8628 at /device/auth; the user enters the code at /device (or a test control decides).
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx, form, _out, err) => {
          const wrong = err && (err.userCode || err.name === 'NoCodeError');
          const note = !err ? '<p>Enter the code your device shows.</p>'
            : `<p role="alert" id="${err.name === 'AbortedError' ? 'device-aborted' : 'device-error'}">${
              wrong ? 'That code is not right (or no longer valid). Try again.' : 'The sign-in was stopped.'}</p>`;
          renderHtml(ctx, 'Latchkey demo provider — connect a device',
            `${note}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => renderHtml(ctx,
          'Latchkey demo provider — confirm the device',
          `<p><strong>${esc(client.clientId)}</strong> asks to sign in on a device that shows this code:</p>
<p><code>${esc(userCode)}</code></p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`),
        successSource: async (ctx) => renderHtml(ctx, 'Latchkey demo provider — device connected',
          '<p id="device-done">The device is connected. You can close this page.</p>'),
      },
      userinfo: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => client.clientId === 'resource-server' || token.clientId === client.clientId,
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => renderHtml(ctx, 'Latchkey demo provider — sign out',
          `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button>`),
        postLogoutSuccessSource: async (ctx) => renderHtml(ctx, 'Latchkey demo provider — signed out', '<p>Signed out.</p>'),
      },
    },
    pkce: { required: () => true }, // oidc-provider 9 supports S256 only
    // No offline_access / prompt=consent dance: the refresh_token grant alone earns a refresh token,
    // and tokens do not die with the provider's browser session.
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
      && (!strictOfflineAccess || code.scopes.has('offline_access')),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => ttl.access_token, RefreshToken: () => ttl.refresh_token, AuthorizationCode: 60,
      IdToken: HOUR, Interaction: HOUR, Session: 14 * DAY, Grant: 14 * DAY, DeviceCode: () => ttl.device_code,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => renderHtml(ctx, 'Latchkey demo provider — error',
      Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`).join('')),
  };
}

// ---------------------------------------------------------------------------------------------
// Interactions: our own login and consent pages.
async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session } = details;
  const send = (status, html) => { res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(html); };

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return send(200, loginPage(uid, params.client_id));
    if (prompt.name === 'consent') {
      return send(200, consentPage(uid, params.client_id, session.accountId, prompt.details.missingOIDCScope ?? []));
    }
    throw new Error(`unknown prompt ${prompt.name}`);
  }
  if (req.method !== 'POST') return send(405, page('Method not allowed', ''));
  const form = new URLSearchParams(await readBody(req));

  if (action === 'login' && prompt.name === 'login') {
    const login = (form.get('login') ?? '').trim();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(login)) return send(400, loginPage(uid, params.client_id, 'Enter a user name (letters, digits, . _ -).'));
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const requested = prompt.details.missingOIDCScope ?? [];
    // Our own form always sends scope_form=1, so unchecking every box grants nothing; a bare POST
    // without any `scope` field (a script's "approve") grants everything requested.
    const checked = form.has('scope') || form.has('scope_form') ? new Set(form.getAll('scope')) : new Set(requested);
    const granted = requested.filter((s) => checked.has(s));
    const rejected = requested.filter((s) => !checked.has(s));
    if (granted.length) grant.addOIDCScope(granted.join(' '));
    if (rejected.length) grant.rejectOIDCScope(rejected.join(' ')); // so consent is not asked again
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  return send(400, page('Latchkey demo provider — error', `<p>Unexpected step "${esc(action)}" at prompt "${esc(prompt.name)}".</p>`));
}

// ---------------------------------------------------------------------------------------------
// Test controls under /__test/ (loopback only, JSON in and out).
const requests = []; // { method, path, at, status, fault?, error? } for every non-control request
const faults = new Map(); // path -> { status, body, content_type, headers, times, delay_ms, drop }

async function control(req, res, path) {
  const json = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)); };
  const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : undefined;
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'GET /__test/requests': return json(200, requests);
    case 'POST /__test/requests/clear': requests.length = 0; return json(200, { ok: true });
    case 'POST /__test/ttl':
      for (const k of ['access_token', 'refresh_token', 'device_code']) {
        if (body[k] === undefined) continue;
        if (!Number.isInteger(body[k]) || body[k] < 1) return json(400, { error: `${k} must be a positive integer` });
        ttl[k] = body[k];
      }
      return json(200, ttl);
    case 'POST /__test/revoke-grants': {
      if (typeof body.account !== 'string') return json(400, { error: 'account required' });
      const kinds = new Set(['Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode']);
      const removed = deleteWhere((p, key) => kinds.has(key.split(':')[0]) && p.accountId === body.account);
      return json(200, { removed });
    }
    case 'POST /__test/fault':
      if (typeof body.path !== 'string' || !body.path.startsWith('/')) return json(400, { error: 'path required' });
      faults.set(body.path, { times: 1, ...body });
      return json(200, { ok: true });
    case 'POST /__test/fault/clear': faults.clear(); return json(200, { ok: true });
    case 'POST /__test/claims':
      if (typeof body.account !== 'string' || typeof body.claims !== 'object' || body.claims === null) {
        return json(400, { error: 'account and claims required' });
      }
      claimOverrides.set(body.account, body.claims);
      return json(200, { ok: true });
    case 'POST /__test/tokens': {
      // How many live access and refresh tokens the account has (revoked ones are deleted).
      const count = (model) => [...store.keys()].filter((k) => k.startsWith(`${model}:`)
        && get(k)?.accountId === body.account).length;
      return json(200, { access_tokens: count('AccessToken'), refresh_tokens: count('RefreshToken') });
    }
    case 'POST /__test/device/interval':
      if (body.seconds !== null && !(Number.isInteger(body.seconds) && body.seconds >= 0)) {
        return json(400, { error: 'seconds must be a non-negative integer or null' });
      }
      deviceInterval = body.seconds;
      return json(200, { seconds: deviceInterval });
    case 'POST /__test/device/approve':
    case 'POST /__test/device/deny': {
      const [status, answer] = await deviceDecision(body, route.endsWith('approve'));
      return json(status, answer);
    }
    case 'POST /__test/offline-access':
      strictOfflineAccess = body.strict === true;
      return json(200, { strict: strictOfflineAccess });
    default: return json(404, { error: `no such control: ${route}` });
  }
}

// Plays the user at /device: approves the pending user code as `login` (default alice), granting
// the requested scopes or those of `scopes` among them, or denies it.
async function deviceDecision(body, approve) {
  if (typeof body.user_code !== 'string') return [400, { error: 'user_code required' }];
  const userCode = body.user_code.replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/\W/g, '');
  const code = await provider.DeviceCode.findByUserCode(userCode);
  if (!code || code.isExpired) return [404, { error: 'no pending device code with that user code' }];
  if (code.accountId || code.error || code.inFlight) return [409, { error: 'that device code was already decided' }];
  if (!approve) {
    Object.assign(code, { error: 'access_denied', errorDescription: 'End-User denied the device' });
    await code.save();
    return [200, { ok: true }];
  }
  const login = body.login ?? 'alice';
  const requested = String(code.params.scope ?? '').split(' ').filter(Boolean);
  const granted = Array.isArray(body.scopes) ? requested.filter((s) => body.scopes.includes(s)) : requested;
  const grant = new provider.Grant({ accountId: login, clientId: code.clientId });
  if (granted.length) grant.addOIDCScope(granted.join(' '));
  const grantId = await grant.save();
  Object.assign(code, {
    accountId: login, grantId, scope: granted.join(' '), authTime: Math.floor(Date.now() / 1000),
  });
  await code.save();
  return [200, { ok: true, scope: code.scope }];
}

// Returns true when the fault answered (or dropped) the request itself.
async function applyFault(fault, req, res) {
  if (fault.delay_ms) await new Promise((r) => { setTimeout(r, fault.delay_ms); });
  if (fault.drop) { req.logEntry.status = 'dropped'; req.socket.destroy(); return true; }
  if (fault.status === undefined) return false; // delay only: pass through
  const isJson = typeof fault.body === 'object' && fault.body !== null;
  let text = isJson ? JSON.stringify(fault.body) : String(fault.body ?? '');
  // A body larger than a control request may carry: {{fill}} becomes fill.text, fill.times times.
  if (fault.fill) text = text.replace('{{fill}}', () => String(fault.fill.text).repeat(fault.fill.times));
  res.writeHead(fault.status, {
    ...(fault.headers ?? {}),
    'content-type': fault.content_type ?? (isJson ? 'application/json' : 'text/plain; charset=utf-8'),
  }).end(text);
  return true;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { data += c; if (data.length > 1 << 20) req.destroy(new Error('body too large')); });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
const isLoopback = (addr) => /^(127\.|::1$|::ffff:127\.)/.test(addr ?? '');

// ---------------------------------------------------------------------------------------------
// Start: listen first (the issuer needs the port), then create the provider.
const tls = opts.tls ? makeCertificates() : null;
let provider;
let callback;
const server = (tls ? https.createServer({ key: tls.key, cert: tls.cert }) : http.createServer());
server.on('request', async (req, res) => {
  const { pathname } = new URL(req.url, 'http://x');
  res.setHeader('Referrer-Policy', 'no-referrer');
  try {
    if (pathname.startsWith('/__test/')) {
      if (!isLoopback(req.socket.remoteAddress)) return res.writeHead(403).end();
      return await control(req, res, pathname);
    }
    const entry = { method: req.method, path: pathname, at: new Date().toISOString() };
    requests.push(entry);
    req.logEntry = entry;
    res.on('finish', () => { entry.status = res.statusCode; });
    const fault = faults.get(pathname);
    if (fault) {
      if (!((fault.times -= 1) > 0)) faults.delete(pathname);
      entry.fault = true;
      if (await applyFault(fault, req, res)) return undefined;
    }
    // An API that reflects the request's Authorization header, as some do: Latchkey must scrub it.
    if (pathname === '/echo/authorization') {
      return res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
    }
    const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(pathname);
    if (m) return await interaction(provider, req, res, m[1], m[2]);
    return callback(req, res);
  } catch (err) {
    // oidc-provider errors (e.g. SessionNotFound for a stale interaction cookie) carry a 4xx status.
    const status = err.statusCode ?? (err instanceof SyntaxError ? 400 : 500);
    console.error(`provider: ${req.method} ${pathname}: ${status < 500 ? `${err.name}: ${err.error_description ?? err.message}` : err.stack}`);
    if (req.logEntry) req.logEntry.error = `${err.error ?? err.name}: ${err.error_description ?? err.message}`;
    if (!res.headersSent) {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
        .end(page('Latchkey demo provider — error', `<p>${esc(err.error_description ?? err.message)}</p>`));
    } else res.end();
    return undefined;
  }
});

server.listen(Number(opts.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const introspectionSecret = randomBytes(24).toString('base64url');
  provider = new Provider(issuer, providerConfig(opts['redirect-uri'] ?? DEFAULT_REDIRECT_URIS, introspectionSecret));
  // invalid_grant always says "grant request is invalid"; keep the real reason in the request log.
  for (const event of ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error',
    'userinfo.error', 'server_error']) {
    provider.on(event, (ctx, err) => {
      const why = err.error_detail ?? err.error_description ?? err.message;
      if (ctx?.req?.logEntry) ctx.req.logEntry.error = `${err.error ?? err.name}: ${why}`;
      console.error(`provider ${event}: ${err.error ?? err.name}: ${why}`);
    });
  }
  // RFC 8628 §3.2's optional `interval`, as /__test/device/interval sets it.
  provider.on('device_authorization.success', (ctx) => {
    if (deviceInterval !== null) ctx.body.interval = deviceInterval;
  });
  callback = provider.callback();
  process.stdout.write(`${JSON.stringify({
    ready: true, issuer, port, ca_file: tls?.caFile ?? null, client_id: 'latchkey',
    introspection_client_id: 'resource-server', introspection_client_secret: introspectionSecret,
  })}\n`);
});

// ---------------------------------------------------------------------------------------------
// Shutdown: signals, or EOF on a piped stdin (so we never outlive the test that spawned us).
// stdin that is /dev/null or a terminal is not watched (it would end at once / needs Ctrl-D).
function shutdown(code = 0) {
  server.closeAllConnections?.();
  server.close();
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
  process.stdin.on('end', () => shutdown(0));
  process.stdin.on('error', () => shutdown(0));
  process.stdin.resume();
}
server.on('error', (err) => { console.error(`provider: ${err.message}`); shutdown(1); });
