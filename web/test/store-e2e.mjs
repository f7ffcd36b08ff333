// Browser tests of the weight store: headless Chromium (real IndexedDB, fetch, Web Locks, quota)
// against the fault-injecting server (web/test/server.mjs).
//
//   node web/test/store-e2e.mjs        (scripts/test-web.sh runs it; needs web/dist built)
//
// 1. every fault mode of the server, each into IndexedDB, with the outcome and the store's state;
// 2. a reload in the middle of a download resumes without re-fetching a verified chunk;
// 3. a deleted chunk is fetched alone; a deleted database is noticed and refilled;
// 4. two pages loading one model at once download it once;
// 5. quota: a quota hit while writing keeps the verified chunks and resumes once there is room
//    (CDP quota override), and a real full disk (a profile on a small tmpfs; root only) leaves a
//    store that still works;
// 6. the engine loads a cached model and chats; a damaged stored chunk is found while loading and
//    fetched again; with the weights server stopped, after a reload, it loads and chats again;
// 7. a pack (janus pack) is verified file by file against its manifest and chats as its source;
// 8. a q4 engine stores the pack it writes while loading, releases the bf16 download, and loads
//    the pack next time (offline, and from an engine without quant too).
//
// Env: CHROMIUM (default /usr/bin/chromium). Figures: tests/artifacts/store-e2e.json.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, WEBGPU_ARGS } from './chromium.mjs';
import { check, finish, stepper } from './harness.mjs';
import { DEFAULT_MOUNTS, createServer } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'tests/artifacts');
const MIB = 1024 * 1024;
const CHUNK = 64 * 1024;
const FAST = { attempts: 4, baseMs: 5, maxMs: 20 };

const SHARD = 'model-00001-of-00002.safetensors';
const SHARD_BYTES = readFileSync(path.join(root, 'tests/fixtures/models/tiny-a-hf', SHARD));
const SHARD_SHA = sha256(SHARD_BYTES);
const SINGLE = path.join(root, 'tests/fixtures/models/tiny-b-hf/model.safetensors');
const SINGLE_BYTES = readFileSync(SINGLE);
/** tiny-a with 12 wide layers (~75 MiB of random bf16), written by scripts/test-web.sh. */
const BIG = 'artifact-models/tiny-a-wide/';
const golden = JSON.parse(readFileSync(path.join(root, 'tests/fixtures/goldens/tiny-a.json'), 'utf8'));

const figures = { timingsMs: {} };

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

const step = stepper(figures.timingsMs);

async function openStorePage(context, base) {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`   [pageerror] ${error.message}`));
  await page.goto(`${base}pages/store.html`);
  await page.waitForFunction(() => window.storeReady === true, null, { timeout: 30_000 });
  return page;
}

/** A browser (WebGPU on SwiftShader unless `args` say otherwise) on the client test page. */
async function openClientPage(appBase, args = [...BASE_ARGS, ...WEBGPU_ARGS]) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.log(`   [pageerror] ${error.message}`));
    await page.goto(`${appBase}pages/client.html`);
    await page.waitForFunction(() => window.janusReady === true, null, { timeout: 30_000 });
    return { browser, page };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** Bytes the server sent for a URL path (after settling: 'close' is counted a tick late). */
async function served(server, urlPath) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  return server.stats().paths[urlPath] ?? { requests: 0, bytes: 0, rangeRequests: 0, statuses: {} };
}

// ---- 1. fault modes ---------------------------------------------------------------------------

/**
 * One case per fault mode: `pre` drops a first download a little after a chunk boundary, so the
 * mode meets a resumed request (`resumed`: from what `pre` kept; `kept: 'pre'`: a refusal keeps
 * exactly that); `expect` is 'ok' or an error code. Cuts come with a 2 MB/s drip:
 * Chromium discards the part of a body it had not handed to the page yet when the connection
 * fails, so an instant cut would leave nothing to resume from (also a real network's behaviour).
 */
function faultCases() {
  const drop = (k, i) => `drip=2000000,drop-at=${k * CHUNK + 11 + i}`;
  return [
    { name: 'none', modes: null, expect: 'ok', hashSource: 'etag', restarts: 0 },
    { name: 'ignore-range', pre: drop(4, 1), modes: 'ignore-range', expect: 'ok', restarts: 1, resumed: true },
    { name: 'shift-range', pre: drop(4, 2), modes: 'shift-range=1000', expect: 'ok', restarts: 0, resumed: true },
    { name: 'wrong-range', pre: drop(4, 3), modes: 'wrong-range', expect: 'bad-response', kept: 'pre' },
    { name: 'wrong-total', modes: 'wrong-total', expect: 'bad-response', kept: 0 },
    { name: '200-with-range', pre: drop(3, 4), modes: '200-with-range', expect: 'bad-response', kept: 'pre' },
    { name: 'truncate', modes: 'drip=2000000,truncate=200000', expect: 'ok', attempts: 8, minRetries: 4 },
    { name: 'drop-at', modes: `drip=2000000,drop-at=${7 * CHUNK + 123}`, expect: 'ok', retries: 1 },
    { name: 'flip', modes: 'flip=400000', expect: 'integrity', kept: 0 },
    { name: 'flip-once', modes: 'flip-once=400000', expect: 'ok', restarts: 1 },
    { name: 'html', modes: 'html', expect: 'bad-response', kept: 0 },
    { name: 'status-404', modes: 'status=404', expect: 'not-found' },
    { name: 'status-403', modes: 'status=403', expect: 'http' },
    { name: 'status-416', modes: 'status=416', expect: 'bad-response' },
    { name: 'status-429x2', modes: 'status=429x2', expect: 'ok', retries: 2 },
    { name: 'status-503x3', modes: 'status=503x3', expect: 'ok', retries: 3 },
    { name: 'status-503', modes: 'status=503', expect: 'network' },
    { name: 'etag-change', modes: `etag-change=1,drip=2000000,drop-at=${5 * CHUNK + 7}`, expect: 'ok', restarts: 1, changed: true },
    { name: 'no-etag', modes: 'no-etag', expect: 'ok', hashSource: 'none' },
    { name: 'no-length', modes: 'no-length', expect: 'ok' },
    // D9: a compressing server. Chromium asks for identity with a Range and gets it; one that
    // compresses anyway is a decoding failure inside Chromium: a network error, nothing stored.
    // (Node's fetch decodes it: download.test.ts counts such bodies end to end.)
    { name: 'gzip', modes: 'gzip', expect: 'ok', hashSource: 'etag', restarts: 0 },
    { name: 'gzip-resumed', pre: drop(4, 5), modes: 'gzip', expect: 'ok', restarts: 0, resumed: true },
    { name: 'gzip-always', modes: 'gzip-always', expect: 'network', kept: 0 },
    { name: 'drip-cancel', modes: 'drip=300000', expect: 'aborted', abortAt: 3 * CHUNK, minKept: 2 },
  ];
}

