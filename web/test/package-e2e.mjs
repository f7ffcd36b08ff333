// The npm package as a web developer meets it: `npm pack` makes the tarball; it is installed into
// fresh copies of the example apps (examples/): a plain HTML page with <janus-chat> and
// <janus-image>, a Vite-built page using the API, and a strict TypeScript consumer of the
// declarations. Each page is served on loopback under a strict Content-Security-Policy (no
// 'unsafe-eval', no inline script or style, same-origin workers and connections) and, in headless
// Chromium, loads the tiny fixture, chats and generates an image. No CSP violation, no request
// to another origin, one engine for the two elements. In a browser without WebGPU the elements
// say so (an error state, not "Loading…" for ever) and send 'error' with the code no-webgpu.
//
//   node web/test/package-e2e.mjs     (scripts/test-web.sh runs it; needs the wasm in web/pkg)

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { check, finish, stepper } from './harness.mjs';
import { createServer } from './server.mjs';
import { BASE_ARGS, CHROMIUM, WEBGPU_ARGS } from './chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'tests/artifacts');
const work = path.join(artifacts, 'package');
const TINY = path.join(root, 'tests/fixtures/models/tiny-a-hf');
const NODE_BIN = path.join(root, 'node_modules/.bin');

/** What a host page needs for janus-web, and nothing more (README, "Content-Security-Policy"). */
export const CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' blob:",
  "style-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const figures = {};

const step = stepper();

function sh(command, args, cwd) {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh copy of examples/<name> with the tarball installed (offline: the package has no dependencies). */
function consumer(name, tarball) {
  const dir = path.join(work, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(root, 'examples', name), dir, { recursive: true });
  sh('npm', ['install', '--no-audit', '--no-fund', '--offline', '--no-package-lock', tarball], dir);
  return dir;
}

/** Serves `dir` with the tiny model at /models/tiny-test/, every response under `csp`. */
async function serve(dir, csp = CSP) {
  const server = createServer({ root: dir, mounts: { '/models/tiny-test/': TINY, '/': '.' }, index: 'index.html', headers: { 'Content-Security-Policy': csp } });
  const { url } = await server.listen();
  return { server, url };
}

/** A page that records CSP violations, console errors and every request's origin. */
async function openPage(browser, url) {
  const page = await browser.newPage();
  const seen = { violations: [], errors: [], origins: new Set(), urls: [] };
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    // The elements' events do not bubble; a capturing listener on the document still sees them.
    window.__events = {};
    window.__errorCodes = [];
    for (const type of ['progress', 'ready', 'message', 'image', 'error']) {
      document.addEventListener(
        type,
        (e) => {
          const tag = e.target?.tagName?.toLowerCase();
          if (tag !== 'janus-chat' && tag !== 'janus-image') return;
          const key = `${tag} ${type}`;
          window.__events[key] = (window.__events[key] ?? 0) + 1;
          if (type === 'error') window.__errorCodes.push(`${tag} ${e.detail?.code}`);
          if (type === 'ready') window.__quantized = e.detail?.quantizedTensors;
        },
        true,
      );
    }
  });
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('request', (r) => {
    seen.origins.add(new URL(r.url()).origin);
    seen.urls.push(r.url());
  });
  await page.goto(url);
  return { page, seen };
}

async function checkClean(page, seen, url) {
  const violations = await page.evaluate(() => window.__violations);
  check(violations.length === 0, `CSP violations: ${violations.join('; ')}`);
  const csp = seen.errors.filter((e) => /Content Security Policy/i.test(e));
  check(csp.length === 0, `CSP errors in the console: ${csp.join('; ')}`);
  const foreign = [...seen.origins].filter((o) => o !== new URL(url).origin && o !== 'null' && !o.startsWith('blob:') && o !== 'data:');
  check(foreign.length === 0, `requests to other origins: ${foreign.join(', ')}`);
}

