// janus-web client: DeepSeek Janus on WebGPU, in a Web Worker. The public API of web/dist/janus.js.

export { DEFAULT_PREVIEW_EVERY, JanusClient } from './client.js';
export type {
  ChatMessage,
  ChatOptions,
  CreateOptions,
  GenerateImageOptions,
  GeneratedImages,
  ImagePreview,
  LoadOptions,
  PrefillResult,
  RgbaImage,
} from './client.js';
export type { ChatStream } from './chat-stream.js';
export { JANUS_IMAGE_SIZE, openAI } from './openai/index.js';
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionParams,
  ChatCompletionParamsNonStreaming,
  ChatCompletionParamsStreaming,
  ChatCompletionTokenLogprob,
  ChoiceLogprobs,
  CompletionUsage,
  FinishReason,
  ImageGenerateParams,
  ImagesResponse,
  JanusOpenAI,
  OpenAIMessage,
  TopLogprobEntry,
} from './openai/index.js';
export { CLIENT_CODES, ENGINE_CODES, JanusError, isJanusErrorCode, toJanusError } from './errors.js';
export type { ClientErrorCode, EngineErrorCode, JanusErrorCode } from './errors.js';
export type { ChatImage, DownloadReport, LoadResult } from './protocol.js';
export { humanError, type HumanError } from './messages.js';
export { DEFAULT_HUB, MODELS, defaultModel, resolveModel } from './store/registry.js';
export type { ModelSource, RegistryModel } from './store/registry.js';
export { formatBytes } from './store/model-cache.js';
export type { CachedModel, DownloadProgress } from './store/model-cache.js';
export type { ModelAvailability, ModelState } from './store/availability.js';
export type { RetryPolicy } from './store/http.js';
export type {
  ChatResult,
  TokenLogprob,
  TopLogprob,
  DeviceInfo,
  Dtype,
  Quant,
  ImageOptions,
  LoadProgress,
  LoadReport,
  SamplingOptions,
  StopReason,
} from './types.js';
