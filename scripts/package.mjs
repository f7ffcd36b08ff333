// The npm package: web/src -> dist/ (npm run build:package; `npm pack` runs it first).
//
//   dist/janus.js            the client library: JanusClient, the registry, errors (ES module)
//   dist/elements.js         <janus-chat> and <janus-image>, defined on import (ES module)
//   dist/chunk-*.js          the code those two share, loaded once
//   dist/worker.js           the engine worker: one self-contained module
//   dist/janus_web_bg.wasm   the engine
//   dist/types/              TypeScript declarations of both entry points
//
// Dependencies (marked, DOMPurify, idb, hash-wasm) are bundled in: the files work as they are,
// from a bundler or served as plain files, with no bare import to resolve and nothing to fetch at
// run time but the weights. The client finds worker.js and the wasm with
// `new URL('./file', import.meta.url)`, which bundlers follow and emit as assets.
// Needs the wasm built first (bash scripts/build-web.sh --wasm-only writes web/pkg).

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const wasm = path.join(root, 'web/pkg/janus_web_bg.wasm');
if (!existsSync(wasm)) {
  console.error('package: web/pkg/janus_web_bg.wasm is missing; build the wasm first: bash scripts/build-web.sh');
  process.exit(1);
}
const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning', absWorkingDir: root, outdir: dist };

rmSync(dist, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { janus: 'web/src/index.ts', elements: 'web/src/elements/index.ts' },
  splitting: true,
  chunkNames: 'chunk-[hash]',
});
// Its own build: a worker cannot share chunks that a bundler would not know to copy with it.
await build({ ...common, entryPoints: { worker: 'web/src/worker.ts' } });
copyFileSync(wasm, path.join(dist, 'janus_web_bg.wasm'));
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'web/tsconfig.package.json'], { cwd: root, stdio: ['ignore', 2, 2] });

const files = readdirSync(dist).filter((f) => !f.endsWith('.map'));
const bytes = files.reduce((sum, f) => sum + (statSync(path.join(dist, f)).isFile() ? statSync(path.join(dist, f)).size : 0), 0);
// On stderr: `npm pack --json` prints its report on stdout.
console.error(`package: dist/ ${files.join(', ')} (${(bytes / 2 ** 20).toFixed(1)} MiB without source maps)`);
