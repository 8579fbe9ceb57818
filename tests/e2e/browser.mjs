#!/usr/bin/env node
// A scripted "system browser" for Latchkey's end-to-end tests.
//
//   node tests/e2e/browser.mjs <authorization-url>
//
// Plays the user at the test provider (tests/provider/server.mjs): keeps cookies, follows Location
// headers by hand, signs in and approves or denies at consent. When a redirect leaves the provider
// it hands the callback URL to the OS like a browser would (custom scheme: run the handoff command;
// http loopback: GET it) and exits 0. Any unexpected page: message on stderr, exit 1.
//
// Environment:
//   LATCHKEY_TEST_LOGIN        user name to sign in as (default alice)
//   LATCHKEY_TEST_DECISION     "deny" presses Deny at consent (default: approve)
//   LATCHKEY_TEST_GRANT        space-separated scopes to leave checked at consent (default: all)
//   LATCHKEY_TEST_HANDOFF      command that opens a custom-scheme URL, URL appended as the last
//                              argument, split on spaces, no quoting (default "gio open")
//   LATCHKEY_TEST_BROWSER_LOG  file to append one JSON line per step to (codes/tokens redacted)
//   NODE_EXTRA_CA_CERTS        the provider's test CA (TLS checks stay on)
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Query/fragment parameters whose values never reach the log: code, code_verifier, *token*, ...
const SECRET_PARAM = /^(code|code_verifier|password|.*token.*|.*secret.*|.*assertion.*)$/i;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** URL with the values of secret-looking query/fragment parameters replaced by "REDACTED". */
export function redact(url) {
  let u;
  try { u = new URL(url); } catch { return '(unparseable url)'; }
  const scrub = (params) => {
    for (const key of [...params.keys()]) if (SECRET_PARAM.test(key)) params.set(key, 'REDACTED');
    return params.toString();
  };
  if (u.search) u.search = scrub(u.searchParams);
  if (u.hash.length > 1) u.hash = scrub(new URLSearchParams(u.hash.slice(1)));
  return u.href;
}

export class BrowserError extends Error {}

// Minimal cookie jar for a single host: honours Path, Max-Age/Expires and Secure.
class CookieJar {
  #cookies = new Map(); // `${path}\t${name}` -> { name, value, path, expires, secure }