async function faultModes(page, server, base) {
  server.resetFaults();
  const cases = faultCases();
  const url = (modes) => `${base}${modes === null ? '' : `fault/${modes}/`}janus-web/tiny-a/resolve/main/${SHARD}`;
  const results = await page.evaluate(
    async ({ cases, base, size, chunk, fast, SHARD }) => {
      const store = await S.IdbChunkStore.open();
      const out = [];
      for (const c of cases) {
        const model = `${base}cases/${c.name}/`;
        const task = (url) => ({ model, path: SHARD, url, size, expected: null, hashSource: 'none' });
        let preKept = 0;
        if (c.preUrl !== undefined) {
          await S.downloadFile(store, task(c.preUrl), { chunkBytes: chunk, retry: { ...fast, attempts: 1 } }).catch(() => undefined);
          preKept = (await store.chunkIndices(S.fileKey(model, SHARD))).length;
        }
        const controller = new AbortController();
        let result = null;
        let error = null;
        const started = performance.now();
        try {
          const done = await S.downloadFile(store, task(c.url), {
            chunkBytes: chunk,
            retry: { ...fast, attempts: c.attempts ?? fast.attempts },
            signal: controller.signal,
            onProgress: (_file, bytes) => {
              if (c.abortAt !== undefined && bytes >= c.abortAt) controller.abort();
            },
          });
          result = {
            restarts: done.restarts,
            retries: done.retries,
            requests: done.requests,
            resumedBytes: done.resumedBytes,
            hashSource: done.record.hashSource,
            digest: done.record.digest?.hex ?? null,
          };
        } catch (e) {
          error = S.plain(e);
        }
        const key = S.fileKey(model, SHARD);
        const record = await store.getFile(key);
        const chunks = await store.chunkIndices(key);
        let sha = null;
        if (record?.complete === true) {
          const bytes = new Uint8Array(size);
          for (const i of chunks) bytes.set((await store.getChunk(key, i)).bytes, i * chunk);
          sha = await S.sha256Hex(bytes);
        }
        out.push({ name: c.name, result, error, preKept, complete: record?.complete ?? false, chunks: chunks.length, sha, ms: performance.now() - started });
      }
      store.close();
      return out;
    },
    {
      cases: cases.map((c) => ({ ...c, url: url(c.modes), preUrl: c.pre === undefined ? undefined : url(c.pre) })),
      base,
      size: SHARD_BYTES.length,
      chunk: CHUNK,
      fast: FAST,
      SHARD,
    },
  );
  const changed = Buffer.from(SHARD_BYTES);
  changed[Math.floor(changed.length / 2)] ^= 0x5a;
  const table = [];
  for (const [i, c] of cases.entries()) {
    const r = results[i];
    const what = `fault ${c.name}`;
    const outcome = r.error === null ? 'ok' : r.error.code;
    table.push({ mode: c.modes ?? '(none)', outcome, complete: r.complete, chunksKept: r.chunks, ...(r.result ?? {}), message: r.error?.message });
    console.log(`   ${c.name.padEnd(15)} ${outcome.padEnd(13)} ${r.error === null ? JSON.stringify(r.result) : r.error.message}`);
    check(outcome === c.expect, `${what}: expected ${c.expect}, got ${outcome} ${r.error?.message ?? ''}`);
    if (c.expect === 'ok') {
      check(r.complete, `${what}: not marked complete`);
      check(r.sha === (c.changed ? sha256(changed) : SHARD_SHA), `${what}: stored bytes hash to ${r.sha}`);
      if (c.restarts !== undefined) check(r.result.restarts === c.restarts, `${what}: restarts ${r.result.restarts}, expected ${c.restarts}`);
      if (c.retries !== undefined) check(r.result.retries === c.retries, `${what}: retries ${r.result.retries}, expected ${c.retries}`);
      if (c.minRetries !== undefined) check(r.result.retries >= c.minRetries, `${what}: retries ${r.result.retries} < ${c.minRetries}`);
      if (c.resumed) {
        check(r.preKept >= 1, `${what}: the interrupted first download kept no chunk`);
        check(r.result.resumedBytes === r.preKept * CHUNK, `${what}: resumed ${r.result.resumedBytes}, the first download kept ${r.preKept} chunks`);
      }
      if (c.hashSource !== undefined) check(r.result.hashSource === c.hashSource, `${what}: hash source ${r.result.hashSource}`);
    } else {
      check(!r.complete, `${what}: marked complete after ${c.expect}`);
      if (c.kept === 'pre') check(r.preKept >= 1 && r.chunks === r.preKept, `${what}: ${r.chunks} chunks kept, the first download had ${r.preKept}`);
      else if (c.kept !== undefined) check(r.chunks === c.kept, `${what}: ${r.chunks} chunks kept, expected ${c.kept}`);
      if (c.minKept !== undefined) check(r.chunks >= c.minKept, `${what}: ${r.chunks} chunks kept, expected >= ${c.minKept}`);
    }
  }
  figures.faultModes = table;
}

// ---- the page's Markdown renderer against hostile replies ---------------------------------------

async function markdownSanitised(page) {
  const got = await page.evaluate(() => {
    const hostile = [
      '<script>window.pwned = 1</script>',
      '<img src=x onerror="window.pwned = 2">',
      '[click](javascript:window.pwned=3)',
      '<a href="https://example.com" onclick="window.pwned=4">link</a>',
      '<iframe src="https://example.com"></iframe>',
      '<svg><script>window.pwned=5</script></svg>',
      '![tracker](https://example.com/pixel.png)',
      '<style>body{display:none}</style><p style="color:red" id="x">styled</p>',
      '<form action="https://example.com"><input name="a"></form>',
      '**bold** and `<b>code</b>`\n\n```js\nconst a = "<script>";\n```',
    ].join('\n\n');
    const html = S.renderMarkdown(hostile);
    const box = document.createElement('div');
    box.innerHTML = html;
    document.body.append(box);
    const all = [...box.querySelectorAll('*')];
    return {
      html,
      tags: [...new Set(all.map((e) => e.tagName.toLowerCase()))].sort(),
      handlers: all.flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on') || a.name === 'style' || a.name === 'id').map((a) => a.name)),
      badLinks: [...box.querySelectorAll('a')].filter((a) => !/^https?:/.test(a.getAttribute('href') ?? 'https:') || a.rel !== 'noopener noreferrer nofollow').length,
      pwned: window.pwned ?? null,
      bold: box.querySelector('strong')?.textContent ?? null,
      code: box.querySelector('pre code')?.textContent ?? null,
    };
  });
  console.log(`   tags kept: ${got.tags.join(' ')}`);
  for (const tag of ['script', 'img', 'iframe', 'svg', 'style', 'form', 'input']) check(!got.tags.includes(tag), `markdown: <${tag}> survived: ${got.html}`);
  check(got.handlers.length === 0, `markdown: attributes survived: ${got.handlers.join(', ')}`);
  check(got.badLinks === 0, `markdown: an unsafe link survived: ${got.html}`);
  check(got.pwned === null, `markdown: a script ran (${got.pwned})`);
  check(got.bold === 'bold' && got.code === 'const a = "<script>";\n', `markdown: ordinary Markdown broke: ${got.html}`);
  figures.markdown = { tags: got.tags };
}

// ---- 2. reload mid-download ---------------------------------------------------------------------

async function reloadResumes(context, server, base) {
  const page = await openStorePage(context, base);
  const size = SINGLE_BYTES.length;
  const chunk = 128 * 1024;
  const dripPath = '/fault/drip=400000/models/tiny-b-hf/model.safetensors';
  const plainPath = '/models/tiny-b-hf/model.safetensors';
  const args = { model: `${base}reload-test/`, size, chunk };
  server.resetStats();
  await page.evaluate(
    ({ model, size, chunk, url }) => {
      window.progress = 0;
      S.IdbChunkStore.open().then((store) =>
        S.downloadFile(store, { model, path: 'model.safetensors', url, size, expected: null, hashSource: 'none' }, {
          chunkBytes: chunk,
          onProgress: (_f, done) => (window.progress = done),
        }),
      );
    },
    { ...args, url: `${base}${dripPath.slice(1)}` },
  );
  await page.waitForFunction((n) => window.progress >= n, 6 * chunk, { timeout: 60_000 });
  await page.reload();
  await page.waitForFunction(() => window.storeReady === true);
  const before = await served(server, dripPath);
  const out = await page.evaluate(
    async ({ model, size, chunk, url }) => {
      const store = await S.IdbChunkStore.open();
      const done = await S.downloadFile(store, { model, path: 'model.safetensors', url, size, expected: null, hashSource: 'none' }, { chunkBytes: chunk });
      store.close();
      return { resumedBytes: done.resumedBytes, fetchedBytes: done.fetchedBytes, digest: done.record.digest.hex, requests: done.requests };
    },
    { ...args, url: `${base}${plainPath.slice(1)}` },
  );
  const after = await served(server, plainPath);
  console.log(`   before the reload the server sent ${before.bytes} bytes; resumed ${out.resumedBytes} verified bytes, fetched ${out.fetchedBytes} (${after.requests} request)`);
  check(out.resumedBytes >= 6 * chunk && out.resumedBytes % chunk === 0, `reload: resumed ${out.resumedBytes} bytes`);
  check(after.bytes === size - out.resumedBytes, `reload: the server sent ${after.bytes} bytes after the reload; the missing part is ${size - out.resumedBytes}`);
  check(out.digest === sha256(SINGLE_BYTES), 'reload: the resumed file does not hash right');
  figures.reload = { sentBeforeReload: before.bytes, resumedBytes: out.resumedBytes, fetchedAfter: after.bytes, size };
  await page.close();
}

// ---- 3. lost chunk, lost database ---------------------------------------------------------------

/**
 * S9: the store meets other schemas. A database of a newer version is refused with 'storage' and
 * left exactly as it was; one of our name and version without our stores (a pre-release build)
 * is cleared and works; records of another shape read as absent and are fetched again.
 */
