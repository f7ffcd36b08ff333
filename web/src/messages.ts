// Every error code as a sentence a person can act on. The page shows `title`, then `action`.

import type { JanusErrorCode } from './errors.js';

export interface HumanError {
  title: string;
  action: string;
}

const MESSAGES: Record<JanusErrorCode, HumanError> = {
  'no-webgpu': {
    title: 'This browser cannot run Janus: it offers no WebGPU.',
    action: 'Use a current Chrome, Edge or Safari 26 with hardware acceleration on, or update the graphics driver.',
  },
  device: { title: 'The graphics card refused to start the engine.', action: 'Close other GPU-heavy tabs and try again; restarting the browser often helps.' },
  'device-lost': {
    title: 'The graphics card stopped responding (the device was lost).',
    action: 'Janus restarts itself; load the model again. If it keeps happening, pick a smaller model.',
  },
  'out-of-memory': { title: 'The model does not fit in this GPU’s memory.', action: 'Close other tabs or pick a smaller model.' },
  network: { title: 'The download stopped: the network failed.', action: 'Check the connection and press Download again; it resumes where it stopped.' },
  http: { title: 'The model server refused the request.', action: 'The model may be private or gated, or the URL wrong; check it and try again later.' },
  'not-found': { title: 'The model files were not found there.', action: 'Check the URL: it must point to a folder with config.json, tokenizer.json and safetensors.' },
  'bad-checkpoint': { title: 'These files are not a Janus model this engine can read.', action: 'Pick a model from the list, or a Janus checkpoint in safetensors.' },
  'bad-config': { title: 'The model’s config.json is not a Janus configuration.', action: 'Pick a model from the list, or check the URL.' },
  'bad-tokenizer': { title: 'The model’s tokenizer.json is unusable.', action: 'Pick a model from the list, or check the files.' },
  'bad-image': { title: 'That picture could not be read.', action: 'Use a PNG, JPEG or WebP image.' },
  'bad-prompt': { title: 'The conversation is too long for the model.', action: 'Clear the chat or shorten the message.' },
  'bad-request': { title: 'That request is not valid.', action: 'Check the settings and try again.' },
  'too-large': { title: 'A part of this model is larger than this GPU can hold in one buffer.', action: 'Pick a smaller model.' },
  'not-loaded': { title: 'No model is loaded yet.', action: 'Pick a model and load it first.' },
  busy: { title: 'Janus is busy with another request.', action: 'Wait for it to finish or stop it.' },
  integrity: {
    title: 'A downloaded file did not match its checksum and was thrown away.',
    action: 'Press Download again; if it fails again, the server is sending damaged files.',
  },
  storage: { title: 'The browser’s storage failed.', action: 'Allow site data for this page (not private browsing) and try again.' },
  quota: { title: 'There is not enough storage for this model.', action: 'Free disk space or delete a cached model below; what is downloaded so far is kept.' },
  'bad-response': {
    title: 'The server sent something other than the model file.',
    action: 'Check the URL; a sign-in page or a proxy may be in the way.',
  },
  internal: { title: 'Something went wrong inside Janus.', action: 'Reload the page; if it happens again, please report it with the details.' },
  aborted: { title: 'Stopped.', action: 'Start it again when you like; downloads resume where they stopped.' },
  'worker-crashed': { title: 'The engine crashed.', action: 'Janus restarts itself; load the model again.' },
  disposed: { title: 'The engine was shut down.', action: 'Reload the page.' },
  blocked: {
    title: 'This page’s security policy does not allow the engine to run.',
    action: "The site must allow WebAssembly: add 'wasm-unsafe-eval' to script-src in its Content-Security-Policy.",
  },
};

export function humanError(code: JanusErrorCode): HumanError {
  return MESSAGES[code];
}

export const MESSAGE_CODES: readonly JanusErrorCode[] = Object.keys(MESSAGES) as JanusErrorCode[];
