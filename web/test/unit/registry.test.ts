// The model registry and model URLs (web/src/store/registry.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODELS, defaultModel, resolveModel, treeUrl } from '../../src/store/registry.js';

test('the registry: Janus-1.3B by default, Pro from the HF-native conversions, sane figures', () => {
  assert.equal(defaultModel().id, 'janus-1.3b');
  assert.deepEqual(MODELS.map((m) => m.id), ['janus-1.3b', 'janus-pro-1b', 'janus-pro-7b']);
  for (const model of MODELS) {
    assert.ok(model.files.includes('config.json') && model.files.includes('tokenizer.json'), model.id);
    assert.ok(model.gpuBytes.f16 < model.gpuBytes.f32, model.id);
    assert.ok(model.downloadBytes > model.parameters, model.id);
  }
  assert.equal(MODELS.find((m) => m.id === 'janus-pro-7b')?.repo, 'deepseek-community/Janus-Pro-7B');
});

test('ids, repositories and URLs resolve to base URLs', () => {
  const byId = resolveModel('janus-1.3b');
  assert.equal(byId.baseUrl, 'https://huggingface.co/deepseek-ai/Janus-1.3B/resolve/main/');
  assert.equal(byId.treeUrl, 'https://huggingface.co/api/models/deepseek-ai/Janus-1.3B/tree/main');
  assert.equal(byId.entry?.id, 'janus-1.3b');
  assert.equal(resolveModel('deepseek-ai/Janus-1.3B').entry?.id, 'janus-1.3b');
  const mirror = resolveModel('janus-pro-1b', { hub: 'http://127.0.0.1:8000' });
  assert.equal(mirror.baseUrl, 'http://127.0.0.1:8000/deepseek-community/Janus-Pro-1B/resolve/main/');
  assert.equal(mirror.treeUrl, 'http://127.0.0.1:8000/api/models/deepseek-community/Janus-Pro-1B/tree/main');
  const repo = resolveModel('someone/some-janus');
  assert.equal(repo.baseUrl, 'https://huggingface.co/someone/some-janus/resolve/main/');
  assert.equal(repo.entry, null);
  const url = resolveModel('https://cdn.example/models/janus?x=1#y');
  assert.equal(url.baseUrl, 'https://cdn.example/models/janus/');
  assert.equal(url.treeUrl, null);
  assert.equal(resolveModel('/models/tiny/', { relativeTo: 'http://127.0.0.1:9/page.html' }).baseUrl, 'http://127.0.0.1:9/models/tiny/');
});

test('bad model names are typed errors', () => {
  assert.throws(() => resolveModel(''), { code: 'bad-request' });
  assert.throws(() => resolveModel('not a url'), { code: 'bad-request' });
  assert.throws(() => resolveModel('ftp://example.com/x/'), { code: 'bad-request' });
});

test('tree URLs only for hub resolve URLs', () => {
  assert.equal(treeUrl('https://huggingface.co/a/b/resolve/v1.0/'), 'https://huggingface.co/api/models/a/b/tree/v1.0');
  assert.equal(treeUrl('https://huggingface.co/a/b/blob/main/'), null);
  assert.equal(treeUrl('https://elsewhere.example/a/b/resolve/main/'), null);
});
