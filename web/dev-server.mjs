// The page's server for `npm start`: the page, its bundles, and models on this machine.
//
//   node web/dev-server.mjs [port]          (npm start builds first, then runs this)
//
// /                       index.html
// /sw.js                  the page's service worker (web/dist/sw.js; at the root so that its scope
//                         is the whole site)
// /dist/                  web/dist (app.js, janus.js, worker.js, the wasm)
// /app/                   web/app (the page's stylesheet)
// /models/tiny-test/      the committed tiny test model (random weights: noise by design)
// /models/<name>/         models/<name>/ of this checkout: put a model in Hugging Face layout there
//                         (config.json, tokenizer.json, *.safetensors) to use it with no network
// /__models               JSON list of those local models, for the page's picker
// It is the test server (web/test/server.mjs): HTTP Range, SHA-256 ETags, CORS, no caching.

import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from './test/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TINY = 'tests/fixtures/models/tiny-a-hf';
const LOCAL = 'models';

/** The local models: every folder under models/ with a config.json, and the tiny test model. */
export function localModels() {
  const models = [{ id: 'tiny-test', name: 'Tiny test model (random weights)', url: '/models/tiny-test/', bytes: folderBytes(path.join(root, TINY)), test: true }];
  mkdirSync(path.join(root, LOCAL), { recursive: true });
  for (const entry of readdirSync(path.join(root, LOCAL), { withFileTypes: true })) {
    const folder = path.join(root, LOCAL, entry.name);
    if (!entry.isDirectory() || entry.name === 'tiny-test') continue;
    try {
      statSync(path.join(folder, 'config.json'));
    } catch {
      continue;
    }
    models.push({ id: `local-${entry.name}`, name: `${entry.name} (this computer)`, url: `/models/${encodeURIComponent(entry.name)}/`, bytes: folderBytes(folder), test: false });
  }
  return models;
}

function folderBytes(folder) {
  return readdirSync(folder, { withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(path.join(folder, e.name)).size, 0);
}

export function createDevServer({ port = 0, log = null } = {}) {
  return createServer({
    root,
    port,
    log,
    index: 'index.html',
    mounts: {
      '/sw.js': 'web/dist/sw.js', // a one-file mount
      '/dist/': 'web/dist',
      '/app/': 'web/app',
      '/models/tiny-test/': TINY,
      '/models/': LOCAL,
      '/images/': 'tests/fixtures/images',
    },
    routes: {
      '/__models': async (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(localModels()));
      },
    },
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = createDevServer({ port: Number(process.argv[2] ?? process.env.PORT ?? 8080) });
  const { url } = await server.listen();
  console.log(`janus-web: open ${url} (models from ${path.join(root, LOCAL)}; Ctrl+C to stop)`);
}