async function schemaVersions(context, server, base) {
  const page = await openStorePage(context, base);
  const got = await page.evaluate(
    async ({ hub, chunk }) => {
      const opened = async (name) => {
        try {
          const store = await S.IdbChunkStore.open(name);
          store.close();
          return null;
        } catch (error) {
          return S.plain(error);
        }
      };
      await S.makeDb('janus-s9-newer', 7, { models: [{ key: 'from the future' }], fancy: [1, 2, 3] });
      const newer = { error: await opened('janus-s9-newer'), after: await S.describeDb('janus-s9-newer') };
      await S.makeDb('janus-s9-foreign', 1, { stuff: ['a', 'b'] });
      const foreign = { error: await opened('janus-s9-foreign'), after: await S.describeDb('janus-s9-foreign') };

      const name = 'janus-s9-records';
      const source = S.resolveModel('janus-web/tiny-a', { hub });
      const ensure = async () => {
        const store = await S.IdbChunkStore.open(name);
        try {
          const r = await S.ensureModel(store, source, { chunkBytes: chunk });
          return { fetchedBytes: r.fetchedBytes, requests: r.requests, complete: r.model.complete };
        } finally {
          store.close();
        }
      };
      const first = await ensure();
      const file = `${source.baseUrl}\nmodel-00002-of-00002.safetensors`;
      // A chunk row and a file record of another layout, under the keys of real ones.
      await S.rawPut(name, 'chunks', { file, index: 2, bytes: 'not bytes', sha256: 12 });
      const small = `${source.baseUrl}\nconfig.json`;
      await S.rawPut(name, 'files', { key: small, model: source.baseUrl, path: 'config.json', complete: 'yes' });
      const store = await S.IdbChunkStore.open(name);
      const read = { chunk: await store.getChunk(file, 2), file: await store.getFile(small), models: (await store.listModels()).length };
      store.close();
      // As a load goes: ensure (the file record is rebuilt from its intact chunks), read (the
      // damaged chunk fails the read and is removed), ensure again (that chunk alone is fetched).
      const rebuilt = await ensure();
      const readAll = async (path) => {
        const cache = await S.IdbChunkStore.open(name);
        try {
          const reader = await S.StoreReader.open(cache, source.baseUrl);
          return await reader.read(path, 0, await reader.size(path));
        } finally {
          cache.close();
        }
      };
      const shard = 'model-00002-of-00002.safetensors';
      const readError = await readAll(shard).then(() => null, S.plain);
      const repaired = await ensure();
      const shardSha = await S.sha256Hex(await readAll(shard));
      const config = new TextDecoder().decode(await readAll('config.json'));
      for (const db of ['janus-s9-newer', 'janus-s9-foreign', name]) await S.deleteDb(db);
      return { newer, foreign, first, read, rebuilt, readError, repaired, shardSha, configParses: JSON.parse(config) !== null };
    },
    { hub: base, chunk: CHUNK },
  );
  console.log(`   newer (v7): ${got.newer.error?.code}: ${got.newer.error?.message}`);
  console.log(`   foreign v1 layout: opened, now ${JSON.stringify(got.foreign.after)}`);
  console.log(
    `   records of another shape read as ${JSON.stringify(got.read)}; the file record rebuilt from its chunks (${got.rebuilt.fetchedBytes} bytes fetched); ` +
      `the chunk: ${got.readError?.code} on read, then ${got.repaired.requests} request of ${got.repaired.fetchedBytes} bytes`,
  );
  check(got.newer.error?.code === 'storage' && /newer version of janus-web/.test(got.newer.error.message), `newer schema: ${JSON.stringify(got.newer.error)}`);
  check(got.newer.after.version === 7 && got.newer.after.stores.models === 1 && got.newer.after.stores.fancy === 3, `the newer database was changed: ${JSON.stringify(got.newer.after)}`);
  check(got.foreign.error === null, `a foreign layout should be cleared and opened: ${JSON.stringify(got.foreign.error)}`);
  check(
    got.foreign.after.version === 1 && JSON.stringify(Object.keys(got.foreign.after.stores).sort()) === '["chunks","files","models"]',
    `the foreign layout after opening: ${JSON.stringify(got.foreign.after)}`,
  );
  check(got.first.complete, `first download: ${JSON.stringify(got.first)}`);
  check(got.read.chunk === null && got.read.file === null && got.read.models === 1, `records of another shape must read as absent: ${JSON.stringify(got.read)}`);
  check(got.rebuilt.complete && got.rebuilt.fetchedBytes === 0, `a file record of another shape, its chunks intact: ${JSON.stringify(got.rebuilt)}`);
  check(got.readError?.code === 'integrity', `reading a chunk of another shape: ${JSON.stringify(got.readError)}`);
  check(got.repaired.complete && got.repaired.requests === 1 && got.repaired.fetchedBytes === CHUNK, `repair of the chunk: ${JSON.stringify(got.repaired)}`);
  const shardBytes = readFileSync(path.join(root, 'tests/fixtures/models/tiny-a-hf/model-00002-of-00002.safetensors'));
  check(got.shardSha === sha256(shardBytes), 'the repaired shard reads back as the original');
  check(got.configParses, 'config.json read back');
}

/**
 * S4: the auto-commit hazard, reproduced raw (a transaction that awaits a fetch is over before its
 * put: TransactionInactiveError), then the store's methods in that very pattern (each call after
 * an awaited fetch, 16 files at once): every one succeeds, because each method opens its own
 * transaction with its data in hand. An IndexedDB error of that kind would be a typed 'storage'.
 */
async function transactionScope(context, base) {
  const page = await openStorePage(context, base);
  const got = await page.evaluate(async (url) => {
    const name = 'janus-s4';
    await S.makeDb(name, 1, { rows: [] });
    const db = await new Promise((resolve, reject) => {
      const open = indexedDB.open(name);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const rows = db.transaction('rows', 'readwrite').objectStore('rows');
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    let raw = null;
    try {
      rows.put({ bytes });
    } catch (error) {
      raw = error.name;
    }
    db.close();
    await S.deleteDb(name);

    const store = await S.IdbChunkStore.open('janus-s4-store');
    const errors = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, file) => {
        for (let index = 0; index < 4; index += 1) {
          try {
            const piece = new Uint8Array(await (await fetch(url, { cache: 'no-store' })).arrayBuffer());
            await store.putChunk(`f${file}`, index, { bytes: piece, sha256: await S.sha256Hex(piece) });
            await fetch(url, { method: 'HEAD', cache: 'no-store' });
            const back = await store.getChunk(`f${file}`, index);
            if (back?.bytes.length !== piece.length) errors.push(`f${file}/${index}: read back ${back?.bytes.length}`);
          } catch (error) {
            errors.push(S.plain(error));
          }
        }
      }),
    );
    const counts = await Promise.all(Array.from({ length: 16 }, (_, file) => store.chunkIndices(`f${file}`).then((i) => i.length)));
    store.close();
    await S.deleteDb('janus-s4-store');
    const typed = S.plain(S.storageError(new DOMException('The transaction has finished.', 'TransactionInactiveError'), 'could not store a downloaded chunk'));
    return { raw, errors, counts, typed };
  }, `${base}models/tiny-a-hf/config.json`);
  console.log(`   raw: ${got.raw}; the store: ${got.counts.reduce((a, b) => a + b, 0)} chunks written between fetches, ${got.errors.length} errors; mapped: ${got.typed.code}: ${got.typed.message}`);
  check(got.raw === 'TransactionInactiveError', `the hazard should reproduce raw: ${got.raw}`);
  check(got.errors.length === 0 && got.counts.every((n) => n === 4), `the store between fetches: ${JSON.stringify(got)}`);
  check(got.typed.code === 'storage' && /TransactionInactiveError/.test(got.typed.message), `mapped: ${JSON.stringify(got.typed)}`);
  await page.close();
}

async function repairAndEviction(context, server, base) {
  const page = await openStorePage(context, base);
  const ensure = (extra = {}) =>
    page.evaluate(
      async ({ hub, chunk, extra }) => {
        const store = await S.IdbChunkStore.open();
        try {
          const r = await S.ensureModel(store, S.resolveModel('janus-web/tiny-a', { hub }), { chunkBytes: chunk, ...extra });
          return { fetchedBytes: r.fetchedBytes, requests: r.requests, bytes: r.model.bytes, complete: r.model.complete };
        } finally {
          store.close();
        }
      },
      { hub: base, chunk: CHUNK, extra },
    );
  const first = await ensure();
  check(first.complete && first.fetchedBytes === first.bytes, `first download: ${JSON.stringify(first)}`);
  const file = `${base}janus-web/tiny-a/resolve/main/\nmodel-00002-of-00002.safetensors`;
  await page.evaluate(({ file }) => S.deleteChunkRecord(file, 3), { file });
  server.resetStats();
  const repaired = await ensure();
  const stats = await served(server, '/janus-web/tiny-a/resolve/main/model-00002-of-00002.safetensors');
  console.log(`   deleted chunk 3: repaired with ${repaired.requests} request of ${repaired.fetchedBytes} bytes; server saw ${server.stats().requests} requests`);
  check(repaired.requests === 1 && repaired.fetchedBytes === CHUNK, `repair: ${JSON.stringify(repaired)}`);
  check(server.stats().requests === 1 && stats.rangeRequests === 1 && stats.bytes === CHUNK, `repair: server stats ${JSON.stringify(server.stats())}`);

  // The whole database gone (eviction, "clear site data"): noticed, downloaded again.
  const listed = await page.evaluate(async () => {
    await new Promise((resolve, reject) => {
      const request = indexedDB.deleteDatabase(S.DB_NAME);
      request.onsuccess = resolve;
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('deleteDatabase blocked'));
    });
    const store = await S.IdbChunkStore.open();
    const models = await S.cachedModels(store);
    store.close();
    return models.length;
  });
  check(listed === 0, `after deleteDatabase the store lists ${listed} models`);
  const again = await ensure();
  check(again.complete && again.fetchedBytes === again.bytes, `after eviction: ${JSON.stringify(again)}`);
  figures.repair = { repaired, afterEviction: again };
  await page.close();
}

// ---- 4. two pages at once ---------------------------------------------------------------------

