// Hides navigator.gpu in this worker, as a browser that gives WebGPU to pages and not to Web
// Workers does (Firefox without dom.webgpu.workers.enabled). Imported before the real worker.
Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined, configurable: true });
