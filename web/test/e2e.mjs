// Browser end-to-end test of the client: headless Chromium (WebGPU on SwiftShader, a CPU
// implementation) runs web/dist against the tiny fixture model and checks every result against the
// PyTorch goldens of tests/fixtures/goldens/tiny-a.json.
//
//   bash scripts/test-web.sh        (expects web/dist built: bash scripts/build-web.sh)
//
// Env: CHROMIUM (default /usr/bin/chromium), JANUS_E2E_STEP_TIMEOUT_S (one step, default 1200),
// JANUS_E2E_TIMEOUT_S (whole run, default 2700), JANUS_E2E_HEADFUL=1 (watch it).
// Figures, page screenshots, generated images and the browser console go to
// tests/artifacts/web-e2e*.

import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, WEBGPU_ARGS } from './chromium.mjs';
import { DEFAULT_MOUNTS, createServer } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'tests/artifacts');
const golden = JSON.parse(readFileSync(path.join(root, 'tests/fixtures/goldens/tiny-a.json'), 'utf8'));
const MODEL = '/models/tiny-a-hf/';
const MODEL_DIR = path.join(root, 'tests/fixtures/models/tiny-a-hf');
const MODEL_INDEX = JSON.parse(readFileSync(path.join(MODEL_DIR, 'model.safetensors.index.json'), 'utf8'));
/** Every file of the fixture the engine must read. */
const MODEL_FILES = ['config.json', 'tokenizer.json', 'model.safetensors.index.json', ...new Set(Object.values(MODEL_INDEX.weight_map))];
const MIB = 1024 * 1024;
/** tiny-a with 12 layers of 16,384-wide MLPs in random bf16 (~75 MiB), written by scripts/test-web.sh. */
// tiny-a with a 393,216-token vocabulary: two 48 MiB bf16 matrices (96 MiB each in f32).
const VOCAB_MODEL = '/artifact-models/tiny-a-vocab/';
// SwiftShader runs WebGPU on the CPU: the 576-step image generation alone takes minutes.
const STEP_TIMEOUT_MS = Number(process.env.JANUS_E2E_STEP_TIMEOUT_S ?? 1200) * 1000;
const RUN_TIMEOUT_MS = Number(process.env.JANUS_E2E_TIMEOUT_S ?? 2700) * 1000;
const CHROMIUM_ARGS = [...BASE_ARGS, ...WEBGPU_ARGS];

// The golden cases (see scripts/make_fixtures.py): prompts and the reference's greedy outputs.
const text = golden.cases.text;
const understand = golden.cases.understand;
const imagine = golden.cases.imagine;
const TEXT_MESSAGES = [
  { role: 'user', content: text.turns[0] },
  { role: 'assistant', content: text.turns[1] },
  { role: 'user', content: text.turns[2] },
];
const TEXT_OPTIONS = { system: text.system, maxNewTokens: text.max_new_tokens, temperature: 0 };
// The understanding golden has no system prompt ('User: <image_placeholder>...').
const UNDERSTAND_OPTIONS = { system: '', maxNewTokens: understand.max_new_tokens, temperature: 0 };
const IMAGE_URL = `/images/${understand.image}`;

const figures = { timingsMs: {} };
const consoleLines = [];

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** Ids equal, or a message naming the first difference. */
function checkIds(actual, expected, what) {
  check(Array.isArray(actual), `${what}: ids missing (${JSON.stringify(actual)})`);
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i += 1) {
    if (actual[i] !== expected[i]) {
      throw new CheckFailed(
        `${what}: ids differ from the golden at index ${i} (got ${actual[i]}, want ${expected[i]});\n` +
          `  got  (${actual.length}) ${JSON.stringify(actual)}\n  want (${expected.length}) ${JSON.stringify(expected)}`,
      );
    }
  }
}

function checkPrefix(actual, expected, what) {
  checkIds(actual, expected.slice(0, actual.length), what);
}

function checkChat(got, what) {
  check(got.error === null, `${what}: failed: ${JSON.stringify(got.error)}`);
  check(got.result !== null, `${what}: no result`);
  check(
    got.pieces.join('') === got.result.text,
    `${what}: streamed pieces ${JSON.stringify(got.pieces.join(''))} != result.text ${JSON.stringify(got.result.text)}`,
  );
}

function checkError(got, codes, what) {
  check(got.resolved === undefined, `${what}: expected a rejection (${codes.join(' or ')}), it resolved`);
  check(codes.includes(got.code), `${what}: expected code ${codes.join(' or ')}, got ${got.code}: ${got.message}`);
  check(got.name === 'JanusError', `${what}: expected a JanusError, got ${got.name}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what}: timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function step(page, name, run) {
  console.log(`-- ${name}`);
  await page.evaluate((line) => window.t?.log(line), `-- ${name}`);
  const started = performance.now();
  const value = await withTimeout(run(), STEP_TIMEOUT_MS, name);
  const ms = Math.round(performance.now() - started);
  figures.timingsMs[name] = ms;
  console.log(`   ok (${(ms / 1000).toFixed(1)} s)`);
  return value;
}

function writeArtifacts() {
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(path.join(artifacts, 'web-e2e.json'), `${JSON.stringify(figures, null, 2)}\n`);
  writeFileSync(path.join(artifacts, 'web-e2e-console.log'), `${consoleLines.join('\n')}\n`);
}

function savePng(dataUrl, name) {
  const file = path.join(artifacts, name);
  writeFileSync(file, Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
  return path.relative(root, file);
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  // scripts/test-web.sh writes a larger random-weight model there (janus random-model).
  const server = createServer({ root, mounts: { ...DEFAULT_MOUNTS, '/artifact-models/': 'tests/artifacts/models' } });
  const { url } = await server.listen();
  console.log(`server ${url}; chromium ${CHROMIUM}`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: process.env.JANUS_E2E_HEADFUL !== '1',
    args: CHROMIUM_ARGS,
  });
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  page.on('console', (message) => consoleLines.push(`[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => consoleLines.push(`[pageerror] ${error.stack ?? error.message}`));
  // The page reports progress of long steps through window.e2eProgress(line).
  await page.exposeFunction('e2eProgress', (line) => console.log(`   .. ${line}`));
  page.on('worker', (worker) => {
    consoleLines.push(`[worker started] ${worker.url()}`);
    worker.on('close', () => consoleLines.push(`[worker closed] ${worker.url()}`));
  });
  try {
    await run(page, server, url, browser.version());
    await page.screenshot({ path: path.join(artifacts, 'web-e2e.png'), fullPage: true });
    await withoutWebGpu(url);
  } catch (error) {
    await page.screenshot({ path: path.join(artifacts, 'web-e2e-failure.png'), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    figures.serverStats = server.stats();
    writeArtifacts();
    await browser.close();
    await server.close();
  }
}

/** A browser without WebGPU (no adapter): create() rejects with the typed 'no-webgpu' error. */
async function withoutWebGpu(baseUrl) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS] });
  try {
    const page = await browser.newPage();
    await step(page, 'a browser without WebGPU: create() rejects with no-webgpu', async () => {
      await page.goto(new URL('pages/client.html', baseUrl).href);
      await page.waitForFunction(() => window.janusReady === true, null, { timeout: 30_000 });
      const got = await page.evaluate(() => t.rejection(Janus.JanusClient.create()));
      console.log(`   ${got.code}: ${got.message}`);
      checkError(got, ['no-webgpu'], 'JanusClient.create() without WebGPU');
    });
  } finally {
    await browser.close();
  }
}