async function twoPages(context, server, base) {
  const pages = [await openStorePage(context, base), await openStorePage(context, base)];
  server.resetStats();
  const model = `${base}fault/drip=1500000/models/tiny-b-hf/`;
  const results = await Promise.all(
    pages.map((page) =>
      page.evaluate(
        async ({ model, chunk }) => {
          const store = await S.IdbChunkStore.open();
          let waited = false;
          try {
            const r = await S.ensureModel(store, S.resolveModel(model), {
              chunkBytes: chunk,
              onProgress: (p) => (waited ||= p.waiting === true),
            });
            return { fetchedBytes: r.fetchedBytes, requests: r.requests, complete: r.model.complete, waited };
          } catch (e) {
            return { error: S.plain(e) };
          } finally {
            store.close();
          }
        },
        { model, chunk: CHUNK },
      ),
    ),
  );
  const stats = await served(server, '/fault/drip=1500000/models/tiny-b-hf/model.safetensors');
  console.log(`   page results ${JSON.stringify(results)}; the server sent ${stats.bytes} bytes of the ${SINGLE_BYTES.length}-byte shard`);
  for (const r of results) check(r.complete === true, `two pages: ${JSON.stringify(r)}`);
  check(results.filter((r) => r.fetchedBytes === 0).length === 1, 'two pages: exactly one of them should have found the model already cached');
  check(results.filter((r) => r.waited).length === 1 && results.find((r) => r.waited)?.fetchedBytes === 0, 'two pages: the one that waited (and was told so) should have fetched nothing');
  // One probe byte plus the file once.
  check(stats.bytes === SINGLE_BYTES.length + 1, `two pages: the shard was sent ${stats.bytes} bytes, expected once (${SINGLE_BYTES.length} + 1 probe byte)`);
  figures.twoPages = { results, shardBytesSent: stats.bytes };
  for (const page of pages) await page.close();
}

// ---- figures: how fast a model goes into the store and comes back out --------------------------

async function throughput(context, base) {
  const page = await openStorePage(context, base);
  const got = await page.evaluate(async (model) => {
    const store = await S.IdbChunkStore.open();
    const source = S.resolveModel(model);
    let started = performance.now();
    const report = await S.ensureModel(store, source, {});
    const downloadMs = performance.now() - started;
    const reader = await S.StoreReader.open(store, source.baseUrl);
    started = performance.now();
    let read = 0;
    for (const file of report.model.files) {
      const size = await reader.size(file);
      for (let at = 0; at < size; at += 8 * 1024 * 1024) {
        read += (await reader.read(file, at, Math.min(8 * 1024 * 1024, size - at))).length;
      }
    }
    const readMs = performance.now() - started;
    await S.deleteModel(store, source.baseUrl);
    store.close();
    return { bytes: report.model.bytes, downloadMs, read, readMs };
  }, `${base}${BIG}`);
  const mbps = (bytes, ms) => (bytes / MIB / (ms / 1000)).toFixed(1);
  console.log(
    `   ${(got.bytes / MIB).toFixed(1)} MiB over loopback into IndexedDB (16 MiB records, SHA-256 per record and per file): ` +
      `${(got.downloadMs / 1000).toFixed(2)} s = ${mbps(got.bytes, got.downloadMs)} MiB/s; read back and checked in 8 MiB reads: ` +
      `${(got.readMs / 1000).toFixed(2)} s = ${mbps(got.read, got.readMs)} MiB/s`,
  );
  check(got.read === got.bytes, `throughput: read ${got.read} of ${got.bytes} bytes`);
  figures.throughput = { bytes: got.bytes, downloadMs: Math.round(got.downloadMs), readMs: Math.round(got.readMs), downloadMiBps: Number(mbps(got.bytes, got.downloadMs)), readMiBps: Number(mbps(got.read, got.readMs)) };
  await page.close();
}

// ---- 5. quota ----------------------------------------------------------------------------------

/**
 * Quota exhausted while writing (CDP quota override; it needs a persistent profile and does not
 * change what estimate() reports, so the up-front refusal is covered by the unit tests).
 */
async function quotaOverride(server, base) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'janus-quota-override-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: [...BASE_ARGS] });
  try {
    const page = await openStorePage(context, base);
    const cdp = await context.newCDPSession(page);
    const origin = new URL(base).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 24 * MIB });
    const run = () =>
      page.evaluate(
        async ({ model }) => {
          const store = await S.IdbChunkStore.open();
          try {
            const r = await S.ensureModel(store, S.resolveModel(model), { chunkBytes: 4 * 1024 * 1024 });
            return { complete: r.model.complete, resumedBytes: r.resumedBytes, fetchedBytes: r.fetchedBytes };
          } catch (e) {
            const models = await S.cachedModels(store);
            return { error: S.plain(e), models };
          } finally {
            store.close();
          }
        },
        { model: `${base}${BIG}` },
      );
    const hit = await run();
    const partial = hit.models?.find((m) => m.key === `${base}${BIG}`);
    console.log(`   writing past a 24 MiB quota: ${hit.error?.code}: ${hit.error?.message}; kept ${partial?.storedBytes} bytes`);
    check(hit.error?.code === 'quota', `quota: expected QuotaExceededError as 'quota', got ${JSON.stringify(hit)}`);
    // S1/S2: what the browser reports now, and the way to use the model without storing it.
    check(/\(the browser reports quota [\d.]+ [KMG]iB, in use [\d.]+ [KMG]iB\)/.test(hit.error.message) && /cache: false/.test(hit.error.message), `quota: the message should give the figures and the way on: ${hit.error.message}`);
    check(partial !== undefined && !partial.complete && partial.storedBytes > 0, `quota: the verified part should be kept: ${JSON.stringify(hit.models)}`);

    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    server.resetStats();
    const resumed = await run();
    console.log(`   with room again: ${JSON.stringify(resumed)}`);
    check(resumed.complete === true && resumed.resumedBytes > 0, `quota: resume after the quota error: ${JSON.stringify(resumed)}`);
    figures.quotaOverride = { error: hit.error, keptBytes: partial.storedBytes, resumed };
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A real full disk: the profile on a 48 MiB tmpfs (root only), a 75 MiB model, random bytes. */
async function quotaTmpfs(base) {
  if (process.getuid?.() !== 0) {
    console.log('   SKIPPED: mounting a tmpfs needs root (CI runs as root)');
    figures.quotaTmpfs = 'skipped: not root';
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'janus-quota-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    // Root without CAP_SYS_ADMIN (some containers): say so loudly, the CDP quota test still ran.
    console.log(`   SKIPPED: cannot mount a tmpfs here (${String(error.stderr ?? error.message).trim()})`);
    figures.quotaTmpfs = 'skipped: mount failed';
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  let context = null;
  try {
    context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: [...BASE_ARGS] });
    const page = await openStorePage(context, base);
    const got = await page.evaluate(
      async ({ big, small }) => {
        const store = await S.IdbChunkStore.open();
        const out = {};
        try {
          await S.ensureModel(store, S.resolveModel(big), { chunkBytes: 4 * 1024 * 1024, skipSpaceCheck: true });
          out.big = 'complete';
        } catch (e) {
          out.big = S.plain(e);
        }
        out.models = await S.cachedModels(store);
        // The store still works: free the space, then a small model fits.
        await S.deleteModel(store, S.resolveModel(big).baseUrl);
        try {
          const r = await S.ensureModel(store, S.resolveModel(small), { chunkBytes: 256 * 1024 });
          out.small = r.model.complete;
        } catch (e) {
          out.small = S.plain(e);
        }
        store.close();
        return out;
      },
      { big: `${base}${BIG}`, small: `${base}models/tiny-b-hf/` },
    );
    const partial = got.models.find((m) => m.name.endsWith(BIG));
    console.log(`   full disk: ${JSON.stringify(got.big)}; kept ${partial?.storedBytes} bytes; afterwards a small model: ${JSON.stringify(got.small)}`);
    check(got.big?.code === 'quota', `tmpfs: expected 'quota' when the disk fills, got ${JSON.stringify(got.big)}`);
    check(/\(the browser reports quota [\d.]+ [KMG]iB, in use [\d.]+ [KMG]iB\)/.test(got.big.message), `tmpfs: the message should give the browser's figures: ${got.big.message}`);
    check(partial !== undefined && partial.storedBytes > 0 && !partial.complete, `tmpfs: verified chunks should be kept: ${JSON.stringify(got.models)}`);
    check(got.small === true, `tmpfs: the store should still work after the quota error: ${JSON.stringify(got.small)}`);
    figures.quotaTmpfs = { error: got.big, keptBytes: partial.storedBytes, smallAfterwards: got.small };
  } finally {
    await context?.close().catch(() => undefined);
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 5b. cancelling a download through the client, resuming it --------------------------------

/**
 * S10: IndexedDB refuses to open (here: a newer schema holds the name, as a newer page in
 * another tab leaves it). The client's load still works, streamed from the network, and says why
 * there is no cache; the database is left exactly as it was.
 */
async function storageRefused(appBase) {
  const { browser, page } = await openClientPage(appBase);
  try {
    const got = await page.evaluate(async (model) => {
      const request = (req) =>
        new Promise((resolve, reject) => {
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
          req.onupgradeneeded = () => req.result.createObjectStore('future', { autoIncrement: true }).add('kept');
        });
      (await request(indexedDB.open('janus-weights', 9))).close();
      const client = await Janus.JanusClient.create();
      try {
        const report = await client.load(model);
        const reply = (await t.collect(client.chat([{ role: 'user', content: 'hi' }], { maxNewTokens: 2, temperature: 0 }))).result;
        const listed = await Janus.JanusClient.cachedModels().then(() => null, (e) => ({ code: e.code, message: e.message }));
        const db = await request(indexedDB.open('janus-weights'));
        const after = { version: db.version, stores: Array.from(db.objectStoreNames), rows: await request(db.transaction('future').objectStore('future').count()) };
        db.close();
        await request(indexedDB.deleteDatabase('janus-weights'));
        return { download: report.download, tokens: reply.ids.length, listed, after };
      } finally {
        client.dispose();
      }
    }, `${appBase}models/tiny-b-hf/`);
    console.log(`   load: cache ${got.download.cache}, notice ${got.download.cacheError?.code}: ${got.download.cacheError?.message}; chat ${got.tokens} tokens`);
    check(got.download.cache === 'none' && got.download.cacheError?.code === 'storage' && /newer version of janus-web/.test(got.download.cacheError.message), `download: ${JSON.stringify(got.download)}`);
    check(got.tokens === 2, `chat after a streamed load: ${got.tokens} tokens`);
    check(got.listed?.code === 'storage', `cachedModels with the store refused: ${JSON.stringify(got.listed)}`);
    check(got.after.version === 9 && got.after.stores.join() === 'future' && got.after.rows === 1, `the database was changed: ${JSON.stringify(got.after)}`);
  } finally {
    await browser.close();
  }
}

/**
 * M6: the engine's worker stopped for 3 s in the middle of a download through the client (as a
 * frozen background tab stops it; headless Chromium neither hides nor freezes a page, so the
 * debugger pauses the worker's thread), then the tab throttled 10x until the load ends: the load
 * completes, every chunk is stored once, and no byte is fetched twice beyond one partial chunk.
 */
/** Stops the browser's one dedicated worker for `ms` (the debugger pauses its thread), then resumes it. */
async function pauseWorker(browser, ms) {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { targetInfos } = await cdp.send('Target.getTargets');
    const workers = targetInfos.filter((target) => target.type === 'worker');
    check(workers.length === 1, `expected one worker, found ${workers.length}`);
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: workers[0].targetId, flatten: false });
    let id = 0;
    const send = (method) => cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: ++id, method, params: {} }) });
    const paused = new Promise((resolve) => {
      cdp.on('Target.receivedMessageFromTarget', (event) => {
        if (JSON.parse(event.message).method === 'Debugger.paused') resolve();
      });
    });
    await send('Debugger.enable');
    await send('Debugger.pause');
    await paused;
    await new Promise((resolve) => setTimeout(resolve, ms));
    await send('Debugger.resume');
    await send('Debugger.disable');
    await cdp.send('Target.detachFromTarget', { sessionId });
  } finally {
    await cdp.detach();
  }
}

