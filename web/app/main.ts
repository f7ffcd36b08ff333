// The page: what this machine can do, which model, its download, what is stored. Built on the
// client library (web/src); every label and message here is what a person reads.

import { JanusClient, JanusError, toJanusError, type CachedModel, type DownloadProgress, type LoadProgress } from '../src/index.js';
import { checkCapability, type Capability } from './capability.js';
import { ChatView } from './chat.js';
import { choiceOf, describeChoice, localChoice, registryChoices, storedChoices, storedFor, storedLine, type Choice, type LocalModel, type PageQuant } from './choices.js';
import { ImagineView, imageSampling } from './imagine.js';
import { formatBytes, formatDuration } from './format.js';
import { humanError } from '../src/messages.js';
import { setupOffline } from './offline.js';
import { setupTheme } from './theme.js';
import { button, byId } from './dom.js';

const $ = byId;

const state = {
  capability: null as Capability | null,
  choices: [] as Choice[],
  cached: [] as CachedModel[],
  client: null as JanusClient | null,
  loading: null as AbortController | null,
  loaded: null as Choice | null,
  chat: null as ChatView | null,
  imagine: null as ImagineView | null,
};

/** 4 bits unless the address asks otherwise (`?quant=none`): see PageQuant. */
const QUANT: PageQuant = new URLSearchParams(location.search).get('quant') === 'none' ? 'none' : 'q4';

/** The dev server's list, remembered for offline visits (the stored ones then still show). */
const LOCAL_MODELS_KEY = 'janus-local-models';

async function fetchLocalModels(): Promise<LocalModel[]> {
  let models: LocalModel[];
  try {
    const response = await fetch('/__models', { cache: 'no-store' });
    if (!response.ok) return [];
    models = (await response.json()) as LocalModel[];
  } catch {
    // Offline (or a static host without the dev server's listing): the list seen last time.
    try {
      return JSON.parse(localStorage.getItem(LOCAL_MODELS_KEY) ?? '[]') as LocalModel[];
    } catch {
      return [];
    }
  }
  try {
    localStorage.setItem(LOCAL_MODELS_KEY, JSON.stringify(models));
  } catch {
    // Storage refused (private mode, full): offline visits just lack the list.
  }
  return models;
}

function renderCapability(capability: Capability): void {
  const box = $('capability');
  box.dataset.ok = String(capability.webgpu);
  box.replaceChildren(...capability.notes.map((note) => Object.assign(document.createElement('p'), { textContent: note })));
}

/** A line above the models when this computer cannot run any of them (index.html has none). */
function unavailableNote(): HTMLElement {
  let note = document.getElementById('models-unavailable');
  if (note === null) {
    note = Object.assign(document.createElement('p'), {
      id: 'models-unavailable',
      className: 'unavailable',
      textContent: 'None of these models can be downloaded here: this browser cannot run Janus (see “This computer” above). They are listed with their sizes for a computer that can.',
    });
    $('model-list').before(note);
  }
  return note;
}

function renderModels(): void {
  const list = $<HTMLUListElement>('model-list');
  const f16 = state.capability?.shaderF16 ?? false;
  // Unavailable (no WebGPU, no adapter): every load stays off, and the buttons say why.
  const unavailable = state.capability !== null && !state.capability.webgpu;
  unavailableNote().hidden = !unavailable;
  const disabled = state.loading !== null || state.capability?.webgpu !== true;
  $<HTMLButtonElement>('custom-load').disabled = disabled;
  list.replaceChildren(
    ...state.choices.map((choice) => {
      const cached = storedFor(choice, state.cached, location.href, QUANT);
      const item = document.createElement('li');
      item.className = 'model';
      item.dataset.model = choice.id;
      const title = document.createElement('h3');
      title.textContent = choice.name;
      const description = document.createElement('p');
      description.textContent = choice.description;
      const { facts: factsText, action } = describeChoice(choice, cached, f16, QUANT);
      const facts = document.createElement('p');
      facts.className = 'facts';
      facts.textContent = factsText;
      const start = button(action, () => void load(choice));
      start.disabled = disabled;
      if (unavailable) start.setAttribute('aria-describedby', 'capability');
      item.append(title, description, facts, start);
      return item;
    }),
  );
}