async function run(page, server, baseUrl, browserVersion) {
  figures.browser = browserVersion;

  await step(page, 'open the test page', async () => {
    await page.goto(new URL('pages/client.html', baseUrl).href);
    await page.waitForFunction(() => window.janusReady === true, null, { timeout: 30_000 });
  });

  const info = await step(page, 'create: worker, wasm, WebGPU device', () =>
    page.evaluate(async () => {
      window.crashes = [];
      window.crashEvents = 0;
      window.client = await Janus.JanusClient.create();
      client.onCrash = (e) => crashes.push({ code: e.code, message: e.message, panic: e.panic });
      client.addEventListener('crash', () => (window.crashEvents += 1));
      t.log(`device: ${JSON.stringify(client.deviceInfo)}`);
      return client.deviceInfo;
    }),
  );
  figures.deviceInfo = info;
  console.log(`   device ${JSON.stringify(info)}`);
  check(info.dtype === 'f32', `deviceInfo.dtype: SwiftShader has no shader-f16, expected 'f32', got ${info.dtype}`);
  check(info.shaderF16 === false, `deviceInfo.shaderF16: expected false on SwiftShader, got ${info.shaderF16}`);

  await step(page, 'a worker without WebGPU on a page that has it (Firefox without dom.webgpu.workers.enabled): create() says so', async () => {
    const got = await page.evaluate(() => t.rejection(Janus.JanusClient.create({ workerUrl: '/pages/worker-without-webgpu.js' })));
    console.log(`   ${got.code}: ${got.message}`);
    checkError(got, ['no-webgpu'], 'create() with a worker without WebGPU');
    check(/gives WebGPU to the page but not to Web Workers/.test(got.message), `create() with a worker without WebGPU: ${got.message}`);
  });

  await step(page, 'load a missing model: typed error', async () => {
    const got = await page.evaluate(() => t.rejection(client.load('/models/no-such-model/')));
    console.log(`   ${got.code}: ${got.message}`);
    checkError(got, ['not-found', 'http'], 'load(/models/no-such-model/)');
  });

  await step(page, 'abort a load: rejects at once, the worker drops it; deleteCachedModel clears it', async () => {
    const got = await page.evaluate(async (model) => {
      const controller = new AbortController();
      const events = [];
      const started = performance.now();
      const error = await t.rejection(
        client.load(model, {
          signal: controller.signal,
          onProgress: (p) => {
            events.push(p);
            if (p.phase === 'weights') controller.abort();
          },
        }),
      );
      const ms = performance.now() - started;
      // Queued behind the load the worker is still finishing: resolves once it is dropped.
      await client.unload();
      // The download had finished before the abort: the model is cached. Drop it, so the next
      // load downloads.
      const cached = await Janus.JanusClient.cachedModels();
      await Janus.JanusClient.deleteCachedModel(model);
      const after = await Janus.JanusClient.cachedModels();
      return { error, events: events.length, ms, idleMs: performance.now() - started, cached, after };
    }, MODEL);
    checkError(got.error, ['aborted'], 'aborted load');
    console.log(
      `   rejected after ${got.events} progress events, ${(got.ms / 1000).toFixed(1)} s; worker idle after ${(got.idleMs / 1000).toFixed(1)} s`,
    );
    console.log(`   cached: ${JSON.stringify(got.cached.map((m) => [m.name, m.complete, m.bytes]))}; after deleteCachedModel: ${got.after.length}`);
    check(got.cached.length === 1 && got.cached[0].complete && got.cached[0].storedBytes === got.cached[0].bytes, `cachedModels: ${JSON.stringify(got.cached)}`);
    check(got.after.length === 0, `deleteCachedModel left ${JSON.stringify(got.after)}`);
  });

  await step(page, `load ${MODEL} with progress`, () => loadModel(page, server, 'load'));

  await step(page, 'chat: two turns, streamed, greedy', async () => {
    const got = await chat(page, TEXT_MESSAGES, TEXT_OPTIONS);
    checkChat(got, 'text chat');
    checkIds(got.result.ids, text.output_ids, 'text chat');
    check(got.result.stop === 'eos', `text chat: stop should be 'eos' (the golden stopped on eos), got ${got.result.stop}`);
    check(
      got.result.promptTokens === text.prompt_ids.length,
      `text chat: promptTokens ${got.result.promptTokens} != golden prompt length ${text.prompt_ids.length}`,
    );
    figures.textChat = {
      ms: Math.round(got.ms),
      pieces: got.pieces.length,
      ids: got.result.ids.length,
      promptTokens: got.result.promptTokens,
    };
    console.log(
      `   ${got.pieces.length} pieces, ${got.result.ids.length} ids, stop ${got.result.stop}, ` +
        `${(got.ms / 1000).toFixed(1)} s (${(got.ms / got.result.ids.length / 1000).toFixed(2)} s/token incl. the ${got.result.promptTokens}-token prompt)`,
    );
  });

  await step(page, 'a follow-up turn starts from the kept cache: only what is new runs, the same reply as afresh', async () => {
    // The last chat (the step before) was this conversation's prompt; its reply goes back in.
    const first = await chat(page, TEXT_MESSAGES, TEXT_OPTIONS);
    checkChat(first, 'regenerated chat');
    checkIds(first.result.ids, text.output_ids, 'regenerated chat');
    check(
      first.result.reusedTokens === first.result.promptTokens - 1,
      `regenerated chat: ${first.result.reusedTokens} of ${first.result.promptTokens} prompt tokens reused, expected all but the last`,
    );
    const messages = [...TEXT_MESSAGES, { role: 'assistant', content: first.result.text }, { role: 'user', content: 'And what comes next?' }];
    const options = { ...TEXT_OPTIONS, maxNewTokens: 8 };
    const kept = await chat(page, messages, options);
    // Once more, its pipelines compiled.
    await chat(page, TEXT_MESSAGES, TEXT_OPTIONS);
    const warm = await chat(page, messages, options);
    const fresh = await chat(page, messages, { ...options, reuse: false });
    const after = await chat(page, messages, options);
    for (const [got, what] of [[kept, 'follow-up'], [warm, 'follow-up again'], [fresh, 'follow-up afresh'], [after, 'follow-up after reuse: false']]) checkChat(got, what);
    check(
      kept.result.reusedTokens >= first.result.promptTokens,
      `follow-up: ${kept.result.reusedTokens} prompt tokens reused, the last prompt alone is ${first.result.promptTokens}`,
    );
    check(fresh.result.reusedTokens === 0, `reuse: false reused ${fresh.result.reusedTokens} tokens`);
    // reuse: false keeps nothing of its own chat and leaves the one kept before it alone.
    check(after.result.reusedTokens === warm.result.promptTokens - 1, `after reuse: false the next chat reused ${after.result.reusedTokens} tokens, the kept chat before it has ${warm.result.promptTokens - 1}`);
    checkIds(kept.result.ids, fresh.result.ids, 'follow-up from the kept cache against afresh');
    checkIds(warm.result.ids, fresh.result.ids, 'follow-up again from the kept cache against afresh');
    // The engine keeps both conversations: the follow-up asked again goes on from its own
    // first run (all but one token), not from the two-turn chat asked between them.
    check(warm.result.reusedTokens === warm.result.promptTokens - 1, `follow-up again: ${warm.result.reusedTokens} of ${warm.result.promptTokens} reused`);
    checkIds(after.result.ids, fresh.result.ids, 'follow-up after reuse: false');
    figures.followUp = {
      promptTokens: kept.result.promptTokens,
      reusedTokens: kept.result.reusedTokens,
      keptMs: Math.round(kept.ms),
      askedAgainMs: Math.round(warm.ms),
      freshMs: Math.round(fresh.ms),
    };
    console.log(
      `   ${kept.result.promptTokens}-token prompt: ${kept.result.reusedTokens} reused, ${(kept.ms / 1000).toFixed(2)} s (compiling its shapes); ` +
        `asked again ${(warm.ms / 1000).toFixed(2)} s; afresh ${(fresh.ms / 1000).toFixed(2)} s; the same ${kept.result.ids.length} ids`,
    );
  });

  await step(page, 'two conversations taking turns (and a title asked for between them): each goes on from its own kept cache', async () => {
    const a1 = [{ role: 'user', content: 'Tell me about foxes.' }];
    const b1 = [{ role: 'user', content: 'Name three colours, please.' }];
    const options = { ...TEXT_OPTIONS, maxNewTokens: 4 };
    const a = await chat(page, a1, options);
    const b = await chat(page, b1, options);
    const title = await chat(page, [{ role: 'user', content: 'A title for this: foxes' }], options);
    const a2 = await chat(page, [...a1, { role: 'assistant', content: a.result.text }, { role: 'user', content: 'And their dens?' }], options);
    const b2 = await chat(page, [...b1, { role: 'assistant', content: b.result.text }, { role: 'user', content: 'Two more?' }], options);
    for (const [got, what] of [[a, 'A'], [b, 'B'], [title, 'title'], [a2, 'A, turn 2'], [b2, 'B, turn 2']]) checkChat(got, what);
    // Each second turn starts at least from its own first prompt, with two chats between.
    check(a2.result.reusedTokens >= a.result.promptTokens, `A's second turn reused ${a2.result.reusedTokens}, its first prompt is ${a.result.promptTokens}`);
    check(b2.result.reusedTokens >= b.result.promptTokens, `B's second turn reused ${b2.result.reusedTokens}, its first prompt is ${b.result.promptTokens}`);
    // What the others share is only the system prompt and template before the first message.
    check(b.result.reusedTokens < a.result.promptTokens - 8, `B reused ${b.result.reusedTokens} of A's ${a.result.promptTokens}`);
    console.log(`   A: ${a2.result.reusedTokens} of ${a2.result.promptTokens} reused; B: ${b2.result.reusedTokens} of ${b2.result.promptTokens}; title between them: ${title.result.reusedTokens} of ${title.result.promptTokens}`);
  });

  await step(page, 'stop sequences: the reply ends before the first, streamed without any of it', async () => {
    // ' lah' is in the middle of the golden reply: the reply ends before it, its ids a prefix.
    const stop = ' lah';
    check(text.text.includes(stop), `the golden reply ${JSON.stringify(text.text)} lacks ${JSON.stringify(stop)}`);
    const whole = await chat(page, TEXT_MESSAGES, TEXT_OPTIONS);
    checkChat(whole, 'whole reply');
    const expected = whole.result.text.slice(0, whole.result.text.indexOf(stop));
    const cut = await chat(page, TEXT_MESSAGES, { ...TEXT_OPTIONS, stop: ['never \u0001', stop] });
    checkChat(cut, 'reply with a stop sequence');
    check(cut.result.stop === 'stop', `stop sequence: stop is ${cut.result.stop}, expected 'stop'`);
    check(cut.result.text === expected, `stop sequence: text ${JSON.stringify(cut.result.text)}, expected ${JSON.stringify(expected)}`);
    checkPrefix(cut.result.ids, text.output_ids, 'stop sequence');
    check(cut.result.ids.length < text.output_ids.length, `stop sequence: ${cut.result.ids.length} ids, the whole reply has ${text.output_ids.length}`);
    // One string is a list of one; a sequence that never comes changes nothing.
    const one = await chat(page, TEXT_MESSAGES, { ...TEXT_OPTIONS, stop });
    check(one.result?.text === expected, `stop as one string: ${JSON.stringify(one.result?.text)}`);
    const never = await chat(page, TEXT_MESSAGES, { ...TEXT_OPTIONS, stop: '\u0001\u0002' });
    checkChat(never, 'a stop sequence that never comes');
    check(never.result.stop === 'eos' && never.result.text === whole.result.text, `a stop sequence that never comes: ${never.result.stop}, ${JSON.stringify(never.result.text)}`);
    const refused = await chat(page, TEXT_MESSAGES, { ...TEXT_OPTIONS, stop: Array.from({ length: 17 }, (_, i) => `s${i}`) });
    check(refused.error?.code === 'bad-request' && /at most 16/.test(refused.error.message), `17 stop sequences: ${JSON.stringify(refused.error)}`);
    console.log(`   ${cut.result.ids.length} of ${text.output_ids.length} tokens, ${JSON.stringify(cut.result.text)}`);
  });

  await step(page, 'a reply cut at its length goes on: the last message the assistant\'s, from the kept cache', async () => {
    const cutAt = 8;
    const first = await chat(page, TEXT_MESSAGES, { ...TEXT_OPTIONS, maxNewTokens: cutAt });
    checkChat(first, 'the cut reply');
    check(first.result.stop === 'max_tokens', `the cut reply: stop ${first.result.stop}`);
    checkIds(first.result.ids, text.output_ids.slice(0, cutAt), 'the cut reply');
    const continued = [...TEXT_MESSAGES, { role: 'assistant', content: first.result.text }];
    const rest = await chat(page, continued, { ...TEXT_OPTIONS, maxNewTokens: text.output_ids.length });
    checkChat(rest, 'the reply continued');
    // The same as from nothing kept (the random model's text does not tokenize back into the
    // ids it was written as, so the golden's rest is not the reference here).
    const afresh = await chat(page, continued, { ...TEXT_OPTIONS, maxNewTokens: text.output_ids.length, reuse: false });
    checkIds(rest.result.ids, afresh.result.ids, 'the reply continued, against afresh');
    const added = rest.result.promptTokens - first.result.promptTokens;
    console.log(
      `   ${cutAt} tokens, then ${rest.result.ids.length} more (stop ${rest.result.stop}); the prompt grew by ${added} tokens, ` +
        `${rest.result.reusedTokens} of ${rest.result.promptTokens} reused; ${JSON.stringify(first.result.text)} + ${JSON.stringify(rest.result.text)}`,
    );
    check(rest.result.reusedTokens >= first.result.promptTokens, `the continued reply reused ${rest.result.reusedTokens} tokens; the cut one's prompt alone was ${first.result.promptTokens}`);
    check(rest.result.text.length > 0 && rest.pieces.join('') === rest.result.text, `the continued reply streamed ${JSON.stringify(rest.pieces)}, its text is ${JSON.stringify(rest.result.text)}`);
  });

  await step(page, 'OpenAI-style chat.completions.create: whole and streamed, a stop sequence, a picture by data: URL', async () => {
    const got = await page.evaluate(
      async ({ messages, system, maxTokens, question, imageUrl }) => {
        const openai = Janus.openAI(client, { model: 'tiny-a' });
        const params = { messages: [{ role: 'system', content: system }, ...messages], max_tokens: maxTokens, temperature: 0 };
        const whole = await openai.chat.completions.create(params);
        const chunks = [];
        for await (const chunk of await openai.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } })) chunks.push(chunk);
        const stopped = await openai.chat.completions.create({ ...params, stop: ' lah' });
        // The picture as a data: URL, against the same picture as a Blob through client.chat.
        const blob = await t.fetchBlob(imageUrl);
        const dataUrl = await new Promise((resolve) => {
          const reader = new FileReader();
          reader.onload = () => resolve(reader.result);
          reader.readAsDataURL(blob);
        });
        const options = { system: '', maxNewTokens: 3, temperature: 0, reuse: false };
        const native = await client.chat([{ role: 'user', content: question, images: [blob] }], options).result;
        const pictured = await openai.chat.completions.create({
          messages: [{ role: 'system', content: '' }, { role: 'user', content: [{ type: 'text', text: question }, { type: 'image_url', image_url: { url: dataUrl } }] }],
          max_completion_tokens: 3,
          temperature: 0,
          reuse: false,
        });
        const refused = await t.rejection(openai.chat.completions.create({ ...params, n: 2 }));
        return { whole, chunks, stopped, native: { text: native.text, promptTokens: native.promptTokens }, pictured, refused };
      },
      { messages: TEXT_MESSAGES, system: text.system, maxTokens: text.max_new_tokens, question: understand.question, imageUrl: IMAGE_URL },
    );
    const reply = await chat(page, TEXT_MESSAGES, TEXT_OPTIONS);
    const choice = got.whole.choices[0];
    check(got.whole.object === 'chat.completion' && got.whole.model === 'tiny-a', `completion: ${JSON.stringify({ ...got.whole, choices: undefined })}`);
    check(choice.message.content === reply.result.text, `completion: ${JSON.stringify(choice.message.content)} != client.chat's ${JSON.stringify(reply.result.text)}`);
    check(choice.finish_reason === 'stop', `completion: finish_reason ${choice.finish_reason} (the golden ends on eos)`);
    const usage = got.whole.usage;
    check(usage.prompt_tokens === text.prompt_ids.length && usage.completion_tokens === text.output_ids.length, `completion usage: ${JSON.stringify(usage)}`);
    const streamed = got.chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    check(streamed === reply.result.text, `streamed: ${JSON.stringify(streamed)} != ${JSON.stringify(reply.result.text)}`);
    check(got.chunks.at(-2)?.choices[0]?.finish_reason === 'stop' && got.chunks.at(-1)?.usage?.completion_tokens === text.output_ids.length, 'streamed: the finish and usage chunks');
    // The streamed call asked what the whole one did: its prompt is all kept but the last token.
    const cached = got.chunks.at(-1).usage.prompt_tokens_details.cached_tokens;
    check(cached === text.prompt_ids.length - 1, `streamed: ${cached} cached prompt tokens, expected ${text.prompt_ids.length - 1}`);
    check(got.stopped.choices[0].finish_reason === 'stop' && got.stopped.choices[0].message.content === reply.result.text.slice(0, reply.result.text.indexOf(' lah')), `stop: ${JSON.stringify(got.stopped.choices[0])}`);
    check(got.pictured.choices[0].message.content === got.native.text, `picture by data: URL: ${JSON.stringify(got.pictured.choices[0].message.content)} != the Blob's ${JSON.stringify(got.native.text)}`);
    check(got.pictured.usage.prompt_tokens === understand.prompt_ids.length && got.native.promptTokens === understand.prompt_ids.length, `picture: ${got.pictured.usage.prompt_tokens} prompt tokens`);
    check(got.refused.code === 'bad-request' && /^n:/.test(got.refused.message), `n: 2: ${JSON.stringify(got.refused)}`);
    console.log(`   ${got.chunks.length} chunks; ${usage.extra.time_to_first_token_s.toFixed(2)} s to the first token, ${usage.extra.decode_tokens_per_s.toFixed(1)} tokens/s`);
  });

  await step(page, 'log-probabilities: one entry per token, the draw unchanged, the reference\'s first logits, and through the OpenAI-style call', async () => {
    const got = await page.evaluate(
      async ({ messages, system, maxTokens }) => {
        const options = { system, maxNewTokens: maxTokens, temperature: 0, reuse: false };
        const heard = [];
        const timed = async (run) => {
          const start = performance.now();
          const result = await run();
          return { result, ms: performance.now() - start };
        };
        const plain = await timed(() => client.chat(messages, options).result);
        const greedy = await timed(() => client.chat(messages, { ...options, logprobs: true, topLogprobs: 3, onLogprobs: (e) => heard.push(e.id) }).result);
        const drawnOptions = { system, maxNewTokens: 12, temperature: 1, topK: 40, seed: 7, reuse: false };
        const drawn = await client.chat(messages, { ...drawnOptions, logprobs: true, topLogprobs: 5 }).result;
        const plainDrawn = await client.chat(messages, drawnOptions).result;
        const openai = Janus.openAI(client, { model: 'tiny-a' });
        const completion = await openai.chat.completions.create({
          messages: [{ role: 'system', content: system }, ...messages],
          max_tokens: maxTokens,
          temperature: 0,
          logprobs: true,
          top_logprobs: 2,
          reuse: false,
        });
        const refused = await t.rejection(client.chat(messages, { ...options, logprobs: true, topLogprobs: 21 }).result);
        return { plain, greedy, heard, drawn, plainDrawn: plainDrawn.ids, completion, refused };
      },
      { messages: TEXT_MESSAGES, system: text.system, maxTokens: text.max_new_tokens },
    );
    const { result, ms } = got.greedy;
    checkIds(result.ids, text.output_ids, 'logprobs');
    const entries = result.logprobs ?? [];
    check(entries.length === result.ids.length && JSON.stringify(got.heard) === JSON.stringify(result.ids), `logprobs: ${entries.length} entries, heard ${got.heard.length}, for ${result.ids.length} ids`);
    entries.forEach((e, i) => {
      const top = e.topLogprobs;
      const sorted = top.every((x, j) => j === 0 || top[j - 1].logprob >= x.logprob);
      // Greedy chose each step's most likely token.
      check(e.id === result.ids[i] && top.length === 3 && top[0].id === e.id && top[0].logprob === e.logprob && e.logprob <= 0 && sorted, `logprobs entry ${i}: ${JSON.stringify(e)}`);
    });
    const spelled = Buffer.from(entries.flatMap((e) => e.bytes)).toString('utf8');
    check(spelled === result.text, `logprobs: the tokens' bytes spell ${JSON.stringify(spelled)}, the text is ${JSON.stringify(result.text)}`);
    // Token 0 against log_softmax of the reference's logits.
    const first = text.first_logits;
    const max = Math.max(...first);
    const norm = max + Math.log(first.reduce((sum, x) => sum + Math.exp(x - max), 0));
    const want = first[result.ids[0]] - norm;
    const scale = Math.max(1, ...first.map(Math.abs));
    check(Math.abs(entries[0].logprob - want) <= 2e-3 * scale, `logprobs: token 0 ${entries[0].logprob}, the reference's ${want}`);
    // A draw is the same with and without them.
    const drawn = got.drawn;
    check(JSON.stringify(drawn.ids) === JSON.stringify(got.plainDrawn), `logprobs changed the draw: ${drawn.ids} against ${got.plainDrawn}`);
    check(drawn.logprobs.length === drawn.ids.length && drawn.logprobs.every((e, i) => e.id === drawn.ids[i] && e.topLogprobs.length === 5 && e.logprob <= e.topLogprobs[0].logprob), 'logprobs of a draw');
    const notTop = drawn.logprobs.filter((e) => e.topLogprobs[0].id !== e.id).length;
    const choice = got.completion.choices[0];
    const content = choice.logprobs?.content ?? [];
    check(
      content.length === got.completion.usage.completion_tokens &&
        Buffer.from(content.flatMap((c) => c.bytes)).toString('utf8') === choice.message.content &&
        content.every((c) => c.top_logprobs.length === 2),
      `OpenAI-style logprobs: ${JSON.stringify(choice.logprobs).slice(0, 300)}`,
    );
    // Refused as every other sampling setting out of range is.
    check(got.refused.code === 'bad-prompt' && /at most 20/.test(got.refused.message), `topLogprobs 21: ${JSON.stringify(got.refused)}`);
    const perToken = (run) => run.ms / run.result.ids.length;
    figures.logprobs = { msPerTokenWith: Math.round(perToken(got.greedy)), msPerTokenWithout: Math.round(perToken(got.plain)), tokens: result.ids.length };
    console.log(
      `   ${entries.length} entries; token 0 ${entries[0].logprob.toFixed(4)} (reference ${want.toFixed(4)}); a draw of 12 took ${notTop} tokens that were not the most likely; ` +
        `${perToken(got.greedy).toFixed(0)} ms a token with them, ${perToken(got.plain).toFixed(0)} without (${ms.toFixed(0)} ms in all)`,
    );
  });

  await step(page, 'JSON replies: each begins a JSON object and is one where it ended by itself, through the OpenAI-style call too', async () => {
    const got = await page.evaluate(
      async ({ messages, system }) => {
        // Milliseconds between the first piece and the last, per piece after the first: the
        // decode steps alone (a JSON reply may end sooner, which per reply would hide).
        const timed = async (stream) => {
          const stamps = [];
          for await (const _ of stream) stamps.push(performance.now());
          const result = await stream.result;
          return { result, msPerStep: (stamps[stamps.length - 1] - stamps[0]) / Math.max(1, stamps.length - 1), steps: stamps.length - 1 };
        };
        const base = { system, maxNewTokens: 12, temperature: 0, reuse: false };
        const plain = await timed(client.chat(messages, base));
        const greedy = await timed(client.chat(messages, { ...base, json: true }));
        const drawn = [];
        for (const seed of [1, 2, 3, 4, 5, 6]) {
          drawn.push(await client.chat(messages, { system, maxNewTokens: 40, temperature: 0.8, seed, json: true, reuse: false }).result);
        }
        const openai = Janus.openAI(client, { model: 'tiny-a' });
        const completion = await openai.chat.completions.create({
          messages: [{ role: 'system', content: system }, ...messages],
          max_tokens: 40,
          temperature: 0.8,
          seed: 1,
          response_format: { type: 'json_object' },
          reuse: false,
        });
        const schema = await t.rejection(openai.chat.completions.create({ messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }));
        return { plain, greedy, drawn, completion, schema };
      },
      { messages: TEXT_MESSAGES, system: text.system },
    );
    // At most 4 bytes of whitespace before the brace (grammar.rs MAX_LEADING_SPACE).
    const opensObject = (s) => /^\s{0,4}\{/.test(s);
    check(!opensObject(got.plain.result.text), `the plain reply already begins an object: ${JSON.stringify(got.plain.result.text)}`);
    const replies = [got.greedy.result, ...got.drawn];
    let complete = 0;
    for (const r of replies) {
      check(opensObject(r.text), `a JSON reply that begins no object: ${JSON.stringify(r.text)} (${r.stop})`);
      if (r.stop === 'eos') {
        const value = JSON.parse(r.text);
        check(typeof value === 'object' && value !== null && !Array.isArray(value), `a JSON reply that ended as no object: ${JSON.stringify(r.text)}`);
        complete += 1;
      } else {
        check(r.stop === 'max_tokens', `a JSON reply stopped with ${r.stop}`);
      }
    }
    const choice = got.completion.choices[0];
    check(choice.message.content === got.drawn[0].text && choice.finish_reason === (got.drawn[0].stop === 'eos' ? 'stop' : 'length'), `response_format json_object: ${JSON.stringify(choice)} against ${JSON.stringify(got.drawn[0].text)}`);
    check(got.schema.code === 'bad-request' && /json_schema|JSON schema/.test(got.schema.message), `json_schema: ${JSON.stringify(got.schema)}`);
    figures.json = { msPerStepWith: Math.round(got.greedy.msPerStep), msPerStepWithout: Math.round(got.plain.msPerStep), complete, replies: replies.length };
    console.log(
      `   ${complete} of ${replies.length} replies ended as a whole object (${replies.filter((r) => r.stop === 'eos').map((r) => JSON.stringify(r.text)).join(', ')}); ` +
        `decode ${got.greedy.msPerStep.toFixed(0)} ms a step as JSON (${got.greedy.steps} steps), ${got.plain.msPerStep.toFixed(0)} without (${got.plain.steps})`,
    );
  });

  // The Blob goes through the engine's own decoder (the reference's); ImageData and ImageBitmap
  // through the worker's RGBA path: the same pixels, so the same prompt and first tokens.
  for (const [kind, maxNewTokens] of [['Blob', understand.max_new_tokens], ['ImageData', 3], ['ImageBitmap', 3]]) {
    await step(page, `chat with an image (${kind}, ${maxNewTokens} tokens)`, async () => {
      const got = await page.evaluate(
        async ({ kind, question, imageUrl, options }) => {
          let image;
          if (kind === 'Blob') image = await t.fetchBlob(imageUrl);
          else if (kind === 'ImageData') image = await t.decodePixels(imageUrl);
          else image = await createImageBitmap(await t.fetchBlob(imageUrl), { colorSpaceConversion: 'none' });
          const stream = client.chat([{ role: 'user', content: question, images: [image] }], options);
          return t.collect(stream);
        },
        { kind, question: understand.question, imageUrl: IMAGE_URL, options: { ...UNDERSTAND_OPTIONS, maxNewTokens } },
      );
      checkChat(got, `image chat (${kind})`);
      checkIds(got.result.ids, understand.output_ids.slice(0, maxNewTokens), `image chat (${kind})`);
      // After a text chat, nothing of the picture is kept; after the Blob's chat, the same
      // pixels are (the picture is not encoded again).
      const picture = understand.prompt_ids.indexOf(golden.special_ids.image);
      const reused = got.result.reusedTokens;
      if (kind === 'Blob') check(reused < picture, `image chat (Blob): ${reused} reused, the picture starts at ${picture}`);
      else check(reused === got.result.promptTokens - 1, `image chat (${kind}): ${reused} of ${got.result.promptTokens} prompt tokens reused`);
      check(
        got.result.promptTokens === understand.prompt_ids.length,
        `image chat (${kind}): promptTokens ${got.result.promptTokens} != golden ${understand.prompt_ids.length}`,
      );
    });
  }

  await step(page, 'cancel a chat after 3 pieces, then the same chat again', async () => {
    const got = await page.evaluate(
      async ({ messages, options }) => {
        const controller = new AbortController();
        const stream = client.chat(messages, { ...options, signal: controller.signal });
        return t.collect(stream, { controller, abortAfter: 3 });
      },
      { messages: TEXT_MESSAGES, options: TEXT_OPTIONS },
    );
    checkChat(got, 'cancelled chat');
    check(got.result.stop === 'cancelled', `cancelled chat: stop should be 'cancelled', got ${got.result.stop}`);
    check(
      got.result.ids.length >= 3 && got.result.ids.length < text.output_ids.length,
      `cancelled chat: expected 3..${text.output_ids.length - 1} ids, got ${got.result.ids.length}`,
    );
    checkPrefix(got.result.ids, text.output_ids, 'cancelled chat');
    figures.cancelledChat = { pieces: got.pieces.length, ids: got.result.ids.length };
    console.log(`   cancelled after ${got.result.ids.length} ids (abort sent after 3 pieces)`);

    const again = await chat(page, TEXT_MESSAGES, TEXT_OPTIONS);
    checkChat(again, 'chat after cancel');
    checkIds(again.result.ids, text.output_ids, 'chat after cancel');
    // A cancelled chat keeps its cache like any other.
    check(
      again.result.reusedTokens === again.result.promptTokens - 1,
      `chat after cancel: ${again.result.reusedTokens} of ${again.result.promptTokens} prompt tokens reused`,
    );
  });

  await step(page, 'a long prompt on a device with a small binding limit: read pass by pass (onPrompt), stopped between passes, then goes on from what it read', async () => {
    // maxBindingBytes 160 KiB (the tiny model's largest unsplittable tensor is 144 KiB): a pass's
    // attention scores (4 heads, f32) fit 10,240 rows × positions, so a prompt of ~450 tokens
    // runs in about twenty passes, as Janus-1.3B's does past 1,024 positions on any device. The
    // stop, asked at the first pass, reaches the worker a pass or two later.
    const got = await page.evaluate(
      async ({ model, messages, options }) => {
        const small = await Janus.JanusClient.create({ maxBindingBytes: 160 * 1024 });
        try {
          await small.load(model);
          const run = async (extra, stopAtPass, on = small) => {
            const passes = [];
            const controller = new AbortController();
            const onPrompt = (read, total) => {
              passes.push([read, total]);
              if (passes.length === stopAtPass) controller.abort();
            };
            const started = performance.now();
            const got = await t.collect(on.chat(messages, { ...options, ...extra, onPrompt, signal: controller.signal }));
            return { ...got, passes, ms: performance.now() - started };
          };
          // Once each to compile their shapes, then timed: in passes, and whole (the default limits).
          await run({ reuse: false });
          await run({ reuse: false }, undefined, client);
          const whole = await run({ reuse: false });
          const onePass = await run({ reuse: false }, undefined, client);
          const stopped = await run({}, 1);
          const resumed = await run({});
          return { whole, onePass, stopped, resumed };
        } finally {
          small.dispose();
        }
      },
      { model: MODEL, messages: [{ role: 'user', content: Array(12).fill(text.turns[0]).join(' ') }], options: { ...TEXT_OPTIONS, maxNewTokens: 8 } },
    );
    const { whole, onePass, stopped, resumed } = got;
    for (const [run, what] of [[whole, 'whole'], [stopped, 'stopped'], [resumed, 'resumed']]) checkChat(run, `long prompt (${what})`);
    const total = whole.result.promptTokens;
    const passes = whole.passes;
    console.log(`   ${total}-token prompt: passes ${JSON.stringify(passes.map(([read]) => read))}; stopped after ${JSON.stringify(stopped.passes.at(-1))}`);
    console.log(`   with 8 new tokens: ${(whole.ms / 1000).toFixed(2)} s in ${passes.length + 1} passes, ${(onePass.ms / 1000).toFixed(2)} s in one (default limits)`);
    check(onePass.passes.length === 0 && onePass.result.promptTokens === total, `the default limits read the prompt in passes: ${JSON.stringify(onePass.passes)}`);
    checkIds(onePass.result.ids, whole.result.ids, 'the long prompt in one pass against in passes');
    check(passes.length >= 3, `long prompt: ${passes.length} passes heard, expected several: ${JSON.stringify(passes)}`);
    check(
      passes.every(([read, of], i) => of === total && read < total && (i === 0 || read > passes[i - 1][0])),
      `long prompt: passes should rise below ${total}: ${JSON.stringify(passes)}`,
    );
    // Stopped between passes: no token, nothing streamed.
    check(stopped.result.stop === 'cancelled' && stopped.result.ids.length === 0 && stopped.result.text === '', `stopped while read: ${JSON.stringify(stopped.result)}`);
    check(stopped.passes.length < passes.length, `stopped while read: ${stopped.passes.length} passes heard, as many as the whole prompt's`);
    // What it read is kept: asked again, the prompt goes on from the last pass heard.
    const [read] = stopped.passes.at(-1);
    check(resumed.result.reusedTokens === read, `resumed: ${resumed.result.reusedTokens} prompt tokens reused, the stopped run had read ${read}`);
    check(resumed.passes.every(([, of]) => of === total - read), `resumed: passes of ${JSON.stringify(resumed.passes)}, expected of ${total - read}`);
    checkIds(resumed.result.ids, whole.result.ids, 'resumed long prompt against the whole');
    figures.longPrompt = { promptTokens: total, passes: passes.length + 1, stoppedAt: read, inPassesMs: Math.round(whole.ms), onePassMs: Math.round(onePass.ms) };
  });

  await step(page, 'prefill: a conversation read ahead writes nothing; the next question runs only itself, with the reply it gets afresh', async () => {
    const history = [...TEXT_MESSAGES, { role: 'assistant', content: 'I am well, thank you.' }];
    const next = [...history, { role: 'user', content: 'And then?' }];
    const options = { ...TEXT_OPTIONS, maxNewTokens: 6 };
    const got = await page.evaluate(
      async ({ history, next, options }) => {
        const read = await client.prefill(history, { system: options.system });
        const kept = await t.collect(client.chat(next, options));
        const fresh = await t.collect(client.chat(next, { ...options, reuse: false }));
        return { read, kept, fresh };
      },
      { history, next, options },
    );
    const { read, kept, fresh } = got;
    console.log(`   read ${JSON.stringify(read)}; the next question: ${kept.result.reusedTokens} of ${kept.result.promptTokens} kept`);
    checkChat(kept, 'after prefill');
    checkChat(fresh, 'afresh');
    check(!read.stopped && read.promptTokens > 0, `prefill: ${JSON.stringify(read)}`);
    // Its every position is the next prompt's beginning: the assistant's words, then the turn.
    check(kept.result.reusedTokens === read.promptTokens, `after prefill: ${kept.result.reusedTokens} reused, the prefill read ${read.promptTokens}`);
    checkIds(kept.result.ids, fresh.result.ids, 'after prefill against afresh');
  });

  await step(page, 'generateImage: 2 images, CFG, greedy', async () => {
    const got = await page.evaluate(
      async ({ prompt, cfgWeight }) => {
        const steps = [];
        const started = performance.now();
        const result = await client.generateImage(prompt, {
          count: 2,
          cfgWeight,
          temperature: 0,
          onStep: (step, total) => {
            steps.push([step, total]);
            if (step % 64 === 0 || step === total) {
              const seconds = (performance.now() - started) / 1000;
              window.e2eProgress(`step ${step}/${total}, ${seconds.toFixed(0)} s (${(seconds / step).toFixed(2)} s/step)`);
            }
          },
        });
        const ms = performance.now() - started;
        const golden = await t.decodePixels('/goldens/tiny-a-imagine.png');
        const images = result.images.map((image, i) => ({
          width: image.width,
          height: image.height,
          bytes: image.data.length,
          isImageData: image instanceof ImageData,
          psnr: t.psnr(image, golden),
          png: t.show(image, `imagine ${i}`),
        }));
        return { width: result.width, height: result.height, codes: result.codes, cancelled: result.cancelled, images, steps, ms };
      },
      { prompt: imagine.prompt, cfgWeight: imagine.cfg_weight },
    );
    check(got.cancelled === false, 'generateImage: cancelled should be false');
    check(got.codes.length === 2, `generateImage: expected 2 code rows, got ${got.codes.length}`);
    checkIds(got.codes[0], imagine.codes, 'generateImage codes[0]');
    checkIds(got.codes[1], imagine.codes, 'generateImage codes[1]');
    const [w, h] = imagine.image_size;
    check(got.width === w && got.height === h, `generateImage: size ${got.width}x${got.height}, golden ${w}x${h}`);
    check(got.images.length === 2, `generateImage: expected 2 images, got ${got.images.length}`);
    for (const [i, image] of got.images.entries()) {
      check(image.bytes === w * h * 4, `generateImage image ${i}: ${image.bytes} bytes, expected ${w}*${h}*4`);
      check(image.isImageData, `generateImage image ${i}: expected an ImageData on the page`);
      // The reference decoder's output in f32, quantised to 8 bits on both sides.
      check(image.psnr >= 35, `generateImage image ${i}: PSNR ${image.psnr.toFixed(1)} dB vs tiny-a-imagine.png (< 35)`);
    }
    const last = got.steps.at(-1);
    check(got.steps.length > 0, 'generateImage: onStep was never called');
    check(
      last[0] === last[1] && last[1] === imagine.codes.length,
      `generateImage: last onStep (${last}) should be (${imagine.codes.length}, ${imagine.codes.length})`,
    );
    figures.imagine = {
      ms: Math.round(got.ms),
      steps: got.steps.length,
      size: [got.width, got.height],
      psnrDb: got.images.map((image) => image.psnr),
      pngs: got.images.map((image, i) => savePng(image.png, `web-e2e-imagine-${i}.png`)),
    };
    console.log(
      `   ${got.steps.length} steps in ${(got.ms / 1000).toFixed(1)} s; PSNR vs golden ${got.images
        .map((image) => image.psnr.toFixed(1))
        .join(', ')} dB; ${figures.imagine.pngs.join(', ')}`,
    );
  });

  await step(page, 'OpenAI-style images.generate: a base64 PNG of the golden image', async () => {
    const got = await page.evaluate(
      async ({ prompt, cfgWeight }) => {
        const openai = Janus.openAI(client);
        const response = await openai.images.generate({ prompt, n: 1, cfg_weight: cfgWeight, temperature: 0, response_format: 'b64_json' });
        const b64 = response.data[0].b64_json;
        const image = await t.decodePixels(`data:image/png;base64,${b64}`);
        const golden = await t.decodePixels('/goldens/tiny-a-imagine.png');
        const wrongSize = await t.rejection(openai.images.generate({ prompt, size: '1024x1024' }));
        return { count: response.data.length, seed: response.seed, pngBytes: atob(b64).length, width: image.width, height: image.height, psnr: t.psnr(image, golden), wrongSize };
      },
      { prompt: imagine.prompt, cfgWeight: imagine.cfg_weight },
    );
    const [w, h] = imagine.image_size;
    check(got.count === 1 && got.width === w && got.height === h, `images.generate: ${got.count} images of ${got.width}x${got.height}, golden ${w}x${h}`);
    // The same pixels as generateImage (PNG is lossless): the golden within the same bound.
    check(got.psnr >= 35, `images.generate: PSNR ${got.psnr.toFixed(1)} dB vs tiny-a-imagine.png (< 35)`);
    check(got.wrongSize.code === 'bad-request' && /384x384/.test(got.wrongSize.message), `size 1024x1024: ${JSON.stringify(got.wrongSize)}`);
    console.log(`   a ${got.pngBytes}-byte PNG, PSNR ${got.psnr.toFixed(1)} dB vs golden`);
  });

  await step(page, 'cancel an image generation after 5 steps, then chat', async () => {
    const got = await page.evaluate(async ({ prompt, cfgWeight }) => {
      const controller = new AbortController();
      const steps = [];
      const result = await client.generateImage(prompt, {
        cfgWeight,
        temperature: 0,
        signal: controller.signal,
        onStep: (step, total) => {
          steps.push([step, total]);
          if (steps.length === 5) controller.abort();
        },
      });
      return { cancelled: result.cancelled, steps, codes: result.codes.map((row) => row.length) };
    }, { prompt: imagine.prompt, cfgWeight: imagine.cfg_weight });
    check(got.cancelled === true, 'cancelled generateImage: cancelled should be true');
    check(
      got.steps.length >= 5 && got.steps.length < imagine.codes.length,
      `cancelled generateImage: ${got.steps.length} steps, expected 5..${imagine.codes.length - 1}`,
    );
    figures.cancelledImagine = { steps: got.steps.length, codeRows: got.codes };
    console.log(`   stopped after ${got.steps.length} steps`);
    await shortChat(page, 'chat after a cancelled image', { kept: true });
  });

  await step(page, 'an already aborted signal rejects before sending', async () => {
    const got = await page.evaluate(async ({ messages }) => {
      const signal = AbortSignal.abort();
      return {
        chat: await t.rejection(client.chat(messages, { signal }).result),
        image: await t.rejection(client.generateImage('x', { signal })),
        load: await t.rejection(client.load('/models/tiny-a-hf/', { signal })),
      };
    }, { messages: TEXT_MESSAGES });
    for (const [what, error] of Object.entries(got)) checkError(error, ['aborted'], `aborted ${what}`);
  });

  await step(page, 'crash: trap the wasm during a chat, restart, load, chat', async () => {
    const got = await page.evaluate(
      async ({ messages, options }) => {
        const stream = client.chat(messages, options);
        let trap = null;
        const chat = await t.collect(stream, {
          whenPieces: { count: 2, run: () => (trap = t.rejection(client._debugTrap())) },
        });
        return {
          chat,
          trap: await trap,
          crashed: client.crashed,
          crashes,
          crashEvents,
          next: await t.rejection(client.chat(messages, options).result),
        };
      },
      { messages: TEXT_MESSAGES, options: TEXT_OPTIONS },
    );
    check(got.trap !== null, 'crash: the chat ended before 2 pieces; could not trap during it');
    check(got.chat.error !== null, `crash: the pending chat should reject, it resolved (${got.chat.result?.stop})`);
    check(got.chat.error.code === 'worker-crashed', `crash: pending chat rejected with ${got.chat.error.code}: ${got.chat.error.message}`);
    checkError(got.trap, ['worker-crashed'], 'crash: _debugTrap()');
    check(got.crashed === true, 'crash: client.crashed should be true');
    check(got.crashes.length === 1 && got.crashEvents === 1, `crash: onCrash ${got.crashes.length}x, 'crash' event ${got.crashEvents}x (want 1, 1)`);
    checkError(got.next, ['worker-crashed'], 'crash: a call after the crash');
    figures.crash = { message: got.crashes[0].message, panic: got.crashes[0].panic ?? null };
    console.log(`   crash: ${got.crashes[0].message}`);

    const restarted = await page.evaluate(async () => {
      const info = await client.restart();
      return { dtype: info.dtype, crashed: client.crashed };
    });
    check(restarted.crashed === false, 'restart: client.crashed should be false');
    await loadModel(page, server, 'reload after restart', { cached: true });
    await shortChat(page, 'chat after restart');
  });

  for (const cache of [true, false]) {
    await step(page, `load ${VOCAB_MODEL} (${cache ? 'into and from the cache' : 'streamed, cache: false'}): wasm memory bounded by one request, not by the tensors or the checkpoint`, async () => {
      const got = await page.evaluate(async ({ model, cache }) => {
        const started = performance.now();
        const report = await client.load(model, { cache });
        return { report, ms: performance.now() - started };
      }, { model: VOCAB_MODEL, cache });
      const { report } = got;
      const growth = report.wasmMemoryPeak - report.wasmMemoryBefore;
      // One request (at most 8 MiB: a larger tensor comes in row parts) in hand, and its rows
      // in f32 (twice its bf16 bytes) written to the GPU a few MiB at a time, each write's bytes
      // held until the GPU queue takes it (by the end of the request), plus allocator slack. No
      // whole tensor: its rows go to the GPU as they come (measured: 24.3 MiB of growth).
      const bound = 3 * report.largestRequestBytes + 16 * MIB;
      // In f32 the largest tensor is twice its bf16 bytes: a loader that held it would not fit.
      check(bound < 2 * report.largestTensorBytes, `the memory bound ${bound} is not below the largest tensor in f32 (${2 * report.largestTensorBytes}): the model proves nothing`);
      const mib = (n) => `${(n / MIB).toFixed(1)} MiB`;
      console.log(
        `   checkpoint ${mib(report.checkpointBytes)} in ${report.requests} requests (largest ${mib(report.largestRequestBytes)}), ` +
          `largest tensor ${mib(report.largestTensorBytes)}; wasm memory ${mib(report.wasmMemoryBefore)} -> peak ${mib(report.wasmMemoryPeak)} ` +
          `(growth ${mib(growth)}, bound ${mib(bound)}), ${(got.ms / 1000).toFixed(1)} s`,
      );
      figures[cache ? 'bigLoadCached' : 'bigLoadStreamed'] = { ms: Math.round(got.ms), growth, bound, report };
      check(report.download.cache === (cache ? 'indexeddb' : 'none'), `big load: download ${JSON.stringify(report.download)}`);
      check(bound < report.checkpointBytes / 2, `the memory bound ${bound} is not far below the checkpoint ${report.checkpointBytes}: the model is too small to prove anything`);
      check(growth <= bound, `wasm memory grew by ${growth} bytes loading a ${report.checkpointBytes}-byte checkpoint; bound ${bound}`);
    });
  }

  await step(page, 'device lost during a chat (device.destroy()): device-lost, restart, load from the cache, chat', async () => {
    await loadModel(page, server, 'the tiny model again, for a short chat', { cached: true });
    const got = await page.evaluate(
      async ({ messages, options }) => {
        const crashesBefore = crashes.length;
        let lose = null;
        let lostAt = 0;
        const chat = await t.collect(client.chat(messages, options), {
          whenPieces: {
            count: 2,
            run: () => {
              lostAt = performance.now();
              lose = t.rejection(client._debugLoseDevice());
            },
          },
        });
        const failedMs = performance.now() - lostAt;
        const crashed = client.crashed;
        const restarted = performance.now();
        await client.restart();
        const restartMs = performance.now() - restarted;
        return { chat, lose: await lose, crashed, crash: crashes.slice(crashesBefore), failedMs, restartMs };
      },
      { messages: TEXT_MESSAGES, options: TEXT_OPTIONS },
    );
    check(got.lose !== null && 'resolved' in got.lose, `device lost: _debugLoseDevice() did not run or rejected: ${JSON.stringify(got.lose)}`);
    check(got.chat.error !== null, `device lost: the chat should reject, it resolved (${got.chat.result?.stop})`);
    check(got.chat.error.code === 'device-lost', `device lost: the chat rejected with ${got.chat.error.code}: ${got.chat.error.message}`);
    check(got.crashed && got.crash.length === 1 && got.crash[0].code === 'device-lost', `device lost: onCrash ${JSON.stringify(got.crash)}`);
    figures.deviceLostChat = { message: got.chat.error.message, pieces: got.chat.pieces.length, failedMs: Math.round(got.failedMs), restartMs: Math.round(got.restartMs) };
    console.log(`   the chat failed ${got.failedMs.toFixed(0)} ms after the loss; restart ${got.restartMs.toFixed(0)} ms; ${got.chat.error.message.split('\n')[0]}`);
    await loadModel(page, server, 'load after device loss in a chat', { cached: true });
    await shortChat(page, 'chat after device loss');
  });

  await step(page, 'a real WebGPU validation error (one buffer bound twice as writable): the engine stops naming it, restart, load from the cache, chat', async () => {
    const got = await page.evaluate(async () => {
      const crashesBefore = crashes.length;
      const refusal = await t.rejection(client._debugGpuRefusal());
      const after = await t.rejection(client.chat([{ role: 'user', content: 'hi' }]).result);
      return { refusal, after, crashed: client.crashed, crash: crashes.slice(crashesBefore) };
    });
    check(
      got.refusal.code === 'worker-crashed' && /the GPU refused the engine's work/.test(got.refusal.message) && /alias/i.test(got.refusal.panic ?? ''),
      `a refused command: ${JSON.stringify(got.refusal)}`,
    );
    check(got.crashed && got.crash.length === 1 && got.crash[0].code === 'worker-crashed', `a refused command: onCrash ${JSON.stringify(got.crash)}`);
    check(got.after.code === 'worker-crashed', `a chat after the refusal: ${JSON.stringify(got.after)}`);
    figures.gpuRefusal = { message: got.refusal.message };
    console.log(`   ${got.refusal.message.split('\n')[0].slice(0, 300)}`);
    await page.evaluate(() => client.restart());
    await loadModel(page, server, 'load after a refused command', { cached: true });
    await shortChat(page, 'chat after a refused command');
  });

  await step(page, `device lost during a load of ${VOCAB_MODEL} from the cache: device-lost, restart, the cache intact`, async () => {
    server.resetStats();
    const got = await page.evaluate(async (model) => {
      const crashesBefore = crashes.length;
      let lose = null;
      const load = await t.rejection(
        client.load(model, {
          onProgress: (p) => {
            if (lose === null && p.phase === 'weights') lose = t.rejection(client._debugLoseDevice());
          },
        }),
      );
      return { load, lose: await lose, crash: crashes.slice(crashesBefore) };
    }, VOCAB_MODEL);
    check(got.lose !== null && 'resolved' in got.lose, `device lost in a load: _debugLoseDevice() did not run or rejected: ${JSON.stringify(got.lose)}`);
    checkError(got.load, ['device-lost'], 'device lost in a load');
    check(got.crash.length === 1 && got.crash[0].code === 'device-lost', `device lost in a load: onCrash ${JSON.stringify(got.crash)}`);
    figures.deviceLostLoad = { message: got.load.message };
    console.log(`   ${got.load.message.split('\n')[0]}`);
    const again = await page.evaluate(async (model) => {
      await client.restart();
      return client.load(model);
    }, VOCAB_MODEL);
    check(again.download.fetchedBytes === 0 && again.download.cache === 'indexeddb', `after the loss the cached model was fetched again: ${JSON.stringify(again.download)}`);
    check(Object.keys(server.stats().paths).every((p) => !p.startsWith(VOCAB_MODEL)), `after the loss the weights server was asked: ${JSON.stringify(server.stats().paths)}`);
  });

  await step(page, 'out of wasm memory during a load (memory squeezed): out-of-memory, restart, load from the cache, chat', async () => {
    const got = await page.evaluate(async (model) => {
      await client.restart();
      const crashesBefore = crashes.length;
      // Leave under 2 MiB that the instance can still grow by: the tiny model's shards need more.
      const squeezed = await client._debugSqueezeMemory(1024 * 1024);
      const load = await t.rejection(client.load(model));
      return { squeezed, load, crash: crashes.slice(crashesBefore) };
    }, MODEL);
    checkError(got.load, ['out-of-memory'], 'a load in a squeezed instance');
    check(got.crash.length === 1 && got.crash[0].code === 'out-of-memory', `out of memory: onCrash ${JSON.stringify(got.crash)}`);
    figures.outOfMemory = { memoryBytes: got.squeezed.memoryBytes, message: got.load.message };
    console.log(`   memory grown to ${(got.squeezed.memoryBytes / MIB).toFixed(0)} MiB; ${got.load.message}`);
    await page.evaluate(() => client.restart());
    await loadModel(page, server, 'load after running out of memory', { cached: true });
    await shortChat(page, 'chat after running out of memory');
  });

  await step(page, 'dispose', async () => {
    const got = await page.evaluate(async ({ messages }) => {
      client.dispose();
      return {
        load: await t.rejection(client.load('/models/tiny-a-hf/')),
        chat: await t.rejection(client.chat(messages).result),
        restart: await t.rejection(client.restart()),
        crashed: client.crashed,
      };
    }, { messages: TEXT_MESSAGES });
    checkError(got.load, ['disposed'], 'load after dispose');
    checkError(got.chat, ['disposed'], 'chat after dispose');
    checkError(got.restart, ['disposed'], 'restart after dispose');
  });
}