async function frozenTab(appBase, server) {
  const { browser, page } = await openClientPage(appBase);
  try {
    const cdp = await page.context().newCDPSession(page);
    const model = `${appBase}fault/drip=500000/models/tiny-b-hf/`;
    const file = '/fault/drip=500000/models/tiny-b-hf/model.safetensors';
    server.resetStats();
    const chunkBytes = 128 * 1024;
    await page.evaluate(
      async ({ model, chunkBytes }) => {
        window.client = await Janus.JanusClient.create();
        window.events = [];
        window.loading = client
          .load(model, { chunkBytes, onProgress: (p) => p.phase === 'download' && events.push({ at: performance.now(), bytes: p.bytes, total: p.total }) })
          .then((report) => ({ report }), (e) => ({ error: { code: e.code, message: e.message } }));
      },
      { model, chunkBytes },
    );
    await page.waitForFunction(() => (window.events.at(-1)?.bytes ?? 0) >= 600_000, null, { timeout: 60_000 });
    await pauseWorker(browser, 3000);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 10 });
    const got = await page.evaluate(async () => {
      const outcome = await window.loading;
      const cached = (await Janus.JanusClient.cachedModels())[0];
      let gap = 0;
      for (let i = 1; i < events.length; i += 1) gap = Math.max(gap, events[i].at - events[i - 1].at);
      return { ...outcome, cached, gap, events: events.length };
    });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    const sent = await served(server, file);
    const size = statSync(path.join(root, 'tests/fixtures/models/tiny-b-hf/model.safetensors')).size;
    await page.evaluate(async (model) => {
      client.dispose();
      await Janus.JanusClient.deleteCachedModel(model);
    }, model);
    console.log(
      `   ${got.events} progress events, the longest pause ${(got.gap / 1000).toFixed(1)} s (the stop); ` +
        `the shard: ${sent.requests} requests, ${sent.bytes} bytes sent for ${size}; ${got.error ? `error ${got.error.code}` : `stored ${got.cached?.storedBytes} of ${got.cached?.bytes}`}`,
    );
    check(got.error === undefined, `the load after a freeze: ${JSON.stringify(got.error)}`);
    check(got.gap >= 2500, `no pause in the progress events (${got.gap} ms): the worker was not stopped`);
    check(got.cached?.complete === true && got.cached.storedBytes === got.cached.bytes, `cached after the freeze: ${JSON.stringify(got.cached)}`);
    check(sent.bytes >= size && sent.bytes <= size + chunkBytes, `the shard: ${sent.bytes} bytes sent for ${size} (more than one chunk fetched twice)`);
  } finally {
    await browser.close();
  }
}

/**
 * H2: a cross-origin-isolated page (COOP + COEP require-corp, as a host enabling
 * SharedArrayBuffer sends) with the weights on another origin: one that answers with CORS loads
 * (CORS reads need no CORP); one without CORS fails with 'network' and names the header to check.
 */
