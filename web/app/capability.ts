// What this machine's WebGPU can do, asked before anything is downloaded, in plain words.

export interface Capability {
  webgpu: boolean;
  adapter: string | null;
  shaderF16: boolean;
  /** The largest buffer one tensor may use (min of the two limits), bytes. */
  maxBufferBytes: number;
  /** Sentences for the page, most important first. */
  notes: string[];
}

/** Minimal WebGPU typing (the DOM lib of TypeScript 5.9 has no WebGPU types). */
interface GpuAdapterLike {
  features: { has(name: string): boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  info?: { vendor?: string; architecture?: string; description?: string };
}

/** Why Janus cannot run here, then what to do about it: the page shows both, and no download starts. */
function unavailable(why: string, whatToDo: string): Capability {
  return { webgpu: false, adapter: null, shaderF16: false, maxBufferBytes: 0, notes: [why, whatToDo] };
}

export async function checkCapability(): Promise<Capability> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (gpu === undefined) {
    return unavailable(
      'This browser has no WebGPU, so Janus cannot run here: no model can be downloaded or loaded.',
      'Open this page in a browser that has WebGPU: Chrome or Edge 113 or later, or Safari 26.',
    );
  }
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    adapter = null;
  }
  if (adapter === null) {
    return unavailable(
      'This browser has WebGPU but offers no graphics adapter to it, so Janus cannot run on this computer: no model can be downloaded or loaded.',
      'Turn on hardware acceleration in the browser’s settings and restart it, or update the graphics driver; if the GPU is blocked by the browser, use another browser or computer.',
    );
  }
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.description].filter((s) => s !== undefined && s !== '').join(' ') || 'a WebGPU adapter';
  const shaderF16 = adapter.features.has('shader-f16');
  const maxBufferBytes = Math.min(adapter.limits.maxBufferSize, adapter.limits.maxStorageBufferBindingSize);
  const notes = [
    `Janus will run on ${name}.`,
    shaderF16
      ? 'It supports 16-bit floats (shader-f16): models need about half the GPU memory.'
      : 'It has no 16-bit float support (shader-f16): weights run in 32-bit floats and need about twice the GPU memory.',
    `Its largest buffer is ${(maxBufferBytes / 2 ** 20).toFixed(0)} MiB; larger weight matrices are split.`,
  ];
  return { webgpu: true, adapter: name, shaderF16, maxBufferBytes, notes };
}
