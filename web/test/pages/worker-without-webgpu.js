// The engine worker in a browser that gives WebGPU to pages and not to Web Workers: its
// navigator.gpu hidden first (static imports run in order), then the real worker. Used by
// web/test/e2e.mjs through JanusClient.create({ workerUrl }).
import './hide-worker-gpu.js';
import '/dist/worker.js';