async function isolatedPage(weightsBase) {
  const pages = createServer({
    root,
    mounts: DEFAULT_MOUNTS,
    headers: { 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Opener-Policy': 'same-origin' },
  });
  const { url: pageBase } = await pages.listen();
  const { browser, page } = await openClientPage(pageBase);
  try {
    const got = await page.evaluate(
      async ({ good, bare, fast }) => {
        const client = await Janus.JanusClient.create();
        try {
          const report = await client.load(good);
          const reply = (await t.collect(client.chat([{ role: 'user', content: 'hi' }], { maxNewTokens: 2, temperature: 0 }))).result;
          const refused = await t.rejection(client.load(bare, { retry: fast }));
          await Janus.JanusClient.deleteCachedModel(good);
          return { isolated: crossOriginIsolated, cache: report.download.cache, tokens: reply.ids.length, refused };
        } finally {
          client.dispose();
        }
      },
      { good: `${weightsBase}models/tiny-b-hf/`, bare: `${weightsBase}fault/no-cors/models/tiny-a-hf/`, fast: FAST },
    );
    console.log(`   crossOriginIsolated ${got.isolated}; with CORS: loaded (${got.cache}), ${got.tokens} tokens; without: ${got.refused.code}: ${got.refused.message}`);
    check(got.isolated === true, 'the page should be cross-origin isolated');
    check(got.cache === 'indexeddb' && got.tokens === 2, `with CORS: ${JSON.stringify(got)}`);
    check(got.refused.code === 'network' && /allows this site to read it \(CORS/.test(got.refused.message), `without CORS: ${JSON.stringify(got.refused)}`);
  } finally {
    await browser.close();
    await pages.close();
  }
}

/**
 * U1: JanusClient.availability() through a model's life: downloadable, downloading (the engine's
 * worker holds the model's lock; asked from the page), available; and unavailable in a browser
 * without a WebGPU adapter, whatever is stored.
 */
async function availabilityStates(appBase) {
  const model = `${appBase}fault/drip=500000/models/tiny-b-hf/`;
  const gpu = await openClientPage(appBase);
  let got;
  try {
    got = await gpu.page.evaluate(async (model) => {
      const states = [await Janus.JanusClient.availability(model)];
      const client = await Janus.JanusClient.create();
      try {
        let asked = null;
        await client.load(model, {
          chunkBytes: 128 * 1024,
          onProgress: (p) => {
            if (asked === null && p.phase === 'download' && p.bytes >= 400_000) asked = Janus.JanusClient.availability(model);
          },
        });
        states.push(await asked, await Janus.JanusClient.availability(model));
        await Janus.JanusClient.deleteCachedModel(model);
        states.push(await Janus.JanusClient.availability(model));
        return states;
      } finally {
        client.dispose();
      }
    }, model);
  } finally {
    await gpu.browser.close();
  }
  const none = await openClientPage(appBase, [...BASE_ARGS]);
  try {
    got.push(await none.page.evaluate((model) => Janus.JanusClient.availability(model), model));
  } finally {
    await none.browser.close();
  }
  console.log(`   ${got.map((a) => `${a.state} (${a.storedBytes} of ${a.totalBytes})`).join(' -> ')}`);
  const [before, during, after, deleted, noGpu] = got;
  check(before.state === 'downloadable' && before.storedBytes === 0 && before.totalBytes === null, `before: ${JSON.stringify(before)}`);
  check(during.state === 'downloading' && during.storedBytes > 0 && during.storedBytes < during.totalBytes, `during: ${JSON.stringify(during)}`);
  check(after.state === 'available' && after.storedBytes === after.totalBytes && after.totalBytes > 0, `after: ${JSON.stringify(after)}`);
  check(deleted.state === 'downloadable' && deleted.storedBytes === 0, `deleted: ${JSON.stringify(deleted)}`);
  check(noGpu.state === 'unavailable', `without WebGPU: ${JSON.stringify(noGpu)}`);
}

/** The worker's download stops at once on the caller's AbortSignal; the next load resumes. */
async function clientCancelResume(appBase) {
  const { browser, page } = await openClientPage(appBase);
  try {
    const got = await page.evaluate(async (model) => {
      const client = await Janus.JanusClient.create();
      try {
        const chunkBytes = 128 * 1024;
        const controller = new AbortController();
        let abortedAt = 0;
        const events = [];
        const error = await t.rejection(
          client.load(model, {
            chunkBytes,
            signal: controller.signal,
            onProgress: (p) => {
              if (p.phase !== 'download') return;
              events.push({ bytes: p.bytes, total: p.total, rate: p.rate, eta: p.etaSeconds, file: p.file });
              if (p.bytes >= 4 * chunkBytes && abortedAt === 0) {
                abortedAt = performance.now();
                controller.abort();
              }
            },
          }),
        );
        const rejectedMs = performance.now() - abortedAt;
        await client.unload(); // queued behind the dropped load: resolves once the worker is idle
        const idleMs = performance.now() - abortedAt;
        const partial = (await Janus.JanusClient.cachedModels()).find((m) => m.key === model);
        const report = await client.load(model, { chunkBytes });
        const after = (await Janus.JanusClient.cachedModels()).find((m) => m.key === model);
        await Janus.JanusClient.deleteCachedModel(model);
        return { error, rejectedMs, idleMs, events, partial, download: report.download, after };
      } finally {
        client.dispose();
      }
    }, `${appBase}fault/drip=400000/models/tiny-b-hf/`);
    const last = got.events.at(-1);
    console.log(
      `   aborted at ${last?.bytes} of ${last?.total} bytes (${(last?.rate / 1024).toFixed(0)} KiB/s, ETA ${last?.eta?.toFixed(1)} s): ` +
        `${got.error.code} after ${got.rejectedMs.toFixed(0)} ms, worker idle after ${got.idleMs.toFixed(0)} ms; kept ${got.partial?.storedBytes} bytes; the next load resumed ${got.download.resumedBytes} and fetched ${got.download.fetchedBytes}`,
    );
    check(got.error.code === 'aborted' && got.rejectedMs < 1000, `cancel: ${JSON.stringify(got.error)} after ${got.rejectedMs} ms`);
    // The download itself stops at once (fetch aborted), not after the 6 s the drip would take.
    check(got.idleMs < 3000, `cancel: the worker was busy for ${got.idleMs} ms after the abort`);
    check(got.events.some((e) => e.rate > 0 && e.eta !== null), 'cancel: download progress never reported a rate and an ETA');
    check(got.partial !== undefined && !got.partial.complete && got.partial.storedBytes >= 3 * 128 * 1024, `cancel: partial ${JSON.stringify(got.partial)}`);
    check(got.download.resumedBytes >= 3 * 128 * 1024, `resume after cancel: ${JSON.stringify(got.download)}`);
    check(got.after?.complete === true, `resume after cancel: ${JSON.stringify(got.after)}`);
    figures.clientCancel = { rejectedMs: Math.round(got.rejectedMs), idleMs: Math.round(got.idleMs), kept: got.partial.storedBytes, resumed: got.download };
  } finally {
    await browser.close();
  }
}

// ---- 6. offline ---------------------------------------------------------------------------------

async function offlineLoad(appBase) {
  const weights = createServer({ root });
  const hub = (await weights.listen()).url;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...WEBGPU_ARGS] });
  const text = golden.cases.text;
  const messages = [
    { role: 'user', content: text.turns[0] },
    { role: 'assistant', content: text.turns[1] },
    { role: 'user', content: text.turns[2] },
  ];
  const options = { system: text.system, maxNewTokens: 4, temperature: 0 };
  const want = text.output_ids.slice(0, 4);
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.log(`   [pageerror] ${error.message}`));
    // Every request the page and its worker make, and how many there were when the model had
    // loaded (the page calls window.modelLoaded(), a CDP binding, not a request).
    const requests = [];
    let atLoad = null;
    page.context().on('request', (request) => requests.push(request.url()));
    await page.exposeFunction('modelLoaded', () => {
      atLoad = requests.length;
    });
    const session = async ({ whole = false } = {}) => {
      requests.length = 0;
      atLoad = null;
      await page.goto(`${appBase}pages/client.html`);
      await page.waitForFunction(() => window.janusReady === true, null, { timeout: 30_000 });
      return page.evaluate(
        async ({ hub, messages, options, whole }) => {
          const client = await Janus.JanusClient.create();
          try {
            const report = await client.load('janus-web/tiny-a', { hub, chunkBytes: 256 * 1024 });
            await window.modelLoaded();
            const chat = await t.collect(client.chat(messages, options));
            const got = { download: report.download, ids: chat.result?.ids ?? null, error: chat.error };
            if (whole) {
              // The rest of a session: a picture the user attaches, a reply about it, two images.
              const pixels = new Uint8ClampedArray(32 * 24 * 4).map((_, i) => (i * 37) % 256);
              const picture = new ImageData(pixels, 32, 24);
              const described = await t.collect(
                client.chat([{ role: 'user', content: 'What is in this picture?', images: [picture] }], { maxNewTokens: 3, temperature: 0 }),
              );
              const images = await client.generateImage('a lighthouse at dusk', { count: 1, seed: 7 });
              got.whole = { described: described.result?.ids.length ?? described.error, images: images.images.length };
            }
            return got;
          } catch (e) {
            return { error: { code: e.code, message: e.message } };
          } finally {
            client.dispose();
          }
        },
        { hub, messages, options, whole },
      );
    };
    const online = await session();
    console.log(`   online: ${JSON.stringify(online.download ?? online.error)}; ids ${JSON.stringify(online.ids)}`);
    check(online.download?.cache === 'indexeddb' && online.download.fetchedBytes > 0, `offline test, first load: ${JSON.stringify(online)}`);
    check(JSON.stringify(online.ids) === JSON.stringify(want), `offline test, first chat ids ${JSON.stringify(online.ids)} != golden ${JSON.stringify(want)}`);
    // A stored chunk damaged on disk: the engine's read finds it, the worker fetches that chunk
    // again and loads once more; the reply is unchanged.
    await page.evaluate(
      ({ key }) =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('janus-weights');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const tx = open.result.transaction('chunks', 'readwrite');
            const chunks = tx.objectStore('chunks');
            const get = chunks.get([key, 1]);
            get.onsuccess = () => {
              const row = get.result;
              row.bytes[100] ^= 0xff;
              chunks.put(row);
            };
            tx.oncomplete = () => {
              open.result.close();
              resolve();
            };
            tx.onerror = () => reject(tx.error);
          };
        }),
      { key: `${hub}janus-web/tiny-a/resolve/main/\nmodel-00002-of-00002.safetensors` },
    );
    const repaired = await session();
    console.log(`   a damaged stored chunk: ${JSON.stringify(repaired.download ?? repaired.error)}; ids ${JSON.stringify(repaired.ids)}`);
    // Chunk 1 alone (256 KiB records) is fetched again.
    check(repaired.download?.repairs === 1 && repaired.download.fetchedBytes === 256 * 1024, `repair during load: ${JSON.stringify(repaired)}`);
    check(JSON.stringify(repaired.ids) === JSON.stringify(want), `chat after the repair: ids ${JSON.stringify(repaired.ids)}`);
    await weights.close();
    const offline = await session({ whole: true });
    console.log(`   weights server stopped, page reloaded: ${JSON.stringify(offline.download ?? offline.error)}; ids ${JSON.stringify(offline.ids)}`);
    check(offline.download?.fetchedBytes === 0 && offline.download.requests === 0, `offline load: ${JSON.stringify(offline)}`);
    check(JSON.stringify(offline.ids) === JSON.stringify(want), `offline chat ids ${JSON.stringify(offline.ids)} != golden ${JSON.stringify(want)}`);
    // The privacy promise: once the weights are stored, a whole session (load, chat, a chat about
    // a picture, an image generated) asks nothing of any server but the page's own files, and
    // nothing at all once the model is loaded: no prompt or picture leaves the browser.
    check(offline.whole?.described === 3 && offline.whole.images === 1, `offline session: ${JSON.stringify(offline.whole ?? offline.error)}`);
    const origin = new URL(appBase).origin;
    const foreign = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:'));
    check(foreign.length === 0, `offline session: requests to other origins: ${JSON.stringify(foreign)}`);
    check(atLoad !== null && requests.length === atLoad, `offline session: requests after the model loaded: ${JSON.stringify(requests.slice(atLoad ?? 0))}`);
    console.log(`   a whole offline session: ${atLoad} requests for the page's own files before the model loaded, 0 after (chat, a chat about a picture, an image)`);
    figures.offline = {
      online: online.download,
      repaired: repaired.download,
      offline: offline.download,
      ids: offline.ids,
      sessionRequests: { beforeLoad: atLoad, afterLoad: requests.length - atLoad, foreign: foreign.length },
    };
  } finally {
    await browser.close();
    await weights.close().catch(() => undefined);
  }
}

// ---- 7. a pack ---------------------------------------------------------------------------------

