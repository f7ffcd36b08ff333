// node web/test/bench-load.mjs --model DIR (or npm run bench:load -- --model DIR): how long a
// full-size model takes to become ready in the page, the first time (downloaded into IndexedDB
// from a local server, so the network costs nothing) and on later visits (read from IndexedDB,
// the browser restarted in between, as on a real return visit). DIR is a model folder in
// Hugging Face layout: a `janus pack` (the hosted-pack path) or a bf16 checkpoint (the path of a
// model without a hosted pack: the first load quantises it while loading, stores the pack and
// releases the download). scripts/bench-load.sh writes both for a full-size Janus-1.3B with
// random weights. Prints the BENCHMARKS.md rows and writes
// tests/artifacts/bench-load-<model folder>.json. Figures, not assertions; a load that fails
// fails it.
//
//   node web/test/bench-load.mjs --model DIR [--quant q4|q8|none] [--visits N] [--rate MBPS]
// --rate serves the model at about MBPS megabytes per second (the test server's `drip`), as a
// home connection would, instead of as fast as this machine can.
// Env: CHROMIUM, JANUS_BENCH_ADAPTER_ARGS (Chromium flags replacing the SwiftShader ones).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, WEBGPU_ARGS } from './chromium.mjs';
import { DEFAULT_MOUNTS, createServer } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    quant: { type: 'string', default: 'q4' },
    visits: { type: 'string', default: '2' },
    rate: { type: 'string' },
  },
});
if (values.model === undefined) {
  console.error('usage: node web/test/bench-load.mjs --model DIR [--quant q4|q8|none] [--visits N]');
  process.exit(2);
}
const visits = Math.max(1, Number(values.visits));
const adapterArgs = process.env.JANUS_BENCH_ADAPTER_ARGS?.split(' ').filter(Boolean) ?? WEBGPU_ARGS;
const MIB = 2 ** 20;

