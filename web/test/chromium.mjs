// The Chromium every browser test launches: Debian's, headless, quiet; WebGPU through SwiftShader
// (a CPU implementation) where a test needs the engine.

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const BASE_ARGS = Object.freeze([
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // Containers often have a 64 MiB /dev/shm; Chromium then crashes on big shared buffers.
  '--disable-dev-shm-usage',
]);

export const WEBGPU_ARGS = Object.freeze(['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader']);