/**
 * `janus pack`'s q4 pack of tiny-a (tests/fixtures/models/tiny-a-q4-pack, 19 shards with row
 * parts) into IndexedDB, each file verified against the manifest's SHA-256, loaded and chatted
 * with: the same tokens as tiny-a loaded with `quant: 'q4'` (the same packed weights), in fewer
 * downloaded bytes.
 */
async function packLoad(appBase) {
  const weights = createServer({ root });
  const hub = (await weights.listen()).url;
  const { browser, page } = await openClientPage(appBase);
  const text = golden.cases.text;
  const messages = [{ role: 'user', content: text.turns[0] }];
  try {
    const run = (model, quant) =>
      page.evaluate(
        async ({ hub, model, quant, messages, system }) => {
          const client = await Janus.JanusClient.create(quant === null ? {} : { quant });
          try {
            const report = await client.load(model, { hub });
            const chat = await t.collect(client.chat(messages, { system, maxNewTokens: 6, temperature: 0 }));
            return { pack: report.pack ?? null, quantized: report.quantizedTensors, download: report.download, ids: chat.result?.ids ?? null, error: chat.error };
          } catch (e) {
            return { error: { code: e.code, message: e.message } };
          } finally {
            client.dispose();
          }
        },
        { hub, model, quant, messages, system: text.system },
      );
    const source = await run('janus-web/tiny-a', 'q4');
    const pack = await run('janus-web/tiny-a-q4', null);
    console.log(`   tiny-a at q4: ${source.quantized} quantised, ${source.download?.fetchedBytes} bytes fetched; ids ${JSON.stringify(source.ids)}`);
    console.log(`   its pack: format ${pack.pack}, ${pack.quantized} quantised, ${pack.download?.fetchedBytes} bytes fetched; ids ${JSON.stringify(pack.ids ?? pack.error)}`);
    check(pack.pack === 'q4' && pack.quantized === source.quantized && source.quantized > 0, `pack load: ${JSON.stringify(pack)}`);
    check(Array.isArray(pack.ids) && JSON.stringify(pack.ids) === JSON.stringify(source.ids), `pack chat ids ${JSON.stringify(pack.ids)} != tiny-a at q4 ${JSON.stringify(source.ids)}`);
    check(pack.download.fetchedBytes < source.download.fetchedBytes, 'the pack downloads fewer bytes than its source');
    const hashes = await page.evaluate(
      (prefix) =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('janus-weights');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const all = open.result.transaction('files').objectStore('files').getAll();
            all.onsuccess = () => {
              open.result.close();
              resolve(all.result.filter((f) => f.key.startsWith(prefix)).map((f) => [f.path, f.hashSource, f.complete]));
            };
            all.onerror = () => reject(all.error);
          };
        }),
      `${hub}janus-web/tiny-a-q4/`,
    );
    const unverified = hashes.filter(([file, source, complete]) => file !== 'janus-pack.json' && (source !== 'manifest' || !complete));
    check(hashes.length === 23 && unverified.length === 0, `pack files in the store: ${JSON.stringify(hashes)}`);
    figures.pack = { source: source.download, pack: pack.download, ids: pack.ids, files: hashes.length };
  } finally {
    await browser.close();
    await weights.close().catch(() => undefined);
  }
}

// ---- 8. the quantised form kept --------------------------------------------------------------

/**
 * A q4 engine loads tiny-a shard by shard (`shardByShard: true`; 'auto' does so where the download
 * and the pack do not fit the quota together, store/space.ts): each shard's first chunk is stored
 * first, each shard is fetched when the engine reaches it and deleted before the next. The page
 * polls the store while the shards drip in: at most one shard is stored at once (the whole
 * download is 1.97 MB, the larger shard 1.09 MB). The pack is written, the download released,
 * and the tokens are those of the same model loaded whole.
 */