async function renderStorage(): Promise<void> {
  try {
    state.cached = await JanusClient.cachedModels();
  } catch (error) {
    showError(error);
    state.cached = [];
  }
  state.choices.push(...storedChoices(state.cached, state.choices, location.href));
  const list = $<HTMLUListElement>('storage-list');
  list.replaceChildren(
    ...state.cached.map((model) => {
      const item = document.createElement('li');
      const choice = choiceOf(model, state.choices, location.href);
      const label = document.createElement('span');
      label.textContent = storedLine(model, choice);
      const remove = button('Delete', () => void removeModel(model), { label: `Delete ${choice?.name ?? model.name} from this computer` });
      remove.disabled = state.loading !== null;
      item.append(label, remove);
      return item;
    }),
  );
  $('storage-empty').hidden = state.cached.length > 0;
  const estimate = await navigator.storage?.estimate?.().catch(() => null);
  const persisted = await navigator.storage?.persisted?.().catch(() => false);
  $('storage-summary').textContent =
    estimate?.usage !== undefined && estimate.quota !== undefined
      ? `This site uses ${formatBytes(estimate.usage)}; the browser allows up to ${formatBytes(estimate.quota)}.${persisted === true ? ' Storage is persistent.' : ''}`
      : 'The browser does not say how much storage this site may use.';
  renderModels();
}

async function removeModel(model: CachedModel): Promise<void> {
  try {
    await JanusClient.deleteCachedModel(model.key);
    if (state.loaded !== null && choiceOf(model, [state.loaded], location.href) !== undefined) setStatus(`${state.loaded.name} stays loaded until the page closes; it is no longer stored.`);
  } catch (error) {
    showError(error);
  }
  await renderStorage();
}

function setStatus(text: string): void {
  $('status').textContent = text;
}

/** A way on that the error box offers as a button (e.g. use the model without storing it). */
interface Offer {
  label: string;
  run: () => void;
}

let offered: Offer | null = null;

function showError(error: unknown, offer: Offer | null = null): void {
  const { code } = toJanusError(error);
  if (code === 'device-lost' || code === 'worker-crashed') void recover();
  const { title, action } = humanError(code);
  const box = $('error');
  box.hidden = false;
  $('error-title').textContent = title;
  $('error-action').textContent = action;
  $('error-detail').textContent = error instanceof Error ? `${code}: ${error.message}` : String(error);
  offered = offer;
  const offerButton = $<HTMLButtonElement>('error-offer');
  offerButton.hidden = offer === null;
  offerButton.textContent = offer?.label ?? '';
}

function clearError(): void {
  $('error').hidden = true;
  offered = null;
  $('error-offer').hidden = true;
}

/** The load's latest events of each kind: a first load reads the shards while they download. */
const shown: { download: DownloadProgress | null; load: LoadProgress | null } = { download: null, load: null };

function showProgress(progress: LoadProgress | DownloadProgress): void {
  const bar = $<HTMLProgressElement>('progress-bar');
  const text = $('progress-text');
  if (progress.phase === 'download') {
    if (progress.waiting === true) {
      text.textContent = 'Waiting: another tab is downloading this model…';
      bar.removeAttribute('value');
      return;
    }
    shown.download = progress;
  } else {
    shown.load = progress;
  }
  const { download, load } = shown;
  const downloading = download !== null && download.bytes < download.total;
  const rate = download !== null && download.rate > 0 ? ` at ${formatBytes(download.rate)}/s, ${formatDuration(download.etaSeconds)} left` : '';
  if (load === null || load.phase !== 'weights') {
    if (download === null) return;
    bar.max = Math.max(1, download.total);
    bar.value = download.bytes;
    text.textContent = `Downloading ${download.file}: ${formatBytes(download.bytes)} of ${formatBytes(download.total)}${rate}`;
    return;
  }
  bar.max = Math.max(1, load.bytesTotal);
  bar.value = load.bytesDone;
  const loading = `loading onto the GPU: ${load.tensorsDone} of ${load.tensorsTotal} weights`;
  text.textContent = downloading ? `Downloading ${formatBytes(download.bytes)} of ${formatBytes(download.total)}${rate}, ${loading}` : `L${loading.slice(1)}`;
}

let recovering = false;

/**
 * A lost GPU device or a dead worker: start a fresh engine and load the same model again, without
 * reloading the page (the conversation and the gallery stay).
 */
async function recover(): Promise<void> {
  const client = state.client;
  if (recovering || client === null || state.loading !== null) return;
  recovering = true;
  try {
    setStatus('The engine stopped working; restarting it…');
    await client.restart();
    if (state.loaded !== null) {
      await client.load(state.loaded.source);
      state.chat?.warm(); // the fresh engine's cache is empty
      clearError(); // fixed: the status says what happened
      setStatus(`The engine was restarted and ${state.loaded.name} is loaded again.`);
    } else {
      setStatus('The engine was restarted.');
    }
  } catch (error) {
    setStatus('The engine could not be restarted: reload the page.');
    $('error-detail').textContent = toJanusError(error).message;
  } finally {
    recovering = false;
  }
}

/**
 * Load `choice`: into this browser's storage first (`store`, the default), or streamed for this
 * session only, which is what the error box offers when storage is full or unusable (S1).
 */
