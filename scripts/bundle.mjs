// The browser bundles: web/src + web/app -> web/dist (npm run bundle, after the wasm is built).
//
//   web/dist/janus.js     the client library (ES module)
//   web/dist/worker.js    the engine worker (ES module)
//   web/dist/app.js       the page
//   web/dist/janus_web_bg.wasm
//   web/dist/sw.js        the page's service worker, which keeps the app shell for offline use
//
// The service worker is built last, with the list of shell files and a version that is the
// SHA-256 of their bytes: any change to the shell changes sw.js, so the browser installs the new
// shell beside the old one and the page offers to switch (web/app/update.ts).

import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'web/dist');
const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };

rmSync(dist, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { janus: 'web/src/index.ts', worker: 'web/src/worker.ts', app: 'web/app/main.ts' },
  outdir: dist,
  absWorkingDir: root,
});
copyFileSync(path.join(root, 'web/pkg/janus_web_bg.wasm'), path.join(dist, 'janus_web_bg.wasm'));

// What the page needs to start with no network, as URLs relative to sw.js (the site root), and
// where each one is in this checkout. './' is index.html (the dev server's '/').
const shell = [
  ['./', 'index.html'],
  ['app/style.css', 'web/app/style.css'],
  ['dist/app.js', 'web/dist/app.js'],
  ['dist/worker.js', 'web/dist/worker.js'],
  ['dist/janus_web_bg.wasm', 'web/dist/janus_web_bg.wasm'],
];
const hash = createHash('sha256');
for (const [url, file] of shell) hash.update(url).update('\0').update(readFileSync(path.join(root, file)));
const version = hash.digest('hex').slice(0, 16);
await build({
  ...common,
  format: 'iife',
  entryPoints: { sw: 'web/app/sw.ts' },
  outdir: dist,
  absWorkingDir: root,
  define: { __SHELL__: JSON.stringify({ version, files: shell.map(([url]) => url) }) },
});
console.log(`bundled web/dist (app shell ${version})`);