/** The element's status line, as a person and a screen reader meet it. */
async function elementStatus(page, tag) {
  return page.locator(`${tag} [part~="status"]`).evaluate((status) => ({
    text: status.textContent,
    role: status.getAttribute('role'),
    error: status.dataset.error ?? null,
    visible: status.checkVisibility(),
  }));
}

async function main() {
  mkdirSync(work, { recursive: true });
  let tarball;
  await step('npm pack: the tarball holds the modules, the declarations, the worker and the wasm', async () => {
    const out = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', work], root));
    const info = out[0];
    tarball = path.join(work, info.filename);
    const files = info.files.map((f) => f.path);
    console.log(`   ${info.filename}: ${(info.size / 2 ** 20).toFixed(1)} MiB packed, ${(info.unpackedSize / 2 ** 20).toFixed(1)} MiB unpacked, ${files.length} files`);
    for (const needed of ['package.json', 'dist/janus.js', 'dist/elements.js', 'dist/worker.js', 'dist/janus_web_bg.wasm', 'dist/types/index.d.ts', 'dist/types/elements/index.d.ts']) {
      check(files.includes(needed), `the tarball lacks ${needed}`);
    }
    check(!files.some((f) => f.startsWith('web/') || f.startsWith('crate/') || f.startsWith('tests/')), 'the tarball carries sources or tests');
    figures.tarball = { file: info.filename, packedBytes: info.size, unpackedBytes: info.unpackedSize, files: files.length };
  });

  await step('a strict TypeScript consumer compiles against the declarations', async () => {
    const dir = consumer('typescript', tarball);
    sh(path.join(NODE_BIN, 'tsc'), ['-p', dir], root);
  });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...WEBGPU_ARGS] });
  try {
    await step('plain HTML: <janus-chat> and <janus-image> from the installed files, one shared engine', async () => {
      const { server, url } = await serve(consumer('plain', tarball));
      try {
        const { page, seen } = await openPage(browser, url);
        await page.waitForFunction(() => document.querySelector('janus-chat')?.shadowRoot?.querySelector('[part~="status"]')?.textContent === 'Ready.', null, { timeout: 120_000 });
        await page.waitForFunction(() => document.querySelector('janus-image')?.shadowRoot?.querySelector('[part~="status"]')?.textContent === 'Ready.', null, { timeout: 30_000 });
        check(page.workers().length === 1, `two elements on one model should share one engine worker, found ${page.workers().length}`);
        const reply = page.evaluate(() => new Promise((resolve) => document.querySelector('janus-chat').addEventListener('message', (e) => e.detail.role === 'assistant' && resolve(e.detail))));
        await page.locator('janus-chat [part~="input"]').fill('Hello there');
        await page.locator('janus-chat [part~="input"]').press('Enter');
        const message = await reply;
        const text = (await page.locator('janus-chat [part~="assistant"]').innerText()).replace(/Copy$/, '').trim();
        console.log(`   reply: stop ${message.stop}, ${JSON.stringify(text.slice(0, 30))}`);
        check(text.length > 0 && message.stop === 'max_tokens', `the chat reply: ${JSON.stringify(message)}`);
        check(await page.locator('janus-chat [part~="user"]', { hasText: 'Hello there' }).isVisible(), 'the question is not shown');
        // Copy puts the reply's text on the clipboard.
        await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
        await page.locator('janus-chat [part~="copy"]').click();
        await page.waitForFunction(() => document.querySelector('janus-chat').shadowRoot.querySelector('[part~="copy"]').textContent === 'Copied', null, { timeout: 5_000 });
        const copied = await page.evaluate(() => navigator.clipboard.readText());
        check(copied === message.text, `Copy put ${JSON.stringify(copied)} on the clipboard, not the reply ${JSON.stringify(message.text)}`);
        // Regenerate writes the reply again in its place (greedy here: the same words), and sends
        // only Janus's new turn.
        const again = page.evaluate(() => new Promise((resolve) => document.querySelector('janus-chat').addEventListener('message', (e) => resolve(e.detail))));
        await page.locator('janus-chat [part~="regenerate"]').click();
        const regenerated = await again;
        const log = await page.evaluate(() => [...document.querySelector('janus-chat').shadowRoot.querySelectorAll('[part~="message"]')].map((m) => m.getAttribute('part')));
        console.log(`   regenerated: ${JSON.stringify({ role: regenerated.role, promptTokens: regenerated.promptTokens, stop: regenerated.stop })}; log ${JSON.stringify(log)}`);
        check(regenerated.role === 'assistant' && regenerated.text === message.text && regenerated.promptTokens === message.promptTokens, `the regenerated reply: ${JSON.stringify(regenerated)}, before ${JSON.stringify(message)}`);
        check(log.length === 2 && log[1] === 'message assistant', `after Regenerate the log is ${JSON.stringify(log)}`);
        check(await page.locator('janus-chat [part~="regenerate"]').isVisible(), 'Regenerate is not offered after the regenerated reply');

        // /imagine draws in the conversation, and the question after it carries the picture.
        const drawnEvent = page.evaluate(() => new Promise((resolve) => document.querySelector('janus-chat').addEventListener('message', (e) => {
          if (e.detail.role === 'assistant' && e.detail.draw === true) resolve({ type: e.detail.images[0]?.type, bytes: e.detail.images[0]?.size, seed: e.detail.seed });
        })));
        await page.locator('janus-chat [part~="input"]').fill('/imagine a red square');
        await page.locator('janus-chat [part~="input"]').press('Enter');
        await page.waitForFunction(() => /^Drawing: token \d+ of 576 \(\d+ s left\)$/.test(document.querySelector('janus-chat')?.shadowRoot?.querySelector('[part~="status"]')?.textContent ?? ''), null, { timeout: 120_000 });
        const drawnDetail = await drawnEvent;
        const drawing = await page.locator('janus-chat [part~="drawing"]').evaluate(async (img) => {
          await img.decode();
          return { alt: img.alt, width: img.naturalWidth };
        });
        console.log(`   drawn: ${JSON.stringify({ ...drawnDetail, ...drawing })}`);
        check(drawnDetail.type === 'image/png' && drawnDetail.bytes > 0 && Number.isInteger(drawnDetail.seed), `the drawing's message event: ${JSON.stringify(drawnDetail)}`);
        check(drawing.alt === 'Janus’s picture of “a red square”' && drawing.width > 0, `the drawing in the log: ${JSON.stringify(drawing)}`);
        check(await page.locator('janus-chat [part~="user"]', { hasText: 'a red square' }).isVisible(), 'the drawing\'s request is not shown');
        const [saved] = await Promise.all([page.waitForEvent('download'), page.locator('janus-chat [part~="download"]').click()]);
        check(saved.suggestedFilename() === `janus-${drawnDetail.seed}.png`, `the drawing downloads as ${saved.suggestedFilename()}`);
        const asked = page.evaluate(() => new Promise((resolve) => document.querySelector('janus-chat').addEventListener('message', (e) => e.detail.role === 'assistant' && resolve(e.detail))));
        await page.locator('janus-chat [part~="input"]').fill('What is in it?');
        await page.locator('janus-chat [part~="input"]').press('Enter');
        const after = await asked;
        console.log(`   the question after it: ${after.promptTokens} prompt tokens, stop ${after.stop}`);
        // The log shows its end: the last reply and its Copy button, not cut off under the fold.
        const below = await page.evaluate(() => {
          const log = document.querySelector('janus-chat').shadowRoot.querySelector('[part~="log"]');
          return log.scrollHeight - log.scrollTop - log.clientHeight;
        });
        check(below <= 1, `the log stops ${below} px short of its end after the reply`);
        check(after.promptTokens > 576, `the question after the drawing ran ${after.promptTokens} prompt tokens: the picture did not go with it`);

        const created = page.evaluate(() => new Promise((resolve) => document.querySelector('janus-image').addEventListener('image', (e) => resolve({ seed: e.detail.seed, count: e.detail.images.length, width: e.detail.width }))));
        await page.locator('janus-image [part~="create"]').click();
        await page.waitForSelector('janus-image [part~="preview"] canvas', { timeout: 300_000 });
        const image = await created;
        console.log(`   image: ${JSON.stringify(image)}`);
        check(image.seed === 3 && image.count === 1, `the image event: ${JSON.stringify(image)}`);
        check(await page.locator('janus-image [part~="image"]').isVisible(), 'the image is not shown');
        // The host page's ::part rule reached into the shadow tree.
        const shadow = await page.locator('janus-image [part~="image"]').evaluate((e) => getComputedStyle(e).boxShadow);
        check(shadow !== 'none', 'the page\'s ::part(image) style did not apply');
        const events = await page.evaluate(() => window.__events);
        console.log(`   events: ${JSON.stringify(events)}`);
        for (const key of ['janus-chat progress', 'janus-chat ready', 'janus-image ready', 'janus-image progress', 'janus-chat message', 'janus-image image']) {
          check((events[key] ?? 0) > 0, `no '${key}' event`);
        }
        check(events['janus-chat error'] === undefined && events['janus-image error'] === undefined, `error events: ${JSON.stringify(events)}`);
        check(events['janus-chat message'] === 7, `a message event for each question and reply, the regenerated reply, the drawing's request and picture: ${events['janus-chat message']}`);
        // The elements' default: 4-bit weights.
        const quantized = await page.evaluate(() => window.__quantized);
        check(quantized > 0, `the elements should load at 4 bits by default: ${quantized} quantised tensors`);
        await page.screenshot({ path: path.join(artifacts, 'package-plain.png'), fullPage: true });
        await checkClean(page, seen, url);
        await page.close();
      } finally {
        await server.close();
      }
    });

    await step("no WebGPU: <janus-chat> and <janus-image> say the browser cannot run Janus, send 'error' (no-webgpu), download nothing", async () => {
      // Chromium without the SwiftShader flags: navigator.gpu is there but offers no adapter.
      const plain = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS] });
      const { server, url } = await serve(path.join(work, 'plain'));
      try {
        const { page, seen } = await openPage(plain, url);
        // Not "Loading the model…" for ever: both elements end in an error state.
        await page.waitForFunction(
          () => ['janus-chat', 'janus-image'].every((tag) => document.querySelector(tag)?.shadowRoot?.querySelector('[part~="status"]')?.dataset.error !== undefined),
          null,
          { timeout: 60_000 },
        );
        for (const tag of ['janus-chat', 'janus-image']) {
          const status = await elementStatus(page, tag);
          console.log(`   ${tag}: ${JSON.stringify(status)}`);
          check(status.error === 'no-webgpu', `${tag}: the error state is ${status.error}, not no-webgpu`);
          check(status.visible && status.role === 'status', `${tag}: the status is not a visible live region: ${JSON.stringify(status)}`);
          check(/cannot run Janus/.test(status.text) && /Chrome, Edge or Safari/.test(status.text), `${tag}: the status does not say why and what to do: ${status.text}`);
          check(await page.locator(`${tag} [part~="progress"]`).isHidden(), `${tag}: the download progress is shown`);
        }
        check(await page.locator('janus-chat [part~="send"]').isDisabled(), 'Send is on without WebGPU');
        check(await page.locator('janus-image [part~="create"]').isDisabled(), 'Create is on without WebGPU');
        // Typing and Enter start nothing either.
        await page.locator('janus-chat [part~="input"]').fill('Hello?');
        await page.locator('janus-chat [part~="input"]').press('Enter');
        await page.waitForTimeout(500);
        const events = await page.evaluate(() => window.__events);
        const codes = await page.evaluate(() => window.__errorCodes);
        console.log(`   events: ${JSON.stringify(events)}; error codes: ${[...new Set(codes)].join(', ')}`);
        check((events['janus-chat error'] ?? 0) > 0 && (events['janus-image error'] ?? 0) > 0, `an element sent no 'error' event: ${JSON.stringify(events)}`);
        check(codes.every((c) => c.endsWith(' no-webgpu')), `error events with other codes: ${codes.join(', ')}`);
        for (const key of ['janus-chat ready', 'janus-image ready', 'janus-chat progress', 'janus-image progress', 'janus-chat message']) {
          check(events[key] === undefined, `'${key}' without WebGPU`);
        }
        check((await page.locator('janus-chat [part~="user"]').count()) === 0, 'a message was sent without WebGPU');
        const models = seen.urls.filter((u) => /\/models\/|\.safetensors(\?|$)/.test(u));
        check(models.length === 0, `model files were requested: ${models.join(', ')}`);
        // draw() called all the same: the turn fails, and no empty preview box is left in the log.
        const drawn = await page.evaluate(() => document.querySelector('janus-chat').draw('a red square').then(() => 'drawn', (e) => e.code ?? String(e)));
        const log = await page.evaluate(() => {
          const root = document.querySelector('janus-chat').shadowRoot;
          return { failed: root.querySelectorAll('[data-failed]').length, previews: root.querySelectorAll('[part~="log"] .preview').length };
        });
        console.log(`   draw() without WebGPU: ${drawn}; ${JSON.stringify(log)}`);
        check(drawn === 'no-webgpu' && log.failed === 1 && log.previews === 0, `draw() without WebGPU: ${drawn}, ${JSON.stringify(log)}`);
        await page.screenshot({ path: path.join(artifacts, 'package-no-webgpu.png'), fullPage: true });
        await checkClean(page, seen, url);
        figures.noWebGpu = { codes: [...new Set(codes)], events };
        await page.close();
      } finally {
        await server.close();
        await plain.close();
      }
    });

    await step('Vite: a page built with the API, worker and wasm emitted as assets', async () => {
      const dir = consumer('vite', tarball);
      const out = sh(path.join(NODE_BIN, 'vite'), ['build', '--logLevel', 'warn'], dir);
      if (out.trim() !== '') console.log(out.trim().replace(/^/gm, '   '));
      const assets = readdirSync(path.join(dir, 'dist/assets'));
      console.log(`   dist/assets: ${assets.map((a) => `${a} (${(statSync(path.join(dir, 'dist/assets', a)).size / 1024).toFixed(0)} KiB)`).join(', ')}`);
      check(assets.some((a) => /\.wasm$/.test(a)) && assets.some((a) => /^worker.*\.js$/.test(a)), `Vite did not emit the worker and the wasm: ${assets.join(', ')}`);
      const { server, url } = await serve(path.join(dir, 'dist'));
      try {
        const { page, seen } = await openPage(browser, url);
        await page.waitForFunction(() => document.body.dataset.done !== undefined || document.body.dataset.failed !== undefined, null, { timeout: 400_000 });
        const failed = await page.evaluate(() => document.body.dataset.failed);
        check(failed === undefined, `the Vite page failed: ${failed}`);
        const done = JSON.parse(await page.evaluate(() => document.body.dataset.done));
        console.log(`   ${JSON.stringify(done)} | ${await page.locator('#status').innerText()}`);
        check(done.tokens > 0 && done.seed === 3 && done.previews >= 1, `the Vite page's results: ${JSON.stringify(done)}`);
        await page.screenshot({ path: path.join(artifacts, 'package-vite.png'), fullPage: true });
        await checkClean(page, seen, url);
        await page.close();
      } finally {
        await server.close();
      }
    });

    await step('the elements in a cross-site iframe: load, chat; no request leaves the frame\'s origin', async () => {
      // The widget's origin lets itself be framed (frame-ancestors); everything else as above.
      const framable = CSP.replace("frame-ancestors 'none'", 'frame-ancestors http://localhost:*');
      check(framable !== CSP, 'the CSP has no frame-ancestors to relax');
      const { server, url } = await serve(path.join(work, 'plain'), framable);
      // The host page on another site (localhost vs 127.0.0.1): the frame's storage is
      // partitioned under the host's site, so the frame downloads and keeps its own copy.
      const hostDir = path.join(work, 'host');
      mkdirSync(hostDir, { recursive: true });
      writeFileSync(
        path.join(hostDir, 'index.html'),
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A host page</title></head>` +
          `<body><h1>Someone else's page</h1><iframe id="janus" title="Janus" src="${url}" width="900" height="700"></iframe></body></html>\n`,
      );
      const host = createServer({ root: hostDir, mounts: { '/': '.' }, index: 'index.html', headers: { 'Content-Security-Policy': `default-src 'none'; frame-src ${url}` } });
      const hostUrl = (await host.listen()).url.replace('127.0.0.1', 'localhost');
      try {
        const { page, seen } = await openPage(browser, hostUrl);
        const frame = await (await page.waitForSelector('iframe#janus')).contentFrame();
        await frame.waitForFunction(() => document.querySelector('janus-chat')?.shadowRoot?.querySelector('[part~="status"]')?.textContent === 'Ready.', null, { timeout: 120_000 });
        const reply = frame.evaluate(() => new Promise((resolve) => document.querySelector('janus-chat').addEventListener('message', (e) => e.detail.role === 'assistant' && resolve(e.detail))));
        await frame.locator('janus-chat [part~="input"]').fill('Hello from a frame');
        await frame.locator('janus-chat [part~="input"]').press('Enter');
        const message = await reply;
        console.log(`   reply in the frame: stop ${message.stop}`);
        check(message.stop === 'max_tokens', `the framed chat's reply: ${JSON.stringify(message)}`);
        const foreign = [...seen.origins].filter((o) => o !== new URL(url).origin && o !== new URL(hostUrl).origin && o !== 'null' && o !== 'data:');
        check(foreign.length === 0, `requests to a third origin: ${foreign.join(', ')}`);
        const csp = seen.errors.filter((e) => /Content Security Policy/i.test(e));
        check(csp.length === 0, `CSP errors: ${csp.join('; ')}`);
        figures.iframe = { host: new URL(hostUrl).origin, frame: new URL(url).origin, stop: message.stop };
        await page.close();
      } finally {
        await host.close();
        await server.close();
      }
    });

    await step("a CSP without 'wasm-unsafe-eval': create() fails with 'blocked', naming the directive to add", async () => {
      const strict = CSP.replace(" 'wasm-unsafe-eval'", '');
      check(strict !== CSP, 'the CSP has no wasm-unsafe-eval to remove');
      const { server, url } = await serve(path.join(work, 'vite', 'dist'), strict);
      try {
        const { page } = await openPage(browser, url);
        await page.waitForFunction(() => document.body.dataset.done !== undefined || document.body.dataset.failed !== undefined, null, { timeout: 120_000 });
        const failed = await page.evaluate(() => document.body.dataset.failed);
        console.log(`   ${failed}`);
        check(failed?.startsWith('blocked: ') && failed.includes("'wasm-unsafe-eval'"), `the page without 'wasm-unsafe-eval' should fail with a 'blocked' error naming it: ${failed}`);
        figures.cspWithoutWasm = failed;
        await page.close();
      } finally {
        await server.close();
      }
    });
  } finally {
    await browser.close();
    writeFileSync(path.join(artifacts, 'package-e2e.json'), `${JSON.stringify(figures, null, 2)}\n`);
  }
}

finish('package e2e', main);