const modelPath = values.rate === undefined ? '/bench-model/' : `/fault/drip=${Math.round(Number(values.rate) * 1e6)}/bench-model/`;
const server = createServer({ root, mounts: { ...DEFAULT_MOUNTS, '/bench-model/': path.resolve(values.model) } });
const { url } = await server.listen();
// One profile for every visit: the IndexedDB cache outlives the browser, as on a real machine.
const profile = mkdtempSync(path.join(os.tmpdir(), 'janus-bench-load-'));
const rows = [];
try {
  for (let visit = 1; visit <= visits; visit += 1) {
    server.resetStats();
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [...BASE_ARGS, ...adapterArgs],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(3_600_000);
      page.on('console', (m) => console.error(`[page] ${m.text()}`));
      const pageErrors = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(new URL('pages/client.html', url).href);
      await page.waitForFunction(() => window.janusReady === true);
      const result = await page.evaluate(async ({ quant, modelPath }) => {
        const started = performance.now();
        const client = await window.Janus.JanusClient.create({ quant });
        const engineMs = performance.now() - started;
        // Seconds from the start of the load at which each phase first reported.
        const phases = {};
        const loadStarted = performance.now();
        // When the download's last byte was stored (the engine reads while it downloads).
        let downloadedS = null;
        // What the store holds through the load (the browser's usage figure, every 2 s): a first
        // visit keeps the download and the pack, whole or shard by shard (web/src/store/space.ts).
        let storedPeak = 0;
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            storedPeak = Math.max(storedPeak, (await navigator.storage.estimate()).usage ?? 0);
            await new Promise((resolve) => setTimeout(resolve, 2000));
          }
        })();
        const report = await client.load(modelPath, {
          onProgress: (p) => {
            phases[p.phase] ??= (performance.now() - loadStarted) / 1000;
            if (p.phase === 'download' && p.total > 0 && p.bytes === p.total) downloadedS = (performance.now() - loadStarted) / 1000;
          },
        }).finally(() => {
          sampling = false;
        });
        const loadS = (performance.now() - loadStarted) / 1000;
        await sampler;
        const estimate = await navigator.storage.estimate();
        const adapter = client.deviceInfo.adapter;
        client.dispose?.();
        return { engineMs, loadS, phases, downloadedS, report, usage: estimate.usage, quota: estimate.quota, storedPeak, adapter };
      }, { quant: values.quant, modelPath });
      if (pageErrors.length > 0) throw new Error(`the page failed during the load:\n${pageErrors.join('\n')}`);
      // The model's files only (the page, the bundle and the wasm come from the same server).
      const model = Object.entries(server.stats().paths).filter(([p]) => p.startsWith(modelPath));
      const served = {
        bytes: model.reduce((n, [, e]) => n + e.bytes, 0),
        requests: model.reduce((n, [, e]) => n + e.requests, 0),
      };
      const r = result.report;
      const row = {
        visit,
        adapter: result.adapter,
        engineStartS: result.engineMs / 1000,
        loadS: result.loadS,
        phases: result.phases,
        downloadedS: result.downloadedS,
        rateMBps: values.rate === undefined ? null : Number(values.rate),
        servedBytes: served.bytes,
        servedRequests: served.requests,
        storedBytes: result.usage,
        storedPeakBytes: result.storedPeak,
        quotaBytes: result.quota,
        shardByShard: r.download?.shardByShard ?? false,
        wasmBeforeBytes: r.wasmMemoryBefore,
        wasmPeakBytes: r.wasmMemoryPeak,
        pack: r.download?.pack ?? null,
        sourceReleased: r.download?.sourceReleased ?? null,
        checkpointBytes: r.checkpointBytes,
        parameters: r.parameters,
      };
      rows.push(row);
      console.log(
        `visit ${visit}: ready in ${row.loadS.toFixed(1)} s (engine start ${row.engineStartS.toFixed(1)} s); ` +
          `served ${(row.servedBytes / MIB).toFixed(0)} MiB in ${row.servedRequests} requests; ` +
          `IndexedDB ${(row.storedBytes / MIB).toFixed(0)} MiB (at most ${(row.storedPeakBytes / MIB).toFixed(0)} MiB while loading, ` +
          `quota ${(row.quotaBytes / MIB).toFixed(0)} MiB${row.shardByShard ? ', shard by shard' : ''}); wasm ${(row.wasmBeforeBytes / MIB).toFixed(0)} MiB before, ` +
          `${(row.wasmPeakBytes / MIB).toFixed(0)} MiB peak; ` +
          `pack ${row.pack}; phases ${JSON.stringify(row.phases)}; ` +
          `downloaded at ${row.downloadedS === null ? '-' : `${row.downloadedS.toFixed(1)} s`}${row.rateMBps === null ? '' : ` (served at ${row.rateMBps} MB/s)`}`,
      );
    } finally {
      await context.close();
    }
  }
} finally {
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}

const gb = (b) => (b / 1e9).toFixed(2);
console.log(`\n| adapter | model | visit | served GB | ready s | stored at most GB | IndexedDB GB after | wasm peak MiB |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const row of rows) {
  const what = row.visit === 1 ? '1 (download)' : `${row.visit} (cached, browser restarted)`;
  console.log(
    `| ${row.adapter} | ${path.basename(path.resolve(values.model))}, quant ${values.quant} | ${what} | ${gb(row.servedBytes)} | ` +
      `${row.loadS.toFixed(1)} | ${gb(row.storedPeakBytes)}${row.shardByShard ? ' (shard by shard)' : ''} | ${gb(row.storedBytes)} | ${(row.wasmPeakBytes / MIB).toFixed(0)} |`,
  );
}
mkdirSync(path.join(root, 'tests/artifacts'), { recursive: true });
writeFileSync(
  path.join(root, `tests/artifacts/bench-load-${path.basename(path.resolve(values.model))}.json`),
  `${JSON.stringify({ model: values.model, quant: values.quant, rows }, null, 2)}\n`,
);