/** Streams one chat on the page; returns {pieces, result, error, ms}. */
function chat(page, messages, options) {
  return page.evaluate(
    async ({ messages, options }) => {
      const started = performance.now();
      const got = await t.collect(client.chat(messages, options));
      t.log(`chat -> ${JSON.stringify(got.result?.ids ?? got.error)}`);
      return { ...got, ms: performance.now() - started };
    },
    { messages, options },
  );
}

/**
 * The text case with 4 new tokens: the engine still works and still matches the golden. After a
 * load or a new engine nothing is kept from before; after an image job (`kept`), the chats kept
 * before it fit beside its caches and outlive it: the same prompt runs its last token alone.
 */
async function shortChat(page, what, { kept = false } = {}) {
  const got = await chat(page, TEXT_MESSAGES, { ...TEXT_OPTIONS, maxNewTokens: 4 });
  checkChat(got, what);
  const { reusedTokens, promptTokens } = got.result;
  if (kept) check(reusedTokens === promptTokens - 1, `${what}: ${reusedTokens} of ${promptTokens} prompt tokens reused: the chats kept before the image job did not outlive it`);
  else check(reusedTokens === 0, `${what}: ${reusedTokens} prompt tokens reused from before`);
  checkIds(got.result.ids, text.output_ids.slice(0, 4), what);
  check(got.result.stop === 'max_tokens', `${what}: stop should be 'max_tokens', got ${got.result.stop}`);
}