async function load(choice: Choice, { store = true }: { store?: boolean } = {}): Promise<void> {
  if (state.capability === null) return; // still starting: the buttons are not on yet
  if (!state.capability.webgpu) {
    // The buttons are off; a form submitted some other way still starts no download.
    showError(new JanusError('no-webgpu', state.capability.notes.join(' ')));
    return;
  }
  clearError();
  const controller = new AbortController();
  state.loading = controller;
  shown.download = null;
  shown.load = null;
  renderModels();
  const panel = $('download');
  panel.hidden = false;
  $('progress-title').textContent = choice.name;
  $('progress-text').textContent = 'Starting…';
  $<HTMLProgressElement>('progress-bar').removeAttribute('value');
  $('cancel').focus();
  try {
    if (state.client === null) {
      state.client = await JanusClient.create({ quant: QUANT === 'q4' ? 'q4' : undefined, maxBindingBytes: debugBindingBytes() });
      state.client.addEventListener('crash', (event) => showError((event as CustomEvent<JanusError>).detail));
      // Test hook (?debug): the page's state, to trap the engine from a test.
      if (new URLSearchParams(location.search).has('debug')) (window as { janusPage?: unknown }).janusPage = state;
    }
    const report = await state.client.load(choice.source, { cache: store, signal: controller.signal, onProgress: showProgress });
    state.loaded = choice;
    // A new view shows the kept conversation and reads it into the engine; a load clears the
    // engine's cache, so an existing view reads its conversation again.
    if (state.chat === null) state.chat = new ChatView(state.client, { onError: showError, drawing: imageSampling });
    else state.chat.warm();
    state.imagine ??= new ImagineView(state.client, { onError: showError, onAsk: (picture) => void state.chat?.ask(picture) });
    $('chat').hidden = false;
    $('imagine').hidden = false;
    const fetched = report.download.fetchedBytes;
    const ready = `${choice.name} is ready (${report.dtype}, ${report.parameters.toLocaleString()} parameters). `;
    if (report.download.cache === 'none') {
      // Streamed: asked for, or the browser's storage could not be opened (private mode, a newer page's schema).
      const why = report.download.cacheError === undefined ? '' : ` (${report.download.cacheError.message})`;
      setStatus(`${ready}It was not stored on this computer${why}: it downloads again next time.`);
    } else if (report.download.packError !== undefined && report.download.sourceReleased === true) {
      // Shard by shard with no room left for the pack: nothing of the model stays.
      setStatus(`${ready}Its 4-bit form could not be stored (${report.download.packError.message}): it downloads again next time.`);
    } else {
      const kept = report.download.pack === 'written' ? ' and stored its 4-bit form in a quarter of the space' : '';
      setStatus(ready + (fetched > 0 ? `Downloaded ${formatBytes(fetched)}${kept}; next time it loads from this computer, also offline.` : 'Loaded from this computer: no download needed.'));
    }
  } catch (error) {
    const code = toJanusError(error).code;
    if (code === 'aborted') setStatus('Download stopped. What arrived is kept: press the button again to resume.');
    else if (store && (code === 'quota' || code === 'storage')) showError(error, { label: 'Use it now without storing it', run: () => void load(choice, { store: false }) });
    else showError(error);
  } finally {
    state.loading = null;
    panel.hidden = true;
    await renderStorage();
    $('status').focus();
  }
}

async function main(): Promise<void> {
  setupTheme($('theme'));
  $('cancel').addEventListener('click', () => state.loading?.abort());
  $('error-offer').addEventListener('click', () => offered?.run());
  $('custom-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>('custom-url');
    const url = input.value.trim();
    if (url === '') return;
    void load({ id: 'custom', name: url, description: '', source: url, downloadBytes: 0, gpuBytes: null, q4: null });
  });
  void setupOffline((apply) => {
    $('update').hidden = false;
    $('update-apply').addEventListener('click', apply, { once: true });
  }).then((offline) => {
    $('offline').textContent =
      offline.kind === 'ready'
        ? 'This page works offline: it is kept by the browser, and stored models load with no network.'
        : `This page needs the network to open: ${offline.reason}. Stored models still load from this computer.`;
  });
  state.choices = [...(await fetchLocalModels()).map((m) => localChoice(m, location.href)), ...registryChoices()];
  state.capability = await checkCapability();
  renderCapability(state.capability);
  await renderStorage();
  document.body.dataset.ready = 'true';
}

/**
 * Test hook (?debug&maxBindingBytes=N): an engine that binds at most N bytes in one buffer, as a
 * modest device does, so that a test's prompt runs in passes the page says it reads.
 */
function debugBindingBytes(): number | undefined {
  const params = new URLSearchParams(location.search);
  const bytes = Number(params.get('maxBindingBytes'));
  return params.has('debug') && bytes > 0 ? bytes : undefined;
}

void main().catch(showError);
