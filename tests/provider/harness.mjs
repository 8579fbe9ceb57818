// Helpers for node tests: start tests/provider/server.mjs as a child process, and a fetch()
// that trusts its throw-away CA (NODE_EXTRA_CA_CERTS can only be set before node starts).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));

/**
 * A fetch-like function (returns a standard Response) that trusts only `caPem` for https and
 * never follows redirects, like fetch(..., { redirect: 'manual' }) but with the Location visible.
 */
export function fetchTrusting(caPem) {
  const agent = new https.Agent({ ca: caPem, keepAlive: false });
  return (url, init = {}) => new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers = Object.fromEntries(new Headers(init.headers));
    let { body } = init;
    if (body instanceof URLSearchParams) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
      body = body.toString();
    }
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(u, { method: init.method ?? 'GET', headers, agent: lib === https ? agent : undefined }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const nullBody = [101, 204, 205, 304].includes(res.statusCode);
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status: res.statusCode, headers: h }));
      });
    });
    req.on('error', (err) => reject(Object.assign(new TypeError('fetch failed'), { cause: err })));
    req.end(body);
  });
}

/**
 * Starts the provider. Resolves to its ready line plus { child, fetch, control, stop, stderr, extraStdout }.
 * `args` are extra CLI arguments (e.g. ['--redirect-uri', 'x:/cb']). Stops itself when this
 * process exits, because its stdin is a pipe from us.
 */
export async function startProvider({ tls = true, args = [], timeoutMs = 15000 } = {}) {
  const child = spawn(process.execPath, [SERVER, ...(tls ? ['--tls'] : []), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  const extraStdout = [];
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  const exited = new Promise((resolve) => { child.on('exit', (code) => resolve(code)); });

  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider not ready in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    let first = true;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!first) { extraStdout.push(line); return; } // the contract: nothing after the ready line
      first = false;
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error(`provider exited (${code}) before ready:\n${stderr}`)); });
  });
  const fetch = fetchTrusting(ready.ca_file ? readFileSync(ready.ca_file) : undefined);
  return {
    ...ready,
    child,
    fetch,
    stderr: () => stderr,
    extraStdout: () => extraStdout,
    /** POST (or GET when body is undefined) a /__test/ control; returns the parsed JSON. */
    async control(path, body) {
      const res = await fetch(`${ready.issuer}/__test/${path}`, body === undefined ? {} : {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`control ${path}: HTTP ${res.status} ${await res.text()}`);
      return res.json();
    },
    async stop() {
      child.stdin.end(); // EOF on stdin: the provider shuts down and removes its temp dir
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