/**
 * Loads the tiny model, checks progress, the report, the memory growth and what was fetched:
 * the first load downloads every file into the IndexedDB cache, a later one (`cached`) reads it
 * from there without a request.
 */
async function loadModel(page, server, what, { cached = false } = {}) {
  server.resetStats();
  const got = await page.evaluate(async (model) => {
    const events = [];
    const started = performance.now();
    const report = await client.load(model, { onProgress: (p) => events.push(p) });
    return { report, events, ms: performance.now() - started };
  }, MODEL);
  const { report } = got;
  const downloads = got.events.filter((e) => e.phase === 'download');
  const events = got.events.filter((e) => e.phase !== 'download');
  check(events.length > 0, `${what}: no progress events`);
  for (let i = 1; i < events.length; i += 1) {
    check(
      events[i].bytesDone >= events[i - 1].bytesDone,
      `${what}: bytesDone went down at event ${i}: ${JSON.stringify(events[i - 1])} -> ${JSON.stringify(events[i])}`,
    );
  }
  for (let i = 1; i < downloads.length; i += 1) {
    check(downloads[i].bytes >= downloads[i - 1].bytes, `${what}: download bytes went down at event ${i}`);
  }
  check(report.download.cache === 'indexeddb', `${what}: the load did not use the cache: ${JSON.stringify(report.download)}`);
  if (cached) {
    check(report.download.fetchedBytes === 0, `${what}: a cached model was fetched again: ${JSON.stringify(report.download)}`);
  } else {
    check(downloads.length > 0 && downloads.at(-1).bytes === downloads.at(-1).total, `${what}: download progress did not reach the total`);
  }
  const last = events.at(-1);
  check(
    last.tensorsDone === last.tensorsTotal && last.tensorsTotal === report.tensors,
    `${what}: last progress ${last.tensorsDone}/${last.tensorsTotal} tensors, report.tensors ${report.tensors}`,
  );
  check(report.format === 'huggingface', `${what}: format ${report.format}, expected huggingface`);
  check(report.dtype === 'f32', `${what}: dtype ${report.dtype}, expected f32`);

  // The loader streams tensor by tensor: wasm memory must not grow by the checkpoint's size.
  const growth = report.wasmMemoryPeak - report.wasmMemoryBefore;
  const bound = 4 * report.largestTensorBytes + 8 * MIB;
  const stats = server.stats();
  const fetched = Object.fromEntries(
    Object.entries(stats.paths)
      .filter(([p]) => p.startsWith(MODEL))
      .map(([p, s]) => [
        p.slice(MODEL.length),
        { requests: s.requests, bytes: s.bytes, size: statSync(path.join(MODEL_DIR, p.slice(MODEL.length)), { throwIfNoEntry: false })?.size ?? null },
      ]),
  );
  const figure = {
    ms: Math.round(got.ms),
    downloadEvents: downloads.length,
    download: report.download,
    progressEvents: events.length,
    phases: [...new Set(events.map((e) => e.phase))],
    report,
    memory: { growth, bound, checkpointBytes: report.checkpointBytes, largestTensorBytes: report.largestTensorBytes },
    fetched,
  };
  figures[what] = figure;
  const mib = (n) => `${(n / MIB).toFixed(2)} MiB`;
  console.log(
    `   ${report.tensors} tensors, ${report.parameters} parameters, ${events.length} progress events (${figure.phases.join(' > ')}), ${(got.ms / 1000).toFixed(1)} s`,
  );
  console.log(
    `   wasm memory ${mib(report.wasmMemoryBefore)} -> peak ${mib(report.wasmMemoryPeak)} (growth ${mib(growth)}, bound ${mib(bound)}); ` +
      `checkpoint ${mib(report.checkpointBytes)}, largest tensor ${mib(report.largestTensorBytes)}, after load ${mib(report.wasmMemoryBytes)}`,
  );
  for (const [file, f] of Object.entries(fetched)) {
    console.log(`   fetched ${file}: ${f.requests} requests, ${f.bytes} of ${f.size} bytes`);
  }
  check(growth <= bound, `${what}: wasm memory grew by ${growth} bytes during the load, more than 4*largestTensorBytes + 8 MiB = ${bound}`);
  if (cached) {
    check(Object.keys(fetched).length === 0, `${what}: the cached model made requests: ${JSON.stringify(fetched)}`);
  } else {
    // Each file once, plus the one-byte probe that gave its size and ETag (no hub listing here);
    // the only request for a file that is not there is the one probe for a pack's manifest.
    for (const [file, f] of Object.entries(fetched)) {
      if (f.size === null) check(file === 'janus-pack.json' && f.requests === 1, `${what}: requested ${file}, which does not exist: ${JSON.stringify(f)}`);
    }
    for (const file of MODEL_FILES) {
      const f = fetched[file];
      check(f?.bytes === f?.size + 1 && f?.requests === 2, `${what}: ${file} was not downloaded whole once: ${JSON.stringify(f)}`);
    }
  }
  return figure;
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: the whole run took longer than ${RUN_TIMEOUT_MS / 1000} s`);
  writeArtifacts();
  process.exit(1);
}, RUN_TIMEOUT_MS);

const started = performance.now();
main().then(
  () => {
    clearTimeout(watchdog);
    figures.totalMs = Math.round(performance.now() - started);
    writeArtifacts();
    console.log(`\nweb e2e passed in ${(figures.totalMs / 1000).toFixed(1)} s; figures in tests/artifacts/web-e2e.json`);
  },
  (error) => {
    clearTimeout(watchdog);
    console.error(`\nFAIL: ${error instanceof CheckFailed ? error.message : error.stack ?? error}`);
    console.error(`(browser console: tests/artifacts/web-e2e-console.log; screenshot: tests/artifacts/web-e2e-failure.png)`);
    const tail = consoleLines.slice(-20);
    if (tail.length > 0) console.error(`last browser console lines:\n  ${tail.join('\n  ')}`);
    process.exit(1);
  },
);
