// npm run bench: issue 7's benchmark in headless Chromium on the WebGPU adapter at hand
// (SwiftShader here, a CPU implementation; a real GPU where Chromium has one). A full-size
// Janus-1.3B with random weights is built in the page and measured: load, GPU memory, prefill,
// decode, image steps, and decode bandwidth against the adapter's WGSL copy bandwidth. Prints the
// BENCHMARKS.md row and writes tests/artifacts/bench-web.json. Figures, not assertions.
//
//   node web/test/bench.mjs [--quant q4|q8|none] [--dtype f16|f32] [--prompt-tokens N]
//                           [--decode-tokens N] [--image-steps N] [--vq] [--preset ID]
//   node web/test/bench.mjs --kernels [--quant q4|q8] [--context N]
//     (each decode kernel alone at the preset's shapes; writes tests/artifacts/bench-kernels.json)
//   node web/test/bench.mjs --vq-convs
//     (each convolution of a VQ decode alone, the WGSL kernel and burn's conv2d; writes
//     tests/artifacts/bench-vq-convs.json)
//   --layout flat:LANES:UNROLL[:ROWS] | vector:ROWS: the matrix-vector kernels' layout instead of the
//     adapter's (measurements)
// Needs web/pkg (bash scripts/build-web.sh). Env: CHROMIUM, JANUS_BENCH_TIMEOUT_S (default 3600),
// JANUS_BENCH_ADAPTER_ARGS (Chromium flags replacing the SwiftShader ones, for a real GPU).

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, WEBGPU_ARGS } from './chromium.mjs';
import { DEFAULT_MOUNTS, createServer } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'janus-1.3b' },
    quant: { type: 'string', default: 'q4' },
    dtype: { type: 'string' },
    'prompt-tokens': { type: 'string', default: '16' },
    'decode-tokens': { type: 'string', default: '3' },
    'image-steps': { type: 'string', default: '32' },
    vq: { type: 'boolean', default: false },
    logprobs: { type: 'string' },
    kernels: { type: 'boolean', default: false },
    context: { type: 'string', default: '128' },
    'vq-convs': { type: 'boolean', default: false },
    layout: { type: 'string' },
  },
});
const options = {
  preset: values.preset,
  quant: values.quant,
  ...(values.dtype ? { dtype: values.dtype } : {}),
  promptTokens: Number(values['prompt-tokens']),
  decodeTokens: Number(values['decode-tokens']),
  imageSteps: Number(values['image-steps']),
  vqDecode: values.vq,
  ...(values.logprobs ? { logprobs: Number(values.logprobs) } : {}),
  ...(values.kernels ? { kernels: true, context: Number(values.context) } : {}),
  ...(values['vq-convs'] ? { vqConvs: true } : {}),
  ...(values.layout ? { layout: values.layout } : {}),
};
const timeoutMs = Number(process.env.JANUS_BENCH_TIMEOUT_S ?? 3600) * 1000;
const adapterArgs = process.env.JANUS_BENCH_ADAPTER_ARGS?.split(' ').filter(Boolean) ?? WEBGPU_ARGS;

const server = createServer({ root, mounts: { ...DEFAULT_MOUNTS, '/pkg/': 'web/pkg' } });
const { url } = await server.listen();
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...adapterArgs] });
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`[page] ${m.text()}`));
  // A GPU error (wgpu's handler panics in the browser's event) must not leave figures of work
  // that never ran: a refused launch returns at once and times as if it were fast.
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(new URL('pages/bench.html', url).href);
  await page.waitForFunction(() => window.benchReady === true);
  console.error(`benchmark ${JSON.stringify(options)} (this takes minutes on a CPU adapter)`);
  page.setDefaultTimeout(timeoutMs);
  const started = Date.now();
  const result = await page.evaluate((o) => window.runBench(o), options);
  console.error(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (pageErrors.length > 0) throw new Error(`the page failed during the benchmark; its figures are void:\n${pageErrors.join('\n')}`);
  if (values['vq-convs']) {
    console.log(result.adapter);
    console.log(result.markdown);
    mkdirSync(path.join(root, 'tests/artifacts'), { recursive: true });
    writeFileSync(path.join(root, 'tests/artifacts/bench-vq-convs.json'), `${JSON.stringify({ options, ...result }, null, 2)}\n`);
  } else if (values.kernels) {
    console.log(result.adapter);
    console.log(`copy ${result.copyGbps.toFixed(2)} GB/s`);
    console.log(result.markdown);
    mkdirSync(path.join(root, 'tests/artifacts'), { recursive: true });
    writeFileSync(path.join(root, 'tests/artifacts/bench-kernels.json'), `${JSON.stringify({ options, ...result }, null, 2)}\n`);
  } else {
    const mib = (b) => (b / 2 ** 20).toFixed(0);
    console.log(result.markdownHeader);
    console.log(result.markdownRow);
    console.log(`wasm memory: ${mib(result.wasmMemoryBefore)} MiB before, ${mib(result.wasmMemoryPeak)} MiB peak`);
    mkdirSync(path.join(root, 'tests/artifacts'), { recursive: true });
    writeFileSync(path.join(root, 'tests/artifacts/bench-web.json'), `${JSON.stringify({ options, ...result }, null, 2)}\n`);
  }
} finally {
  await browser.close();
  await server.close();
}
