// The page (index.html + web/app) in headless Chromium, served by the dev server of `npm start`,
// walked through as a person would: a browser without WebGPU first (the page says so, and nothing
// downloads), then the first visit (what this computer can do, the models), a download with
// progress stopped and resumed, the tiny model loaded and loaded again from storage, a two-turn
// chat with a picture and a reply stopped midway, bad files attached (refused with the reason, the
// chat goes on), two images drawn with a progressive
// preview and one downloaded as PNG, then the server stopped: the page reloads from its service
// worker and chats offline; a crashed engine recovers; the cached model is deleted; the dark theme
// and a phone's width. Asserts on what is visible; screenshots of each state go to
// tests/artifacts/page-*.png.
//
//   node web/test/page-e2e.mjs       (scripts/test-web.sh runs it; needs web/dist built)

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { createDevServer } from '../dev-server.mjs';
import { audit, tabThrough } from './a11y.mjs';
import { check, finish, stepper } from './harness.mjs';
import { BASE_ARGS, CHROMIUM, WEBGPU_ARGS } from './chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'tests/artifacts');
const TINY = 'Tiny test model (random weights)';
const figures = { timingsMs: {}, screenshots: [] };

const step = stepper(figures.timingsMs);

async function shot(page, name) {
  const file = path.join(artifacts, `page-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  figures.screenshots.push(path.relative(root, file));
}

/** The visible text of an element (throws if it is not visible). */
/**
 * S1 at page level, in a browser of its own: Chromium applies a quota override only to a profile
 * on disk (the main test's context keeps its storage in memory). A quota far below the model,
 * while estimate() still reports plenty (S2): the write fails, the error box offers the model
 * without storing it, and that loads it streamed.
 */
async function storageFull(url) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'janus-page-quota-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: [...BASE_ARGS, ...WEBGPU_ARGS] });
  try {
    const page = await context.newPage();
    page.on('pageerror', (error) => console.log(`   [pageerror] ${error.message}`));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(url).origin, quotaSize: 256 * 1024 });
    await page.fill('#custom-url', `${url}models/tiny-test/`);
    await page.click('#custom-form button[type="submit"]');
    await page.waitForSelector('#error:not([hidden]), #status:has-text("is ready")', { timeout: 60_000 });
    const detail = await page.textContent('#error-detail');
    console.log(`   ${detail}`);
    check(await page.locator('#error-offer').isVisible(), `no offer: status ${await page.textContent('#status')}; error ${detail}`);
    check(/^quota: /.test(detail) && /the browser reports quota/.test(detail), `the quota error: ${detail}`);
    const offer = await page.textContent('#error-offer');
    await page.click('#error-offer');
    const ready = await waitText(page, '#status', /is ready/);
    console.log(`   [${offer}] -> ${ready}`);
    check(/not stored on this computer/.test(ready), `after the offer: ${ready}`);
    check(await page.locator('#error').isHidden(), 'the error box should close once the model is loaded');
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function visibleText(page, selector) {
  const locator = page.locator(selector);
  check(await locator.isVisible(), `${selector} is not visible`);
  return (await locator.innerText()).trim();
}

async function waitText(page, selector, pattern, timeout = 120_000) {
  await page.waitForFunction(
    ({ selector, source }) => {
      const element = document.querySelector(selector);
      // Visible (not hidden, laid out) and saying what is expected.
      return element !== null && element.checkVisibility() && new RegExp(source).test(element.textContent ?? '');
    },
    { selector, source: pattern.source },
    { timeout },
  );
  return visibleText(page, selector);
}

/** Reloads the page and loads the tiny model from storage (the chat shows once it is ready). */
async function reloadAndLoad(page) {
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await modelButton(page, `Load ${TINY}`).click();
  await waitText(page, '#status', /is ready/);
}

/**
 * Opens the chat's settings (closed after every page load) and asks for greedy replies of at
 * most `tokens` tokens: a random draw from the random-weight model can end at once (an empty
 * reply).
 */
async function greedyReplies(page, tokens) {
  await page.click('.settings summary');
  await page.fill('#max-tokens', String(tokens));
  await page.fill('#temperature', '0');
}

async function send(page, message) {
  await page.fill('#message', message);
  await page.click('#send');
}

function modelButton(page, name) {
  return page.locator(`#model-list button`, { hasText: name });
}

/** CRC-32 (PNG's), from node:zlib where it has it (Node 20.15+), else bit by bit. */
function crc32(bytes) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(bytes);
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A PNG chunk: length, type, data, and the CRC of type and data (a decoder checks it). */
function pngChunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG header claiming `width` × `height` 8-bit RGB pixels, and no pixel data. */
function pngHeader(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IEND', Buffer.alloc(0))]);
}

/**
 * The page in a browser that cannot run Janus: it says why and what to do, every way to load is
 * off, and a load forced past the buttons is refused with the typed error, before any download.
 */
async function checkUnavailable(browser, url, { name, initScript, says }) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  try {
    if (initScript !== undefined) await context.addInitScript(initScript);
    const page = await context.newPage();
    const errors = [];
    const models = [];
    page.on('pageerror', (error) => errors.push(error.message));
    context.on('request', (request) => {
      if (/\/models\/|\.safetensors(\?|$)/.test(request.url())) models.push(request.url());
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    const capability = await visibleText(page, '#capability');
    console.log(`   ${name}: ${capability.replace(/\n+/g, ' | ')}`);
    check(says.test(capability), `${name}: the page does not say why Janus cannot run: ${capability}`);
    check(/cannot run/.test(capability) && /no model can be downloaded/.test(capability), `${name}: ${capability}`);
    check((await page.getAttribute('#capability', 'data-ok')) === 'false', `${name}: the capability is not marked unavailable`);
    check(/None of these models can be downloaded here/.test(await visibleText(page, '#models-unavailable')), `${name}: no note above the models`);
    const buttons = await page.locator('#model-list button').evaluateAll((all) => all.map((b) => ({ text: b.textContent, disabled: b.disabled, describedBy: b.getAttribute('aria-describedby') })));
    check(buttons.length >= 4, `${name}: ${buttons.length} model buttons`);
    const on = buttons.filter((b) => !b.disabled || b.describedBy !== 'capability');
    check(on.length === 0, `${name}: model buttons that are on, or do not point to the reason: ${JSON.stringify(on)}`);
    check(await page.locator('#custom-load').isDisabled(), `${name}: the custom model's Load button is on`);
    // Past the disabled buttons (a script, an old form submit): refused with the typed error.
    await page.fill('#custom-url', `${url}models/tiny-test/`);
    await page.evaluate(() => document.getElementById('custom-form').requestSubmit());
    const error = await waitText(page, '#error-title', /This browser cannot run Janus/, 10_000);
    check(await page.locator('#download').isHidden(), `${name}: a download panel opened`);
    await page.waitForTimeout(500); // a request that was started would show by now
    check(models.length === 0, `${name}: model files were requested: ${models.join(', ')}`);
    check(errors.length === 0, `${name}: page errors: ${errors.join('; ')}`);
    console.log(`   forced load: ${error}`);
    await shot(page, `0-${name}`);
  } finally {
    await context.close();
  }
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const server = createDevServer();
  const { url } = await server.listen();
  console.log(`dev server ${url}; chromium ${CHROMIUM}`);

  await step('no WebGPU: the page says this browser cannot run Janus and what to do, every load is off, no model file is requested', async () => {
    // Without the SwiftShader flags Chromium has navigator.gpu but no adapter; a browser without
    // the API at all is that browser with navigator.gpu taken away.
    const plain = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS] });
    try {
      await checkUnavailable(plain, url, { name: 'no-adapter', says: /offers no graphics adapter[\s\S]*Turn on hardware acceleration/ });
      await checkUnavailable(plain, url, {
        name: 'no-webgpu',
        initScript: () => delete Navigator.prototype.gpu,
        says: /This browser has no WebGPU[\s\S]*Chrome or Edge 113 or later, or Safari 26/,
      });
    } finally {
      await plain.close();
    }
  });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...WEBGPU_ARGS] });
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.log(`   [pageerror] ${error.message}`));

    await step('first visit: what this computer can do, the models with sizes and GPU memory', async () => {
      await page.goto(url);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      const capability = await visibleText(page, '#capability');
      console.log(`   ${capability.replace(/\n+/g, ' | ')}`);
      check(/Janus will run on/.test(capability) && /no 16-bit float support/.test(capability), `capability: ${capability}`);
      const models = await visibleText(page, '#model-list');
      check(models.includes(TINY), `the tiny test model is not offered: ${models}`);
      for (const name of ['Janus 1.3B', 'Janus-Pro 1B', 'Janus-Pro 7B']) check(models.includes(name), `${name} is not offered`);
      // SwiftShader has no shader-f16: the f32 figures at 4 bits (the page's default) are shown.
      check(/Janus 1\.3B[\s\S]*Download ≈ 3\.90 GiB · GPU memory 2\.95 GB at 4 bits \(no shader-f16\) · kept as ≈ 1\.15 GiB/.test(models), `Janus 1.3B facts: ${models}`);
      check((await visibleText(page, '#storage-empty')) === 'No model is stored on this computer yet.', 'storage should be empty');
      const offline = await waitText(page, '#offline', /works offline/, 60_000);
      console.log(`   ${offline}`);
      await shot(page, '1-first-visit');
    });

    await step('a new build of the page: installed beside the running one, offered, switched to when asked', async () => {
      const swFile = path.join(root, 'web/dist/sw.js');
      const original = readFileSync(swFile, 'utf8');
      const version = original.match(/version: "([0-9a-f]+)"/)?.[1];
      check(version !== undefined, 'web/dist/sw.js states no shell version');
      const shells = () => page.evaluate(() => caches.keys().then((keys) => keys.filter((k) => k.startsWith('janus-shell-')).sort()));
      check(JSON.stringify(await shells()) === JSON.stringify([`janus-shell-${version}`]), `shell caches: ${await shells()}`);
      // A build whose shell differs is a different sw.js; the browser installs it and it waits.
      const switchTo = async (text, expected) => {
        writeFileSync(swFile, text);
        await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r?.update()));
        await waitText(page, '#update', /new version of this page has been installed/, 60_000);
        await Promise.all([page.waitForEvent('domcontentloaded', { timeout: 60_000 }), page.click('#update-apply')]);
        await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
        await page.waitForFunction((name) => caches.keys().then((keys) => keys.filter((k) => k.startsWith('janus-shell-')).join() === name), `janus-shell-${expected}`, { timeout: 30_000 });
        check(await page.locator('#update').isHidden(), 'the update offer stays after switching');
      };
      try {
        await switchTo(original.replace(`version: "${version}"`, `version: "${version}0"`), `${version}0`);
        console.log(`   switched to shell ${version}0; the old cache is gone`);
        await shot(page, '1b-updated');
      } finally {
        writeFileSync(swFile, original);
      }
      await switchTo(original, version); // and back to the build on disk
    });

    await step('a download shown with progress, stopped from the page, kept, resumed', async () => {
      const slow = `${url}fault/drip=250000/models/tiny-test/`;
      await page.fill('#custom-url', slow);
      await page.click('#custom-form button[type="submit"]');
      const progress = await waitText(page, '#progress-text', /Downloading .* of .* at .*\/s, .* left/);
      console.log(`   ${progress}`);
      check(await page.locator('#download').isVisible(), 'the download panel is not visible');
      await shot(page, '2-downloading');
      await page.click('#cancel');
      const stopped = await waitText(page, '#status', /Download stopped/);
      const stored = await waitText(page, '#storage-list', /partial/);
      console.log(`   ${stopped} | ${stored}`);
      await shot(page, '3-stopped');
      await page.fill('#custom-url', slow);
      await page.click('#custom-form button[type="submit"]');
      const ready = await waitText(page, '#status', /is ready/);
      console.log(`   ${ready}`);
      await shot(page, '4-ready');
      // Delete it again from the storage panel.
      await page.click('#storage-list button');
      await waitText(page, '#storage-empty', /No model is stored/);
    });

    await step('storage full (S1): the page offers the model without storing it, loads it streamed and says so', () => storageFull(url));

    await step('the tiny model from the list; after a reload it loads from storage', async () => {
      await modelButton(page, `Download and load ${TINY}`).click();
      const ready = await waitText(page, '#status', /is ready/);
      check(/Downloaded/.test(ready), `first load: ${ready}`);
      // Stored at 4 bits (the page's default): the pack, the download released.
      const stored = await waitText(page, '#storage-list', /^Tiny test model \(random weights\) \(4-bit\): /);
      check(!stored.includes('partial'), `storage: ${stored}`);
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      const facts = await visibleText(page, `#model-list li[data-model="tiny-test"] .facts`);
      check(/Stored on this computer/.test(facts), `after reload: ${facts}`);
      await modelButton(page, `Load ${TINY}`).click();
      const again = await waitText(page, '#status', /is ready/);
      console.log(`   ${again}`);
      check(/no download needed/.test(again), `second load: ${again}`);
      await shot(page, '5-loaded-from-storage');
    });

    await step('chat: a picture attached, a streamed reply, stop, regenerate, clear', async () => {
      check(await page.locator('#chat').isVisible(), 'the chat is not shown once a model is ready');
      await greedyReplies(page, 6);
      await page.fill('#message', 'What is in this picture?');
      await page.setInputFiles('#attach', path.join(root, 'tests/fixtures/images/photo.png'));
      // The page looks at a file's header before attaching it (a moment, asynchronously).
      await page.waitForSelector('#attachments img', { timeout: 10_000 });
      check((await page.locator('#attachments img').count()) === 1, 'the attached picture has no thumbnail');
      await page.click('#send');
      await page.waitForSelector('.turn.assistant:not([aria-busy])', { timeout: 300_000 });
      check(await page.locator('.turn.user img.thumbnail').isVisible(), 'the picture is not shown in the conversation');
      const first = await visibleText(page, '.turn.assistant .content');
      console.log(`   reply (random weights): ${JSON.stringify(first.slice(0, 80))}`);
      check(first.length > 0, 'the reply is empty');
      const stats = await visibleText(page, '.turn.assistant .stats');
      console.log(`   under the reply: ${stats}`);
      check(/^\d+ tokens?.* · first after [\d.]+ s · \d+ prompt tokens$/.test(stats), `the reply's figures: ${JSON.stringify(stats)}`);
      check((await page.locator('#attachments img').count()) === 0, 'the attachment was not cleared after sending');
      // Cut at its 6 tokens: Continue goes on from where it ended, in the same reply, from the
      // engine's kept cache.
      check(await page.locator('.turn.assistant[data-cut="true"]').isVisible(), 'a reply cut at its length is not marked');
      await page.click('#continue');
      const continued = await waitText(page, '.turn.assistant:not([aria-busy]) .stats', /^continued: /, 300_000);
      const longer = await visibleText(page, '.turn.assistant .content');
      console.log(`   ${continued}`);
      check((await page.locator('.turn').count()) === 2 && longer.length > first.length, `after Continue the reply is ${JSON.stringify(longer)}, it was ${JSON.stringify(first)}`);
      check(/^continued: \d+ tokens?.* · \d+ of \d+ prompt tokens run, the rest kept from before$/.test(continued), `the continued reply's figures: ${JSON.stringify(continued)}`);
      await shot(page, '6-chat');

      await page.fill('#max-tokens', '200');
      await send(page, 'Tell me more.');
      await page.waitForFunction(() => (document.querySelectorAll('.turn.assistant')[1]?.textContent ?? '').replace(/^Janus/, '').replace(/Copy$/, '').trim().length > 0, null, { timeout: 300_000 });
      check(await page.locator('#stop').isVisible(), 'no Stop button while replying');
      await page.click('#stop');
      await page.waitForSelector('.turn.assistant[data-stopped="true"]', { timeout: 60_000 });
      check(!(await page.locator('#stop').isVisible()), 'Stop is still shown after stopping');
      await shot(page, '7-chat-stopped');

      await page.fill('#max-tokens', '4');
      await page.click('#regenerate');
      await page.waitForSelector('.turn.assistant:nth-of-type(4):not([aria-busy])', { timeout: 300_000 });
      check((await page.locator('.turn.assistant').count()) === 2, 'regenerate should replace the last reply');
      check((await page.locator('.turn.assistant[data-stopped="true"]').count()) === 0, 'the stopped reply should be gone after regenerate');
      // The same prompt as the stopped reply's: all of it but its last token comes from the
      // engine's kept cache.
      const again = await visibleText(page, '.turn.assistant:nth-of-type(4) .stats');
      console.log(`   under the regenerated reply: ${again}`);
      check(/ · 1 of \d+ prompt tokens run, the rest kept from before$/.test(again), `the regenerated reply's figures: ${JSON.stringify(again)}`);

      // Kept on this device: after a reload the conversation is shown again as it was left, and
      // goes on from there. A new engine keeps nothing, so the page reads the conversation into
      // it as soon as it is shown (ChatView.warm): the first question runs only itself.
      // Regenerate kept 3 messages before its reply, and 4 after it.
      await waitText(page, '#keep-status', /^Kept on this device \(4 messages\)/, 10_000);
      const before = await page.locator('.turn').allInnerTexts();
      await reloadAndLoad(page);
      const note = await waitText(page, '#keep-status', /Your last conversation, kept on this device \(4 messages\)/, 10_000);
      const after = await page.locator('.turn').allInnerTexts();
      check(JSON.stringify(after) === JSON.stringify(before), `after a reload the conversation is ${JSON.stringify(after)}, it was ${JSON.stringify(before)}`);
      check(await page.locator('.turn.user img.thumbnail').isVisible(), 'the kept picture is not shown after the reload');
      await greedyReplies(page, 4);
      await send(page, 'And after the reload?');
      await page.waitForSelector('.turn.assistant:nth-of-type(6):not([aria-busy])', { timeout: 300_000 });
      const resumed = await visibleText(page, '.turn.assistant:nth-of-type(6) .stats');
      check((await page.locator('.turn.assistant[data-failed]').count()) === 0, 'the conversation did not go on after the reload');
      console.log(`   the first reply after the reload: ${resumed}`);
      const ranAfterReload = / · (\d+) of \d+ prompt tokens run, the rest kept from before$/.exec(resumed)?.[1];
      check(ranAfterReload !== undefined && Number(ranAfterReload) < 40, `the first reply after the reload ran the conversation again: ${JSON.stringify(resumed)}`);
      console.log(`   ${note} | then: ${resumed}`);
      // Read ahead only where the person lets it: turned off (and still off after a reload), the
      // conversation waits for the next question, which then runs all of it (Regenerate here,
      // which keeps the number of messages).
      await page.uncheck('#read-ahead');
      await reloadAndLoad(page);
      await greedyReplies(page, 4);
      check(!(await page.isChecked('#read-ahead')), 'the choice not to read ahead was forgotten by the reload');
      await page.click('#regenerate');
      await page.waitForSelector('.turn.assistant:nth-of-type(6):not([aria-busy]) .stats', { timeout: 300_000 });
      const unread = await visibleText(page, '.turn.assistant:nth-of-type(6) .stats');
      check(/ · \d+ prompt tokens$/.test(unread), `with reading ahead off, the first reply after a reload: ${JSON.stringify(unread)}`);
      console.log(`   reading ahead off, the first reply after a reload: ${unread}`);
      await page.check('#read-ahead');

      // Kept conversations: a new one, the first still listed; another tab opens the latest one
      // no tab shows and cannot open the one shown here; back to the first from the list, whose
      // cache the engine kept; a listed one deleted.
      check(await page.locator('#history').isVisible(), 'the list of kept conversations is not shown');
      await page.click('#history summary');
      await waitText(page, '#history-count', /^1$/, 10_000);
      const firstTitle = await visibleText(page, '#conversations li[aria-current="true"] .open');
      check(firstTitle === 'What is in this picture?', `the first conversation's title: ${JSON.stringify(firstTitle)}`);
      await page.click('#new-conversation');
      check((await page.locator('.turn').count()) === 0, 'a new conversation shows the messages of the one before');
      await send(page, 'A second conversation.');
      await page.waitForSelector('.turn.assistant:not([aria-busy])', { timeout: 300_000 });
      await waitText(page, '#history-count', /^2$/, 10_000);
      const tab = await page.context().newPage();
      await tab.goto(url);
      await tab.waitForSelector('body[data-ready="true"]');
      await modelButton(tab, `Load ${TINY}`).click();
      await waitText(tab, '#status', /is ready/);
      await tab.click('#history summary');
      const other = await tab.locator('.turn').allInnerTexts();
      check(other.length === 6 && other[0].includes('What is in this picture?'), `the second tab shows ${JSON.stringify(other)}`);
      const elsewhere = await visibleText(tab, '#conversations li:not([aria-current]) .facts');
      check(/2 messages · .* · open in another tab$/.test(elsewhere), `the second tab lists the first tab's conversation as ${JSON.stringify(elsewhere)}`);
      check(await tab.locator('#conversations li:not([aria-current]) .open').isDisabled(), "the second tab may open the first tab's conversation");
      // This tab is told it was taken, and lists it so without being asked ...
      const firstItem = page.locator('#conversations li', { hasText: 'What is in this picture?' });
      await firstItem.locator('.open[disabled]').waitFor({ timeout: 10_000 });
      // ... still after the second tab reloads (its old page lets it go, the new one takes it back) ...
      await reloadAndLoad(tab);
      // The conversation comes back once the old page's lock is let go (up to 3 s): waited for.
      await tab.waitForFunction(() => document.querySelectorAll('.turn').length === 6, null, { timeout: 10_000 }).catch(() => undefined);
      check((await tab.locator('.turn').count()) === 6, 'the second tab does not show the first conversation again after a reload');
      await firstItem.locator('.open[disabled]').waitFor({ timeout: 10_000 });
      check((await visibleText(page, '#conversations li:not([aria-current]) .facts')).endsWith('open in another tab'), 'the first tab lists the reloaded tab\'s conversation as free');
      await tab.close();
      // ... and free once that tab closed, which said nothing: its lock went.
      await firstItem.locator('.open:not([disabled])').waitFor({ timeout: 10_000 });
      check(!(await visibleText(page, '#conversations li:not([aria-current]) .facts')).includes('open in another tab'), 'the closed tab\'s conversation is still listed as open in another tab');
      await firstItem.locator('.open').click();
      await waitText(page, '#keep-status', /^“What is in this picture\?”, kept on this device \(6 messages\)/, 10_000);
      await send(page, 'Back to the first one.');
      await page.waitForSelector('.turn.assistant:nth-of-type(8):not([aria-busy])', { timeout: 300_000 });
      const back = await visibleText(page, '.turn.assistant:nth-of-type(8) .stats');
      check(/ · \d+ of \d+ prompt tokens run, the rest kept from before$/.test(back), `back in the first conversation: ${JSON.stringify(back)}`);
      // The last question taken back, changed and asked again: what came before it is kept.
      // Nothing goes until the changed question is sent; Cancel edit leaves all as it was, and a
      // draft in the message box comes back either way.
      await page.fill('#message', 'A draft.');
      const editButton = () => page.locator('.turn.user').last().getByRole('button', { name: /^Edit/ });
      await editButton().click();
      check((await page.locator('.turn').count()) === 8 && (await page.locator('.turn[data-replacing="true"]').count()) === 2, 'Edit should mark the question and its reply, and leave them until the edit is sent');
      check((await page.inputValue('#message')) === 'Back to the first one.', 'Edit did not put the question back in the composer');
      check(await page.locator('#editing').isVisible(), 'nothing says a question is being edited');
      await page.click('#cancel-edit');
      check((await page.inputValue('#message')) === 'A draft.' && (await page.locator('.turn[data-replacing]').count()) === 0 && (await page.locator('.turn').count()) === 8, 'Cancel edit did not put everything back');
      check(await page.locator('#editing').isHidden(), 'the editing note stays after Cancel edit');
      await editButton().click();
      await send(page, 'Back to the first one, edited.');
      await page.waitForSelector('.turn.assistant:nth-of-type(8):not([aria-busy])', { timeout: 300_000 });
      const edited = await visibleText(page, '.turn.assistant:nth-of-type(8) .stats');
      check((await page.locator('.turn').count()) === 8, `after the edit the conversation has ${await page.locator('.turn').count()} turns, not 8`);
      check((await page.locator('.turn.user').last().innerText()).includes('edited'), 'the edited question is not shown');
      check((await page.inputValue('#message')) === 'A draft.', 'the draft did not come back after the edit was sent');
      await page.fill('#message', '');
      check(/ · \d+ of \d+ prompt tokens run, the rest kept from before$/.test(edited), `the edited question's reply: ${JSON.stringify(edited)}`);
      // Saved as Markdown: every turn, the picture inside.
      const [saved] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
      const markdown = readFileSync(await saved.path(), 'utf8');
      check(saved.suggestedFilename() === 'janus-what-is-in-this-picture.md', `the Markdown file's name: ${saved.suggestedFilename()}`);
      check(markdown.startsWith('# What is in this picture?\n\n## You\n\n![picture 1](data:image/png;base64,'), `the Markdown begins ${JSON.stringify(markdown.slice(0, 120))}`);
      check((markdown.match(/^## (You|Janus)$/gm) ?? []).length === 8 && markdown.includes('\n\nBack to the first one, edited.\n\n'), 'the Markdown lacks turns');
      await page.locator('#conversations li', { hasText: 'A second conversation.' }).getByRole('button', { name: /^Delete/ }).click();
      await waitText(page, '#history-count', /^1$/, 10_000);
      console.log(`   two conversations kept; back in the first: ${back}; its question edited: ${edited}; saved as Markdown: ${markdown.length} bytes`);
      await shot(page, '7a-conversations');
      // Not kept when the person says so: nothing is stored, and the choice stays.
      await page.uncheck('#keep');
      await waitText(page, '#keep-status', /Not kept/, 10_000);
      await reloadAndLoad(page);
      check((await page.locator('.turn').count()) === 0, 'a conversation was shown after "keep" was unchecked');
      check(!(await page.isChecked('#keep')), 'the choice not to keep was forgotten by the reload');
      await page.check('#keep');
      await waitText(page, '#keep-status', /^Kept on this device \(0 messages\)/, 10_000);
      await send(page, 'Kept again?');
      await waitText(page, '#keep-status', /^Kept on this device \(2 messages\)/, 300_000);
      // Kept again, it is this tab's: no other tab opens it.
      const claims = await page.evaluate(async () => (await navigator.locks.query()).held.filter((lock) => lock.name.startsWith('janus-conversation:')).length);
      check(claims === 1, `this tab holds ${claims} conversations after keeping again`);
      await shot(page, '7a-chat-kept');
      await page.click('#clear');
      check((await page.locator('.turn').count()) === 0, 'clear left messages');
      await waitText(page, '#keep-status', /^Cleared/, 10_000);
      await reloadAndLoad(page);
      check((await page.locator('.turn').count()) === 0, 'a cleared conversation came back after a reload');

      // The one conversation version 1 of the database kept is listed after the upgrade.
      await page.evaluate(async () => {
        const request = (r) => new Promise((resolve, reject) => Object.assign(r, { onsuccess: () => resolve(r.result), onerror: () => reject(r.error) }));
        // The page's connection closes when asked to (its `blocking` handler).
        await request(indexedDB.deleteDatabase('janus-conversation'));
        const opening = indexedDB.open('janus-conversation', 1);
        opening.onupgradeneeded = () => opening.result.createObjectStore('conversation');
        const db = await request(opening);
        const turns = [{ role: 'user', content: 'Kept by version 1?', images: [] }, { role: 'assistant', content: 'Yes.', images: [], stats: '1 token' }];
        await request(db.transaction('conversation', 'readwrite').objectStore('conversation').put({ version: 1, savedAt: Date.now(), turns }, 'current'));
        db.close();
      });
      await reloadAndLoad(page);
      await page.click('#history summary');
      await waitText(page, '#history-count', /^1$/, 10_000);
      await page.locator('#conversations li', { hasText: 'Kept by version 1?' }).locator('.open').click();
      await waitText(page, '#keep-status', /kept on this device \(2 messages\)/, 10_000);
      check((await page.locator('.turn').allInnerTexts()).join('|').includes('Yes.'), 'the conversation of version 1 is not shown');
      await page.click('#clear');
      await waitText(page, '#history-count', /^0$/, 10_000);

      // Version 2's conversations are listed after the upgrade, newest first, from the summaries
      // it writes (version 2 had none: its list read every conversation whole).
      await page.evaluate(async () => {
        const request = (r) => new Promise((resolve, reject) => Object.assign(r, { onsuccess: () => resolve(r.result), onerror: () => reject(r.error) }));
        await request(indexedDB.deleteDatabase('janus-conversation'));
        const opening = indexedDB.open('janus-conversation', 2);
        opening.onupgradeneeded = () => opening.result.createObjectStore('conversations', { keyPath: 'id' }).createIndex('savedAt', 'savedAt');
        const db = await request(opening);
        const store = db.transaction('conversations', 'readwrite').objectStore('conversations');
        const record = (id, content, savedAt) => ({ version: 2, id, title: content, savedAt, turns: [{ role: 'user', content, images: [] }, { role: 'assistant', content: `Yes (${id}).`, images: [] }] });
        await request(store.put(record('older', 'Kept by version 2, first?', Date.now() - 60_000)));
        await request(store.put(record('newer', 'Kept by version 2, second?', Date.now())));
        db.close();
      });
      await reloadAndLoad(page);
      await page.click('#history summary');
      await waitText(page, '#history-count', /^2$/, 10_000);
      const listed = await page.locator('#conversations li .open').allInnerTexts();
      check(listed.join('|') === 'Kept by version 2, second?|Kept by version 2, first?', `version 2's conversations are listed as ${JSON.stringify(listed)}`);
      await page.locator('#conversations li', { hasText: 'first?' }).locator('.open').click();
      await waitText(page, '#keep-status', /kept on this device \(2 messages\)/, 10_000);
      check((await page.locator('.turn').allInnerTexts()).join('|').includes('Yes (older).'), 'the older conversation of version 2 is not shown');
      await page.click('#clear');
      await waitText(page, '#history-count', /^1$/, 10_000);
      await page.locator('#conversations li .delete').click();
      await waitText(page, '#history-count', /^0$/, 10_000);
    });

    await step('chat: bad files refused with the reason (text named photo.png, a 20000×20000 PNG, a PNG cut short); the chat goes on', async () => {
      const errors = [];
      const onError = (error) => errors.push(error.message);
      page.on('pageerror', onError);
      // Refused as they are attached: the header says enough (the settings of the step above stay:
      // temperature 0, 4 tokens).
      const atOnce = [
        [{ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from('Shopping: eggs, milk, bread.\n') }, /photo\.png was not attached: it is not a picture Janus can read/],
        [{ name: 'huge.png', mimeType: 'image/png', buffer: pngHeader(20_000, 20_000) }, /huge\.png was not attached: at 20000 × 20000 pixels the picture is too large/],
      ];
      for (const [file, says] of atOnce) {
        await page.setInputFiles('#attach', file);
        const text = await waitText(page, '#attach-problem', says, 10_000);
        console.log(`   ${text}`);
        check((await page.locator('#attachments img').count()) === 0, `${file.name} was attached anyway`);
      }
      // Cut short: its header is whole, so it is attached; the engine finds the damage as it decodes.
      const photo = readFileSync(path.join(root, 'tests/fixtures/images/photo.png'));
      await page.setInputFiles('#attach', { name: 'cut.png', mimeType: 'image/png', buffer: photo.subarray(0, photo.length >> 1) });
      await page.waitForSelector('#attachments img', { timeout: 10_000 });
      check(await page.locator('#attach-problem').isHidden(), 'the refusal of the file before stays after a good attach');
      await send(page, 'What is in this picture?');
      const refused = await waitText(page, '#attach-problem', /That picture could not be read\. The engine says: .*decod/, 120_000);
      console.log(`   ${refused.replace(/\n+/g, ' | ')}`);
      check(/left out of the conversation/.test(refused), `the refusal does not say what became of the message: ${refused}`);
      check(await page.locator('.turn.user[data-refused="true"]').isVisible(), 'the refused message is not marked');
      check((await page.locator('.turn.assistant').count()) === 0, 'a reply to the refused message is shown');
      check(await page.locator('#error').isHidden(), `an error besides the refusal: ${await page.locator('#error').innerText()}`);
      await shot(page, '7b-bad-pictures');

      await send(page, 'Hello again.');
      await page.waitForSelector('.turn.assistant:not([aria-busy])', { timeout: 300_000 });
      const reply = await visibleText(page, '.turn.assistant .content');
      console.log(`   then: reply ${JSON.stringify(reply.slice(0, 40))}`);
      check(reply.length > 0 && (await page.locator('.turn.assistant[data-failed]').count()) === 0, `the chat after the refusals: ${JSON.stringify(reply)}`);
      check(await page.locator('#attach-problem').isHidden(), 'the refusal stays after the next message');
      check(await page.locator('#error').isHidden(), `an error after the refusals (a crash?): ${await page.locator('#error').innerText()}`);
      page.off('pageerror', onError);
      check(errors.length === 0, `page errors: ${errors.join('; ')}`);
      await page.click('#clear');
    });

    await step('chat: /imagine draws a picture in the conversation; the next question carries it to Janus; Draw and Regenerate draw; kept after a reload; a newer page\'s database: this tab says to reload, and its Reload button does', async () => {
      // Short greedy replies; no seed (a drawing's is random).
      if (!(await page.locator('#max-tokens').isVisible())) await page.click('.settings summary');
      await page.fill('#max-tokens', '4');
      await page.fill('#temperature', '0');
      // A question first: its cache outlives the drawing (the job's own caches fit beside it).
      await send(page, 'Hello, Janus.');
      await page.waitForFunction(() => document.querySelectorAll('.turn.assistant:not([data-draw]) .stats').length === 1, null, { timeout: 300_000 });
      await send(page, '/imagine A red cat on a blue house at night.');
      check((await page.locator('.turn.user[data-draw="true"] .content').innerText()) === 'A red cat on a blue house at night.', 'the request shows the prompt without /imagine');
      await waitText(page, '.turn.assistant[data-draw="true"] .content', /^Drawing: token \d+ of 576 \(\d+ s left\)$/, 120_000);
      await page.waitForSelector('.turn.assistant[data-draw="true"]:not([aria-busy]) img', { timeout: 900_000 });
      const drawn = await page.evaluate(async () => {
        const img = document.querySelector('.turn.assistant[data-draw="true"] img');
        await img.decode();
        return { alt: img.alt, size: `${img.naturalWidth}x${img.naturalHeight}`, stats: document.querySelector('.turn.assistant[data-draw="true"] .stats')?.textContent ?? '' };
      });
      console.log(`   drawn: ${JSON.stringify(drawn)}`);
      check(drawn.alt === 'Janus\'s picture of “A red cat on a blue house at night.”' && drawn.size !== '0x0', `the drawing: ${JSON.stringify(drawn)}`);
      const seed = /^seed (\d+) · guidance 5 · temperature 1 · 576 image tokens in [\d.]+ s$/.exec(drawn.stats)?.[1];
      check(seed !== undefined, `the drawing's figures: ${drawn.stats}`);

      // Asked about, the drawing goes with the question: its 576 image tokens are in the prompt,
      // and what came before the drawing is not run again.
      await send(page, 'What colour is the cat?');
      await page.waitForFunction(() => document.querySelectorAll('.turn.assistant:not([data-draw]) .stats').length === 2, null, { timeout: 300_000 });
      const asked = await page.locator('.turn.assistant:not([data-draw]) .stats').nth(1).innerText();
      console.log(`   the question after it: ${asked}`);
      const [, ran, promptTokens] = (/(\d+) of (\d+) prompt tokens run, the rest kept from before/.exec(asked) ?? []).map(Number);
      check(promptTokens > 576, `the question after the drawing: ${asked}: the picture did not go with it`);
      check(ran >= 576 && promptTokens - ran > 10, `the question after the drawing: ${asked}: the conversation before the drawing was run again`);
      check((await page.locator('.turn.assistant[data-failed]').count()) === 0, 'the question about the drawing failed');

      // Draw (the button) draws the message, with the Create section's guidance and temperature;
      // Regenerate draws the last drawing again.
      await page.fill('#cfg', '3');
      await page.fill('#imagine-temperature', '0.5');
      await page.fill('#message', 'A blue dog.');
      await page.click('#draw');
      await page.waitForFunction(() => document.querySelectorAll('.turn.assistant[data-draw="true"]:not([aria-busy]) img').length === 2, null, { timeout: 900_000 });
      const firstSeed = await page.locator('.turn.assistant[data-draw="true"] .stats').nth(1).innerText();
      console.log(`   drawn with the Create section's settings: ${firstSeed}`);
      check(/ · guidance 3 · temperature 0\.5 · /.test(firstSeed), `the drawing's settings: ${firstSeed}`);
      await page.fill('#cfg', '5');
      await page.fill('#imagine-temperature', '1');
      await page.click('#regenerate');
      await page.waitForFunction((before) => {
        const drawings = document.querySelectorAll('.turn.assistant[data-draw="true"]');
        const last = drawings[drawings.length - 1];
        return drawings.length === 2 && !last.hasAttribute('aria-busy') && last.querySelector('img') !== null && last.querySelector('.stats')?.textContent !== before;
      }, firstSeed, { timeout: 900_000 });
      check((await page.locator('.turn').count()) === 8, `after Regenerate the conversation has ${await page.locator('.turn').count()} turns, not 8`);

      // Kept: a reload shows the drawings, with their pictures.
      await waitText(page, '#keep-status', /^Kept on this device \(8 messages\)/, 10_000);
      await reloadAndLoad(page);
      await page.waitForFunction(() => document.querySelectorAll('.turn.assistant[data-draw="true"] img').length === 2, null, { timeout: 10_000 });
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('.turn.assistant[data-draw="true"]').first().getByText('Download PNG').click()]);
      check(download.suggestedFilename() === `janus-${seed}.png`, `the drawing downloads as ${download.suggestedFilename()}`);
      await shot(page, '7c-chat-drawn');

      // Another tab runs a newer page, whose database is a version ahead of this page's: this
      // tab lets it upgrade, and then says why it keeps nothing, and what to do.
      await page.evaluate(() => new Promise((resolve, reject) => {
        const opening = indexedDB.open('janus-conversation', 1000);
        opening.onsuccess = () => resolve(opening.result.close());
        opening.onerror = () => reject(opening.error);
      }));
      await send(page, 'Still kept?');
      const outdated = await waitText(page, '#keep-status', /^A newer version of this page/, 10_000);
      console.log(`   after a newer page's upgrade: ${outdated}`);
      check(outdated.includes('reload this tab'), `after a newer page's upgrade: ${outdated}`);
      await page.waitForSelector('.turn.assistant:last-child:not([aria-busy])', { timeout: 300_000 });
      // Its Reload button runs the page again (here with the newer database gone: a fresh one).
      await page.evaluate(() => new Promise((resolve) => {
        const deleting = indexedDB.deleteDatabase('janus-conversation');
        deleting.onsuccess = deleting.onerror = resolve;
      }));
      await Promise.all([page.waitForEvent('load'), page.locator('#keep-status').getByRole('button', { name: 'Reload this tab' }).click()]);
      await page.waitForSelector('body[data-ready="true"]');
      await modelButton(page, `Load ${TINY}`).click();
      await waitText(page, '#status', /is ready/);
      const fresh = await waitText(page, '#keep-status', /^Kept on this device/, 10_000);
      check((await page.locator('.turn').count()) === 0, `after Reload: ${await page.locator('.turn').count()} turns shown, ${fresh}`);
    });

    await step('images: two from one prompt with progress, download one as PNG, reuse its settings, kept after a reload, shown in a second tab, one deleted there, draw it again from its settings, stop one', async () => {
      check(await page.locator('#imagine').isVisible(), 'the image section is not shown once a model is ready');
      await page.fill('#prompt', 'A red cat on a blue house at night.');
      await page.fill('#imagine-count', '2');
      await page.fill('#imagine-seed', '7');
      await page.click('#imagine-go');
      const drawing = await waitText(page, '#imagine-progress', /Drawing: token \d+ of 576/);
      console.log(`   ${drawing}`);
      // The progressive preview: one canvas per image, the rows drawn so far at the top (opaque)
      // and the rest still empty (transparent, the placeholder pattern shows).
      await page.waitForSelector('#imagine-preview canvas[data-rows]', { timeout: 300_000 });
      const preview = await page.evaluate(() =>
        [...document.querySelectorAll('#imagine-preview canvas')].map((canvas) => {
          const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
          const rows = Number(canvas.dataset.rows);
          const alpha = (y) => data[(y * canvas.width + Math.floor(canvas.width / 2)) * 4 + 3];
          return { size: canvas.width, rows, top: alpha(0), drawn: alpha(rows - 1), below: alpha(Math.min(canvas.height - 1, rows)), visible: canvas.checkVisibility() };
        }),
      );
      console.log(`   preview: ${JSON.stringify(preview)}`);
      check(preview.length === 2 && preview.every((p) => p.visible && p.rows > 0 && p.rows < p.size), `preview canvases: ${JSON.stringify(preview)}`);
      check(preview.every((p) => p.top === 255 && p.drawn === 255 && p.below === 0), `the preview should show the rows drawn so far: ${JSON.stringify(preview)}`);
      await shot(page, '8-drawing');
      await page.waitForFunction(() => document.querySelectorAll('#gallery figure').length === 2, null, { timeout: 900_000 });
      const done = await visibleText(page, '#imagine-progress');
      console.log(`   ${done}`);
      check(/2 images in \d+ s \(seed 7\)/.test(done), `after generating: ${done}`);
      await shot(page, '9-images');
      const gallery = await audit(page);
      check(gallery.pictures >= 2 && gallery.noAlt.length === 0, `gallery pictures without a text alternative: ${gallery.noAlt.join('; ')}`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#gallery figure').first().getByText('Download PNG').click()]);
      const file = path.join(artifacts, `page-${download.suggestedFilename()}`);
      await download.saveAs(file);
      const bytes = readFileSync(file);
      check(/^janus-7-\d\.png$/.test(download.suggestedFilename()), `download name ${download.suggestedFilename()}`);
      check(bytes.subarray(1, 4).toString() === 'PNG' && bytes.length > 1000, `the download is not a PNG (${bytes.length} bytes)`);
      // Reuse settings fills in what drew the batch: Create would draw it again.
      for (const [id, value] of [['#prompt', ''], ['#imagine-seed', ''], ['#imagine-count', '1']]) await page.fill(id, value);
      await page.locator('#gallery figure').first().getByText('Reuse settings').click();
      const reused = await Promise.all(['#prompt', '#imagine-seed', '#imagine-count'].map((id) => page.inputValue(id)));
      check(reused.join('|') === 'A red cat on a blue house at night.|7|2', `reuse settings filled in ${JSON.stringify(reused)}`);

      // Ask about it: the picture goes to the conversation, attached to the next question.
      await page.locator('#gallery figure').first().getByText('Ask about it').click();
      await page.waitForFunction(() => document.querySelectorAll('#attachments li img').length === 1, null, { timeout: 10_000 });
      check(await page.evaluate(() => document.activeElement?.id === 'message'), 'the message box is not focused for the question');
      if (!(await page.locator('#max-tokens').isVisible())) await page.click('.settings summary');
      await page.fill('#max-tokens', '4');
      await send(page, 'What did you draw?');
      await page.waitForFunction(() => document.querySelectorAll('.turn.assistant:not([aria-busy]) .stats').length === 1, null, { timeout: 300_000 });
      const about = await visibleText(page, '.turn.assistant .stats');
      console.log(`   asked about it: ${about}`);
      check((await page.locator('.turn.user img').count()) === 1, 'the question does not show the picture it asks about');
      check(Number(/(\d+) prompt tokens/.exec(about)?.[1]) > 576, `asked about it: ${about}: the picture did not go with the question`);
      await page.click('#clear');

      // Kept: a reload shows them again, in their order; one deleted stays deleted.
      const keptLine = await waitText(page, '#keep-images-status', /^Kept on this device \(2 images, [\d.]+ (?:B|KiB|MiB)\)/, 10_000);
      const pngBytes = await page.evaluate(() => Promise.all([...document.querySelectorAll('#gallery img')].map((img) => fetch(img.src).then((r) => r.blob()).then((b) => b.size))));
      console.log(`   ${keptLine} (the PNGs: ${pngBytes.join(' + ')} bytes)`);
      const [size, unit] = /, ([\d.]+) (B|KiB|MiB)\)/.exec(keptLine).slice(1);
      const said = Number(size) * { B: 1, KiB: 1024, MiB: 1024 ** 2 }[unit];
      const total = pngBytes[0] + pngBytes[1];
      check(Math.abs(said - total) <= total * 0.01, `the kept images' size: ${keptLine}, their PNGs ${pngBytes.join(' + ')} bytes`);
      await reloadAndLoad(page);
      await page.waitForFunction(() => document.querySelectorAll('#gallery figure img').length === 2, null, { timeout: 10_000 });
      const captions = await page.locator('#gallery figcaption').allInnerTexts();
      check(captions.join('|') === 'A red cat on a blue house at night. · seed 7 · #1 of 2 · guidance 5 · temperature 1|A red cat on a blue house at night. · seed 7 · #2 of 2 · guidance 5 · temperature 1', `kept images' captions after a reload: ${JSON.stringify(captions)}`);
      const drawn = await page.evaluate(() => Promise.all([...document.querySelectorAll('#gallery img')].map((img) => img.decode().then(() => `${img.naturalWidth}x${img.naturalHeight}`))));
      check(drawn.length === 2 && drawn.every((size) => size === drawn[0] && size !== '0x0'), `kept images decode as ${JSON.stringify(drawn)}`);
      // A second tab shows them too; one deleted there leaves this tab's gallery (it is told).
      const tab = await page.context().newPage();
      await tab.goto(url);
      await tab.waitForSelector('body[data-ready="true"]');
      await modelButton(tab, `Load ${TINY}`).click();
      await waitText(tab, '#status', /is ready/);
      await tab.waitForFunction(() => document.querySelectorAll('#gallery figure img').length === 2, null, { timeout: 10_000 });
      await tab.locator('#gallery figure').nth(1).getByText('Delete').click();
      await page.waitForFunction(() => document.querySelectorAll('#gallery figure').length === 1, null, { timeout: 10_000 });
      await tab.close();
      await reloadAndLoad(page);
      await page.waitForFunction(() => document.querySelectorAll('#gallery figure').length === 1, null, { timeout: 10_000 });
      check((await page.locator('#gallery figcaption').innerText()).includes('#1 of 2'), 'the image left after a delete is not the first one');
      // Its settings reused, Create draws the same batch again: the same PNG, byte for byte.
      await page.locator('#gallery figure').first().getByText('Reuse settings').click();
      await page.click('#imagine-go');
      await page.waitForFunction(() => document.querySelectorAll('#gallery figure').length === 3, null, { timeout: 900_000 });
      const same = await page.evaluate(async () => {
        const bytes = async (img) => new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        const [again, , kept] = await Promise.all([...document.querySelectorAll('#gallery img')].map(bytes));
        return again.length > 0 && again.length === kept.length && again.every((b, i) => b === kept[i]);
      });
      check(same, 'the batch drawn again from its settings is not the kept one');
      // Not kept: what is shown stays, nothing is stored.
      await page.uncheck('#keep-images');
      await waitText(page, '#keep-images-status', /^Not kept/, 10_000);
      check((await page.locator('#gallery figure').count()) === 3, 'the gallery emptied when keeping stopped');
      await reloadAndLoad(page);
      check((await page.locator('#gallery figure').count()) === 0, 'an image came back after a reload with keeping off');
      await page.check('#keep-images');
      await waitText(page, '#keep-images-status', /^Images are kept on this device/, 10_000);

      await page.fill('#prompt', 'A red cat on a blue house at night.');
      await page.fill('#imagine-count', '1');
      await page.click('#imagine-go');
      await waitText(page, '#imagine-progress', /Drawing: token (1\d|[2-9]\d)\d* of 576/);
      await page.click('#imagine-stop');
      const stopped = await waitText(page, '#imagine-progress', /Stopped after/);
      console.log(`   ${stopped}`);
      check((await page.locator('#gallery figure').count()) === 0, 'a stopped generation added an image');
      check((await page.locator('#imagine-preview canvas').count()) === 0, 'the preview stays after the generation ended');
    });

    await step('offline: the server stopped, the page reloads from its service worker, loads the model from storage and chats', async () => {
      await server.close();
      check(await page.evaluate(() => fetch('/__models').then(() => false, () => true)), 'the server still answers');
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      const failed = [];
      page.on('requestfailed', (request) => failed.push(request.url()));
      await waitText(page, '#offline', /works offline/, 30_000);
      const facts = await visibleText(page, `#model-list li[data-model="tiny-test"] .facts`);
      check(/Stored on this computer/.test(facts), `offline, the tiny model: ${facts}`);
      await modelButton(page, `Load ${TINY}`).click();
      const ready = await waitText(page, '#status', /is ready/);
      check(/no download needed/.test(ready), `offline load: ${ready}`);
      await greedyReplies(page, 4);
      await send(page, 'Are you offline?');
      await page.waitForSelector('.turn.assistant:not([aria-busy])', { timeout: 300_000 });
      const reply = await visibleText(page, '.turn.assistant .content');
      check(reply.length > 0 && (await page.locator('.turn.assistant[data-failed]').count()) === 0, `offline chat: ${reply}`);
      check(failed.length === 0, `requests failed offline after the page started: ${failed.join(', ')}`);
      console.log(`   ${ready} | reply ${JSON.stringify(reply.slice(0, 40))}`);
      await shot(page, '10-offline');
    });

    await step('the engine crashes: the page says so, restarts it, loads the model again and reads the conversation ahead; a long prompt says it is read, and Stop ends it before the first token', async () => {
      // An engine binding at most 160 KiB, as a modest device: the long message below runs in
      // passes (the tiny model's largest unsplittable tensor is 144 KiB).
      await page.goto(`${url}?debug&maxBindingBytes=163840`);
      await page.waitForSelector('body[data-ready="true"]');
      await modelButton(page, `Load ${TINY}`).click();
      await waitText(page, '#status', /is ready/);
      await page.evaluate(() => window.janusPage.client._debugTrap().catch(() => undefined));
      const error = await waitText(page, '#error-title', /The engine crashed/);
      const status = await waitText(page, '#status', /restarted and .* is loaded again/, 120_000);
      console.log(`   ${error} | ${status}`);
      check(await page.locator('#error').isHidden(), 'the error stays shown after the engine recovered');
      await shot(page, '11-recovered');
      await greedyReplies(page, 3);
      // The conversation of the offline step is shown again (kept): the new reply is the next.
      // The restarted engine has read it ahead (ChatView.warm), so the question runs only itself.
      await page.evaluate(() => window.janusPage.chat.warming);
      const replies = await page.locator('.turn.assistant').count();
      await send(page, 'Still there?');
      await page.waitForFunction((n) => document.querySelectorAll('.turn.assistant').length === n + 1 && document.querySelector('.turn.assistant:last-child:not([aria-busy])') !== null, replies, { timeout: 300_000 });
      check((await page.locator('.turn.assistant[data-failed]').count()) === 0, 'the chat after the restart failed');
      const still = await visibleText(page, '.turn.assistant:last-child .stats');
      console.log(`   after the restart: ${still}`);
      const [, ranStill, ofStill] = /· (\d+) of (\d+) prompt tokens run, the rest kept from before$/.exec(still) ?? [];
      check(ranStill !== undefined && Number(ranStill) < 40, `the question after the restart ran the whole conversation: ${JSON.stringify(still)}`);
      // The conversation so far: its last prompt and the reply's 3 tokens, kept by the engine.
      const before = Number(ofStill) + 3;

      // About 460 tokens: passes of about 15 rows each, seconds of reading on SwiftShader.
      await send(page, 'Tell me more. '.repeat(50).trim());
      const reading = await waitText(page, '.turn.assistant:last-child .reading', /^Reading the conversation: [\d,]+ of [\d,]+ tokens/, 120_000);
      console.log(`   ${reading}`);
      await shot(page, '11-reading');
      await page.click('#stop');
      await page.waitForSelector('.turn.assistant:last-child[data-stopped="true"]:not([aria-busy])', { timeout: 60_000 });
      const stopped = page.locator('.turn.assistant:last-child');
      check((await stopped.locator('.content').textContent()) === '', 'a reply stopped while the prompt was read has text');
      check((await stopped.locator('.reading').count()) === 0, 'the reading line stays after the stop');
      // Asked again, the prompt goes on from what was read.
      await page.click('#regenerate');
      await page.waitForSelector('.turn.assistant:last-child:not([aria-busy]) .stats', { timeout: 300_000 });
      const again = await visibleText(page, '.turn.assistant:last-child .stats');
      console.log(`   regenerated: ${again}`);
      const [, ran, of] = /· (\d+) of (\d+) prompt tokens run, the rest kept from before$/.exec(again) ?? [];
      check(ran !== undefined && Number(of) - Number(ran) > before, `the regenerated reply did not go on from what was read (${before} positions kept before the message): ${JSON.stringify(again)}`);
    });

    await step('accessibility: names, text alternatives, contrast, the keyboard with a visible focus', async () => {
      const light = await audit(page);
      console.log(`   light: ${light.controls} controls, ${light.texts} texts, ${light.pictures} pictures checked`);
      check(light.unnamed.length === 0, `controls without a name: ${light.unnamed.join('; ')}`);
      check(light.noAlt.length === 0, `pictures without a text alternative: ${light.noAlt.join('; ')}`);
      check(light.lowContrast.length === 0, `text below WCAG AA contrast (light): ${light.lowContrast.join('; ')}`);
      const { reached, noRing } = await tabThrough(page, 60);
      console.log(`   Tab reaches ${reached.length} stops: ${reached.slice(0, 12).join(', ')}, …`);
      check(reached[0] === 'a "Skip to the models"', `the first Tab stop should be the skip link, not ${reached[0]}`);
      for (const id of ['theme', 'message', 'attach', 'send', 'prompt', 'imagine-go', 'custom-url']) check(reached.includes(id), `Tab never reaches #${id}`);
      check(noRing.length === 0, `focused without a visible ring: ${noRing.join(', ')}`);
      // Enter in the message box sends (Shift+Enter is a new line).
      const turns = await page.locator('.turn').count();
      await page.focus('#message');
      await page.keyboard.type('Hi');
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('there');
      check((await page.inputValue('#message')) === 'Hi\nthere', 'Shift+Enter should add a line');
      await page.keyboard.press('Enter');
      await page.waitForFunction((n) => document.querySelectorAll('.turn').length >= n + 2 && document.querySelector('.turn.assistant:last-child:not([aria-busy])') !== null, turns, { timeout: 300_000 });
    });

    await step('dark theme, and a phone-width screen without sideways scrolling', async () => {
      await page.click('#theme');
      check((await page.getAttribute('html', 'data-theme')) === 'dark', 'the theme button did not switch to dark');
      check((await page.getAttribute('#theme', 'aria-pressed')) === 'true', 'the theme button does not say it is pressed');
      const dark = await audit(page);
      check(dark.lowContrast.length === 0, `text below WCAG AA contrast (dark): ${dark.lowContrast.join('; ')}`);
      await shot(page, '12-dark');
      await page.setViewportSize({ width: 360, height: 740 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      check(overflow <= 0, `the page scrolls sideways by ${overflow}px at 360px`);
      await shot(page, '13-phone');
    });

    await step('the stored model deleted from the storage panel', async () => {
      await page.setViewportSize({ width: 1000, height: 800 });
      await page.locator('#storage-list button', { hasText: 'Delete' }).first().click();
      await waitText(page, '#storage-empty', /No model is stored/);
      const facts = await visibleText(page, `#model-list li[data-model="tiny-test"] .facts`);
      check(!/Stored/.test(facts), `after delete: ${facts}`);
      check(await modelButton(page, `Download and load ${TINY}`).isVisible(), 'after delete the tiny model should offer a download');
      await shot(page, '14-deleted');
    });
  } finally {
    await browser.close();
    await server.close();
    writeFileSync(path.join(artifacts, 'page-e2e.json'), `${JSON.stringify(figures, null, 2)}\n`);
  }
}

finish('page e2e', main, '; screenshots in tests/artifacts/page-*.png');
