// janus-web client: DeepSeek Janus on WebGPU, in a Web Worker. The public API of web/dist/janus.js.

export { JanusClient } from './client.js';
export type {
  ChatMessage,
  ChatOptions,
  CreateOptions,
  GenerateImageOptions,
  GeneratedImages,
  LoadOptions,
  RgbaImage,
} from './client.js';
export type { ChatStream } from './chat-stream.js';
export { CLIENT_CODES, ENGINE_CODES, JanusError, isJanusErrorCode } from './errors.js';
export type { ClientErrorCode, EngineErrorCode, JanusErrorCode } from './errors.js';
export type { ChatImage, LoadResult } from './protocol.js';
export type {
  ChatResult,
  DeviceInfo,
  Dtype,
  ImageOptions,
  LoadProgress,
  LoadReport,
  SamplingOptions,
  StopReason,
} from './types.js';