async function shardByShardLoad(appBase) {
  const weights = createServer({ root });
  const hub = (await weights.listen()).url;
  const { browser, page } = await openClientPage(appBase);
  const text = golden.cases.text;
  const messages = [{ role: 'user', content: text.turns[0] }];
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((f) => statSync(path.join(root, 'tests/fixtures/models/tiny-a-hf', f)).size);
  try {
    const run = (hubRoot, shardByShard) =>
      page.evaluate(
        async ({ hubRoot, shardByShard, messages, system }) => {
          const client = await Janus.JanusClient.create({ quant: 'q4' });
          const base = `${hubRoot}janus-web/tiny-a/resolve/main/`;
          // The source's stored bytes, sampled every 50 ms through the load.
          let most = 0;
          let polling = true;
          const poll = (async () => {
            while (polling) {
              const source = (await Janus.JanusClient.cachedModels()).find((m) => m.key === base);
              most = Math.max(most, source?.storedBytes ?? 0);
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })();
          try {
            const report = await client.load('janus-web/tiny-a', { hub: hubRoot, chunkBytes: 64 * 1024, shardByShard });
            polling = false;
            await poll;
            const chat = await t.collect(client.chat(messages, { system, maxNewTokens: 6, temperature: 0 }));
            const stored = (await Janus.JanusClient.cachedModels()).filter((m) => m.key.startsWith(base)).map((m) => [m.key.slice(base.length), m.complete]);
            return { download: report.download, packWritten: report.packWritten, most, ids: chat.result?.ids ?? null, error: chat.error, stored };
          } catch (e) {
            return { error: { code: e.code, message: e.message } };
          } finally {
            polling = false;
            client.dispose();
          }
        },
        { hubRoot, shardByShard, messages, system: text.system },
      );
    const whole = await run(hub, false);
    console.log(`   whole: ${JSON.stringify(whole.download ?? whole.error)}; most stored ${whole.most}; ids ${JSON.stringify(whole.ids)}`);
    check(whole.packWritten === true && whole.download?.shardByShard === undefined && Array.isArray(whole.ids), `whole load: ${JSON.stringify(whole)}`);
    const byShard = await run(`${hub}fault/drip=400000/`, true);
    console.log(`   shard by shard: ${JSON.stringify(byShard.download ?? byShard.error)}; most stored ${byShard.most} (shards ${shards.join(' + ')}); stored after ${JSON.stringify(byShard.stored)}; ids ${JSON.stringify(byShard.ids)}`);
    check(byShard.download?.shardByShard === true && byShard.download.pack === 'written' && byShard.download.sourceReleased === true, `shard-by-shard load: ${JSON.stringify(byShard)}`);
    check(byShard.download.fetchedBytes >= shards[0] + shards[1], `every shard fetched and counted: ${byShard.download.fetchedBytes}`);
    check(byShard.most >= Math.max(...shards) / 2 && byShard.most < Math.max(...shards) + 200_000, `at most one shard stored at once: ${byShard.most} bytes at the most`);
    check(JSON.stringify(byShard.stored) === JSON.stringify([['janus-pack-q4/', true]]), `stored after: ${JSON.stringify(byShard.stored)}`);
    check(JSON.stringify(byShard.ids) === JSON.stringify(whole.ids), `ids shard by shard ${JSON.stringify(byShard.ids)} != whole ${JSON.stringify(whole.ids)}`);
    figures.shardByShard = { whole: whole.download, byShard: byShard.download, mostStoredBytes: byShard.most, shardBytes: shards };
  } finally {
    await browser.close();
    await weights.close().catch(() => undefined);
  }
}

/**
 * A q4 engine loads tiny-a (bf16): the engine writes the model's pack as it loads, the worker
 * stores it and releases the bf16 download; the next load reads the pack (nothing fetched, no
 * quantising), also with the server stopped and from an engine created without `quant`; the
 * same tokens every time.
 */
async function packCache(appBase) {
  const weights = createServer({ root });
  const hub = (await weights.listen()).url;
  const { browser, page } = await openClientPage(appBase);
  const text = golden.cases.text;
  const messages = [{ role: 'user', content: text.turns[0] }];
  const base = `${hub}janus-web/tiny-a/resolve/main/`;
  try {
    const run = (quant) =>
      page.evaluate(
        async ({ hub, quant, messages, system }) => {
          const client = await Janus.JanusClient.create(quant === null ? {} : { quant });
          try {
            const report = await client.load('janus-web/tiny-a', { hub });
            const chat = await t.collect(client.chat(messages, { system, maxNewTokens: 6, temperature: 0 }));
            const stored = (await Janus.JanusClient.cachedModels()).map((m) => [m.key, m.complete, m.bytes]);
            return { pack: report.pack ?? null, packWritten: report.packWritten, download: report.download, ids: chat.result?.ids ?? null, error: chat.error, stored };
          } catch (e) {
            return { error: { code: e.code, message: e.message } };
          } finally {
            client.dispose();
          }
        },
        { hub, quant, messages, system: text.system },
      );
    const first = await run('q4');
    console.log(`   first q4 load: ${JSON.stringify(first.download ?? first.error)}; stored ${JSON.stringify(first.stored)}; ids ${JSON.stringify(first.ids)}`);
    check(first.packWritten === true && first.download?.pack === 'written' && first.download.sourceReleased === true, `first load: ${JSON.stringify(first)}`);
    const keys = (first.stored ?? []).map(([key, complete]) => `${key}:${complete}`);
    check(JSON.stringify(keys) === JSON.stringify([`${base}janus-pack-q4/:true`]), `stored after the first load: ${JSON.stringify(first.stored)}`);
    const second = await run('q4');
    console.log(`   second q4 load: ${JSON.stringify(second.download ?? second.error)}; ids ${JSON.stringify(second.ids)}`);
    check(second.download?.pack === 'loaded' && second.download.fetchedBytes === 0 && second.pack === 'q4', `second load: ${JSON.stringify(second)}`);
    check(Array.isArray(first.ids) && JSON.stringify(second.ids) === JSON.stringify(first.ids), `ids from the stored pack ${JSON.stringify(second.ids)} != ${JSON.stringify(first.ids)}`);
    await weights.close();
    const offline = await run(null);
    console.log(`   server stopped, an engine without quant: ${JSON.stringify(offline.download ?? offline.error)}; ids ${JSON.stringify(offline.ids)}`);
    check(offline.download?.pack === 'loaded' && offline.download.requests === 0 && offline.pack === 'q4', `offline load: ${JSON.stringify(offline)}`);
    check(JSON.stringify(offline.ids) === JSON.stringify(first.ids), `offline ids ${JSON.stringify(offline.ids)}`);
    figures.packCache = { first: first.download, second: second.download, offline: offline.download, stored: first.stored };
  } finally {
    await browser.close();
    await weights.close().catch(() => undefined);
  }
}

// ---- a first load reads the shards while they download --------------------------------------

/**
 * A first load reads the shards while they download (web/src/store/background.ts): tiny-a
 * (two shards) served at 300 kB/s, the engine reports its first shard's weights read while the
 * second is still downloading (a load that downloaded first reports none before the last byte),
 * the model is stored whole, and a later load from the store chats the same tokens. Then the server changes a file under such a load (tiny-b: a dropped connection, and the
 * request resuming it gets another version): the engine has read the old version's chunks, so
 * the worker loads again from the start (repairs 1) and finishes.
 */
async function streamedLoad(appBase) {
  const { browser, page } = await openClientPage(appBase);
  const chunkBytes = 64 * 1024;
  const model = `${appBase}fault/drip=300000/models/tiny-a-hf/`;
  const changing = `${appBase}fault/drip=400000,etag-change=3,drop-at=${10 * 128 * 1024 + 9}/models/tiny-b-hf/`;
  try {
    const got = await page.evaluate(
      async ({ model, changing, chunkBytes }) => {
        const client = await Janus.JanusClient.create();
        const chat = async () => (await t.collect(client.chat([{ role: 'user', content: 'hi' }], { maxNewTokens: 4, temperature: 0 }))).result?.ids ?? null;
        const timed = async (url, chunks = chunkBytes) => {
          const started = performance.now();
          const at = { weights: null, downloaded: null };
          const report = await client.load(url, {
            chunkBytes: chunks,
            onProgress: (p) => {
              const s = (performance.now() - started) / 1000;
              if (p.phase === 'weights') at.weights ??= s;
              // The last such event: while the file list is read, the total is not known yet.
              if (p.phase === 'download' && p.total > 0 && p.bytes === p.total) at.downloaded = s;
            },
          });
          return { download: report.download, at, readyS: (performance.now() - started) / 1000 };
        };
        try {
          const first = await timed(model);
          const chatStarted = performance.now();
          const firstIds = await chat();
          const chatS = (performance.now() - chatStarted) / 1000;
          const stored = (await Janus.JanusClient.cachedModels()).find((m) => m.key === model) ?? null;
          const again = await timed(model);
          const againIds = await chat();
          const changed = await timed(changing, 128 * 1024).catch((e) => ({ error: { code: e.code, message: e.message } }));
          const changedIds = changed.error === undefined ? await chat() : null;
          for (const url of [model, changing]) await Janus.JanusClient.deleteCachedModel(url);
          return { first, firstIds, chatS, stored, again, againIds, changed, changedIds };
        } finally {
          client.dispose();
        }
      },
      { model, changing, chunkBytes },
    );
    const { first, again, changed } = got;
    console.log(
      `   first load: weights from ${first.at.weights?.toFixed(1)} s, last byte stored at ${first.at.downloaded?.toFixed(1)} s, ready at ${first.readyS.toFixed(1)} s ` +
        `(${first.download.fetchedBytes} bytes fetched); from the store: ${again.readyS.toFixed(1)} s, ${again.download.fetchedBytes} fetched; chat ${got.chatS.toFixed(1)} s; ids ${JSON.stringify(got.firstIds)} / ${JSON.stringify(got.againIds)}`,
    );
    console.log(`   the file changed under the load: ${changed.error === undefined ? `ready at ${changed.readyS.toFixed(1)} s, ${JSON.stringify(changed.download)}` : JSON.stringify(changed.error)}`);
    check(first.at.weights !== null && first.at.downloaded !== null, `progress: ${JSON.stringify(first.at)}`);
    check(first.at.weights + 1 < first.at.downloaded, `the engine read weights only ${(first.at.downloaded - first.at.weights).toFixed(1)} s before the download ended: not read while it downloaded`);
    check(got.stored?.complete === true && got.stored.storedBytes === got.stored.bytes, `stored after a streamed load: ${JSON.stringify(got.stored)}`);
    check(again.download.fetchedBytes === 0 && again.download.requests === 0, `the second load fetched: ${JSON.stringify(again.download)}`);
    check(Array.isArray(got.firstIds) && got.firstIds.length > 0 && JSON.stringify(got.firstIds) === JSON.stringify(got.againIds), `ids: streamed ${JSON.stringify(got.firstIds)}, stored ${JSON.stringify(got.againIds)}`);
    check(changed.error === undefined, `the load of a file changed under it: ${JSON.stringify(changed.error)}`);
    check(changed.download.repairs === 1, `a file changed under the load is loaded again: ${JSON.stringify(changed.download)}`);
    check(Array.isArray(got.changedIds) && got.changedIds.length > 0, `chat after the changed file: ${JSON.stringify(got.changedIds)}`);
    figures.streamedLoad = { first, again, changed };
  } finally {
    await browser.close();
  }
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  check(statSync(path.join(root, 'web/dist/janus.js')).isFile(), 'web/dist is not built');
  await build({
    entryPoints: [path.join(root, 'web/test/pages/store-harness.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outfile: path.join(artifacts, 'test-dist/store-harness.js'),
    logLevel: 'warning',
  });
  const server = createServer({
    root,
    mounts: { ...DEFAULT_MOUNTS, '/test-dist/': 'tests/artifacts/test-dist', '/artifact-models/': 'tests/artifacts/models' },
  });
  const { url } = await server.listen();
  console.log(`server ${url}; chromium ${CHROMIUM}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS] });
  try {
    const context = await browser.newContext();
    const page = await openStorePage(context, url);
    await step('every fault mode, into IndexedDB', () => faultModes(page, server, url));
    await step("the page's Markdown renderer sanitises hostile replies", () => markdownSanitised(page));
    await page.close();
    await step('a reload mid-download resumes from the last verified chunk', () => reloadResumes(context, server, url));
    await step('a deleted chunk is fetched alone; a deleted database is refilled', () => repairAndEviction(context, server, url));
    await step('S4 a transaction awaiting a fetch auto-commits (raw); the store\'s methods between fetches never meet it', () => transactionScope(context, url));
    await step('S9 other schemas: a newer one is left untouched, a foreign one cleared, records of another shape fetched again', () => schemaVersions(context, server, url));
    await step('two pages load one model at once: downloaded once', () => twoPages(context, server, url));
    await step('throughput: a 73.5 MiB model into IndexedDB and back', () => throughput(context, url));
    await context.close();
    await step('quota (CDP override): a write past it keeps the verified part; resumes with room', () => quotaOverride(server, url));
    await step('quota (a real full disk: profile on a 48 MiB tmpfs)', () => quotaTmpfs(url));
    await step('the client cancels a download at once; the next load resumes it', () => clientCancelResume(url));
    await step('S10 IndexedDB refuses to open: the load streams and says why; the database is left as it was', () => storageRefused(url));
    await step('U1 availability(): downloadable, downloading (asked from the page while the worker downloads), available; unavailable without WebGPU', () => availabilityStates(url));
    await step('H2 a cross-origin-isolated page (COOP, COEP): weights from an origin with CORS load; without CORS, a network error naming it', () => isolatedPage(url));
    await step("M6 the engine's worker stopped for 3 s mid-download, the tab throttled: the load completes, nothing fetched twice", () => frozenTab(url, server));
    await step('a first load reads the shards while they download; a file changed under it is loaded again', () => streamedLoad(url));
    await step('a cached model loads and chats with the weights server stopped, after a reload', () => offlineLoad(url));
    await step('a q4 pack: verified by its manifest, loads and chats as its source at q4', () => packLoad(url));
    await step('a q4 engine stores the pack it wrote while loading; later loads read it, offline too', () => packCache(url));
    await step('a q4 engine loads a sharded model shard by shard: one shard stored at a time, the pack written, the same tokens', () => shardByShardLoad(url));
  } finally {
    await browser.close();
    figures.serverStats = { requests: server.stats().requests, bytes: server.stats().bytes };
    writeFileSync(path.join(artifacts, 'store-e2e.json'), `${JSON.stringify(figures, null, 2)}\n`);
    await server.close();
  }
}

finish('weight store e2e', main, '; figures in tests/artifacts/store-e2e.json');