  store(setCookieHeaders, url) {
    for (const header of setCookieHeaders) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      const cookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), path: null, expires: Infinity, secure: false };
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=').map((s) => s.trim());
        const key = k.toLowerCase();
        if (key === 'path' && v.startsWith('/')) cookie.path = v;
        else if (key === 'max-age') cookie.expires = Date.now() + Number(v) * 1000;
        else if (key === 'expires' && cookie.expires === Infinity) cookie.expires = Date.parse(v);
        else if (key === 'secure') cookie.secure = true;
      }
      cookie.path ??= url.pathname.replace(/\/[^/]*$/, '') || '/';
      const id = `${cookie.path}\t${cookie.name}`;
      if (cookie.expires <= Date.now()) this.#cookies.delete(id);
      else this.#cookies.set(id, cookie);
    }
  }

  header(url) {
    const matches = (p) => url.pathname === p || url.pathname.startsWith(p.endsWith('/') ? p : `${p}/`);
    return [...this.#cookies.values()]
      .filter((c) => c.expires > Date.now() && matches(c.path) && (!c.secure || url.protocol === 'https:'))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

// Just enough HTML form parsing for the test provider's own pages.
const decode = (s) => s.replace(/&(#\d+|amp|lt|gt|quot|apos);/g, (_, e) => (
  e[0] === '#' ? String.fromCharCode(Number(e.slice(1))) : { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e]));
const attrsOf = (tag) => Object.fromEntries([...tag.matchAll(/([\w-]+)(?:\s*=\s*"([^"]*)")?/g)]
  .map(([, k, v]) => [k.toLowerCase(), v === undefined ? '' : decode(v)]));
function parseForms(html) {
  const forms = {};
  for (const [, formTag, inner] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const form = attrsOf(formTag);
    form.inputs = [...inner.matchAll(/<input\b([^>]*)>/gi)].map(([, tag]) => attrsOf(tag));
    forms[form.id ?? form.action] = form;
  }
  return forms;
}
// A page's visible text, minus the head and the "this is the demo provider" note, for error messages.
const pageText = (html) => decode(html.replace(/<(head|style|script)\b[\s\S]*?<\/\1>/gi, '')
  .replace(/<p class="note">[\s\S]*?<\/p>/i, '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim().slice(0, 500);

/**
 * Walks from the authorization URL through sign-in and consent, and returns the URL the provider
 * finally redirects to outside itself (the app's callback, with code/error, state and iss). From a
 * device verification URL (RFC 8628, with `user_code` in it) it confirms or aborts the code,
 * signs in and consents, and returns null once the provider says the device is connected (or,
 * after aborting, that the sign-in was stopped).
 * opts: { login='alice', password='test', decision='approve'|'deny', grant=null (array of scopes
 * to leave checked; null = all), log=null (file for JSON lines), fetch=globalThis.fetch, maxSteps=20 }
 */
export async function runBrowser(url, opts = {}) {
  const {
    login = 'alice', password = 'test', decision = 'approve', grant = null, log = null,
    fetch: doFetch = globalThis.fetch, maxSteps = 20,
  } = opts;
  const origin = new URL(url).origin;
  const jar = new CookieJar();
  const record = (entry) => {
    if (log) appendFileSync(log, `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`);
  };
  let request = { method: 'GET', url: new URL(url) };

  for (let step = 1; step <= maxSteps; step += 1) {
    const headers = { accept: 'text/html', 'user-agent': 'latchkey-test-browser' };
    const cookie = jar.header(request.url);
    if (cookie) headers.cookie = cookie;
    if (request.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    let res;
    try {
      res = await doFetch(request.url.href, { method: request.method, headers, body: request.body, redirect: 'manual' });
    } catch (err) {
      throw new BrowserError(`${request.method} ${redact(request.url.href)} failed: ${err.cause?.message ?? err.message}`);
    }
    jar.store(res.headers.getSetCookie(), request.url);
    const location = res.headers.get('location');
    record({ step, method: request.method, url: redact(request.url.href), status: res.status,
      ...(location ? { location: redact(new URL(location, request.url).href) } : {}) });

    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer();
      const next = new URL(location, request.url);
      if (next.origin !== origin) return next.href; // left the provider: the app's callback
      // 307/308 would keep the method; the provider only answers 302/303 here.
      request = { method: 'GET', url: next };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) {
      throw new BrowserError(`unexpected HTTP ${res.status} at ${redact(request.url.href)}: ${pageText(html)}`);
    }
    const forms = parseForms(html);
    const fill = (form, values) => ({
      method: 'POST',
      url: new URL(form.action, request.url),
      body: new URLSearchParams(values).toString(),
    });
    const hidden = (form) => form.inputs.filter((i) => i.type === 'hidden' && i.name).map((i) => [i.name, i.value ?? '']);
    const only = Object.values(forms);
    if (html.includes('id="device-done"') || html.includes('id="device-aborted"')) return null;
    if (forms['op.deviceConfirmForm']) {
      const abort = decision === 'deny' ? [['abort', 'yes']] : [];
      request = fill(forms['op.deviceConfirmForm'], [...hidden(forms['op.deviceConfirmForm']), ...abort]);
    } else if (only.length === 1 && only[0].inputs.every((i) => i.type === 'hidden')) {
      // A page that submits its form by script (oidc-provider's form_post), as a browser would.
      request = fill(only[0], hidden(only[0]));
    } else if (forms.login) {
      request = fill(forms.login, [...hidden(forms.login), ['login', login], ['password', password]]);
    } else if (forms.consent && decision === 'deny') {
      if (!forms.deny) throw new BrowserError(`consent page without a Deny form at ${redact(request.url.href)}`);
      request = fill(forms.deny, hidden(forms.deny));
    } else if (forms.consent) {
      const offered = forms.consent.inputs.filter((i) => i.type === 'checkbox' && i.name === 'scope');
      const chosen = offered.filter((i) => (grant ? grant.includes(i.value) : 'checked' in i));
      record({ step, consent: 'approve', offered: offered.map((i) => i.value), granted: chosen.map((i) => i.value) });
      request = fill(forms.consent, [...hidden(forms.consent), ...chosen.map((i) => ['scope', i.value])]);
    } else {
      throw new BrowserError(`unexpected page at ${redact(request.url.href)}: ${pageText(html)}`);
    }
  }
  throw new BrowserError(`gave up after ${maxSteps} steps without reaching a callback`);
}

/**
 * Delivers a callback URL the way the OS/browser would: GET for an http(s) loopback URL, otherwise
 * run `handoff` (a command string, URL appended as the last argument) and wait for it.
 */
export async function deliver(callbackUrl, { handoff = 'gio open', log = null, fetch: doFetch = globalThis.fetch } = {}) {
  const u = new URL(callbackUrl);
  const record = (entry) => {
    if (log) appendFileSync(log, `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`);
  };
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    if (!LOOPBACK_HOSTS.has(u.hostname)) throw new BrowserError(`refusing to visit non-loopback callback ${redact(u.href)}`);
    let res;
    try {
      res = await doFetch(u.href, { redirect: 'manual', headers: { accept: 'text/html' } });
    } catch (err) {
      throw new BrowserError(`GET ${redact(u.href)} failed: ${err.cause?.message ?? err.message}`);
    }
    await res.arrayBuffer();
    record({ deliver: 'loopback', url: redact(u.href), status: res.status });
    return res.status;
  }
  const [cmd, ...args] = handoff.split(/\s+/).filter(Boolean);
  const code = await new Promise((resolve, reject) => {
    spawn(cmd, [...args, u.href], { stdio: ['ignore', 'inherit', 'inherit'] })
      .on('error', (err) => reject(new BrowserError(`handoff command "${cmd}" failed to start: ${err.message}`)))
      .on('exit', (c, signal) => resolve(signal ? 128 : c));
  });
  record({ deliver: 'handoff', command: handoff, url: redact(u.href), exit: code });
  if (code !== 0) throw new BrowserError(`handoff "${handoff}" exited with ${code} for ${redact(u.href)}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const url = process.argv[2];
  const env = process.env;
  const log = env.LATCHKEY_TEST_BROWSER_LOG || null;
  try {
    if (!url || process.argv.length > 3) throw new BrowserError('usage: browser.mjs <authorization-url>');
    const callback = await runBrowser(url, {
      login: env.LATCHKEY_TEST_LOGIN || 'alice',
      decision: env.LATCHKEY_TEST_DECISION === 'deny' ? 'deny' : 'approve',
      grant: env.LATCHKEY_TEST_GRANT === undefined ? null : env.LATCHKEY_TEST_GRANT.split(/\s+/).filter(Boolean),
      log,
    });
    if (callback !== null) await deliver(callback, { handoff: env.LATCHKEY_TEST_HANDOFF || 'gio open', log });
  } catch (err) {
    process.stderr.write(`browser.mjs: ${err instanceof BrowserError ? err.message : err.stack}\n`);
    if (log) appendFileSync(log, `${JSON.stringify({ at: new Date().toISOString(), error: err.message })}\n`);
    process.exit(1);
  }
}
