// Scrolling 1,000 accounts, against the floor: the bare Tauri window scrolling 1,000 plain rows.
// Run by tests/bench/desktop.sh (which builds both release binaries and seeds the data):
//
//   node tests/bench/scroll.mjs APP BASELINE DATA_DIR RUNS
//
// Each run starts the binary under WebDriver (tauri-driver + WebKitWebDriver), waits until every
// row is in the page, then scrolls the list 40 px per frame for 150 frames, timing the frames with
// requestAnimationFrame; before that it times 60 frames without scrolling (the machine's frame
// clock: a software-rendered Xvfb display may not reach 60 Hz at all). Prints one JSON line with, per
// binary, medians over the runs of the median and 95th-percentile frame time, and the share of
// frames that missed a 60 Hz deadline by half a frame or more (> 25 ms).
//
// For finding what costs: BENCH_JS (a script) and BENCH_CSS (a style sheet) are applied to
// Latchkey's page once the list is complete, before the frames are timed.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const [app, baseline, dataDir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 3);
const DRIVER = process.env.TAURI_DRIVER ?? join(ROOT, '.tools/bin/tauri-driver');

const freePort = () => new Promise((ok, fail) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  s.on('error', fail);
});

async function session(binary, env) {
  const port = await freePort();
  const driver = spawn(DRIVER, ['--port', String(port), '--native-driver', '/usr/bin/WebKitWebDriver'], {
    env: { ...process.env, ...env }, stdio: 'ignore',
  });
  for (let i = 0; ; i++) {
    try { await fetch(`http://127.0.0.1:${port}/status`); break; } catch {
      if (i > 100) throw new Error('tauri-driver did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const browser = await remote({
    hostname: '127.0.0.1', port, logLevel: 'error', connectionRetryCount: 0,
    capabilities: { 'wdio:enforceWebDriverClassic': true, 'tauri:options': { application: binary } },
  });
  const end = async () => {
    await browser.deleteSession().catch(() => {});
    const gone = new Promise((ok) => driver.once('exit', ok));
    driver.kill();
    await gone;
    await new Promise((r) => setTimeout(r, 500));
  };
  return { browser, end };
}

/** In the page: frame times (ms) while idle, then while scrolling `scroller` (a selector). */
async function frames(browser, scroller) {
  return browser.executeAsync((selector, done) => {
    const el = selector ? document.querySelector(selector) : document.scrollingElement;
    el.scrollTop = 0;
    const time = (n, each) => new Promise((ok) => {
      const t = [];
      const step = (now) => {
        t.push(now);
        if (t.length > n) ok(t.slice(1).map((x, i) => x - t[i]));
        else { each(); requestAnimationFrame(step); }
      };
      requestAnimationFrame(step);
    });
    (async () => {
      const idle = await time(60, () => {});
      const scroll = await time(150, () => el.scrollBy(0, 40));
      done({ idle, scroll, height: el.scrollHeight, top: el.scrollTop });
    })();
  }, scroller);
}

const percentile = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const median = (xs) => percentile(xs, 0.5);

async function measure(binary, env, prepare, scroller) {
  const out = [];
  for (let i = 0; i < runs; i++) {
    const { browser, end } = await session(binary, env);
    try {
      await prepare(browser);
      const f = await frames(browser, scroller);
      if (f.top < 150 * 40 * 0.9) throw new Error(`the list did not scroll (${f.top} of ${f.height} px)`);
      out.push({
        idle: median(f.idle),
        median: median(f.scroll),
        p95: percentile(f.scroll, 0.95),
        missed: f.scroll.filter((d) => d > 25).length / f.scroll.length,
      });
    } finally {
      await end();
    }
  }
  const m = (k) => Number(median(out.map((o) => o[k])).toFixed(k === 'missed' ? 2 : 1));
  return { idle_ms: m('idle'), median_ms: m('median'), p95_ms: m('p95'), missed: m('missed') };
}

const latchkey = await measure(app, { LATCHKEY_DATA_DIR: dataDir }, async (browser) => {
  await browser.waitUntil(
    () => browser.execute(() => document.querySelectorAll('[data-testid="account"]').length === 1000
      && !document.querySelector('[aria-busy="true"]')),
    { timeout: 60000, interval: 200, timeoutMsg: 'the 1,000 accounts did not all render' },
  );
  if (process.env.BENCH_JS) await browser.execute(process.env.BENCH_JS);
  // A constructed style sheet: the window's CSP refuses <style> elements.
  if (process.env.BENCH_CSS) {
    await browser.execute((css) => {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }, process.env.BENCH_CSS);
  }
}, '#main');

const base = await measure(baseline, {}, async (browser) => {
  // 1,000 rows of text in a scrolling pane of the window's size: what WebKit here does at best.
  await browser.execute(() => {
    document.body.style.margin = '0';
    const main = document.createElement('main');
    main.id = 'main';
    main.style.cssText = 'height:100vh;overflow-y:auto;font:15px sans-serif;padding:0 30px';
    const rows = [];
    for (let i = 0; i < 1000; i++) {
      rows.push(`<li style="padding:14px 0;border-bottom:1px solid #ddd"><h3 style="margin:0">person${i}@example.test</h3>`
        + `<p style="margin:4px 0">CRM · updated 5 minutes ago</p><p style="margin:0">read · write · profile</p></li>`);
    }
    main.innerHTML = `<ul style="list-style:none;margin:0;padding:0">${rows.join('')}</ul>`;
    document.body.replaceChildren(main);
  });
}, '#main');

console.log(JSON.stringify({ scroll: { latchkey, baseline: base } }));
