// Uses every public type of janus-web the way an application would; compiled with
// `tsc -p examples/typescript` against the installed package (web/test/package-e2e.mjs).

import {
  DEFAULT_PREVIEW_EVERY,
  JanusClient,
  JanusError,
  MODELS,
  formatBytes,
  humanError,
  openAI,
  resolveModel,
  type CachedModel,
  type ChatCompletion,
  type ChatCompletionParamsNonStreaming,
  type FinishReason,
  type ImagesResponse,
  type ChatMessage,
  type DownloadProgress,
  type GeneratedImages,
  type ImagePreview,
  type JanusErrorCode,
  type LoadProgress,
  type LoadResult,
} from 'janus-web';
import { JanusChatElement, JanusImageElement, defineJanusElements, type ChatMessageEventDetail, type ImageEventDetail } from 'janus-web/elements';

export async function run(signal: AbortSignal): Promise<string> {
  const client: JanusClient = await JanusClient.create({ dtype: 'auto' });
  const onProgress = (p: LoadProgress | DownloadProgress): string =>
    p.phase === 'download' ? `${formatBytes(p.bytes)} of ${formatBytes(p.total)}` : `${p.tensorsDone}/${p.tensorsTotal}`;
  const loaded: LoadResult = await client.load(MODELS[0]?.id ?? 'janus-1.3b', { signal, onProgress: (p) => void onProgress(p) });
  const history: ChatMessage[] = [{ role: 'user', content: 'What is this?', images: [new Blob([])] }];
  const stream = client.chat(history, { maxNewTokens: 16, temperature: 0.7, topP: 0.95, signal });
  let text = '';
  for await (const piece of stream) text += piece;
  const { stop } = await stream.result;
  const images: GeneratedImages = await client.generateImage('a fox', {
    count: 2,
    cfgWeight: 5,
    previewEvery: DEFAULT_PREVIEW_EVERY,
    onPreview: (preview: ImagePreview) => void preview.images[0]?.data.length,
    signal,
  });
  const cached: CachedModel[] = await JanusClient.cachedModels();
  client.dispose();
  return `${loaded.parameters} ${text} ${stop} ${images.seed} ${cached.length} ${resolveModel('janus-pro-1b').baseUrl}`;
}

/** The OpenAI-style face: a whole completion, a streamed one, and images. */
export async function asOpenAI(client: JanusClient, picture: string): Promise<string> {
  const openai = openAI(client, { model: 'janus-pro-1b' });
  const params: ChatCompletionParamsNonStreaming = {
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: picture } }] },
    ],
    max_tokens: 32,
    stop: ['\n\n'],
  };
  const whole: ChatCompletion = await openai.chat.completions.create(params);
  const finish: FinishReason = whole.choices[0].finish_reason;
  let streamed = '';
  for await (const chunk of await openai.chat.completions.create({ ...params, stream: true })) streamed += chunk.choices[0]?.delta.content ?? '';
  const images: ImagesResponse = await openai.images.generate({ prompt: 'a fox', n: 1, response_format: 'b64_json' });
  return `${whole.choices[0].message.content} ${finish} ${whole.usage.prompt_tokens_details.cached_tokens} ${streamed} ${images.data.length}`;
}

export function explain(error: unknown): string {
  if (!(error instanceof JanusError)) return String(error);
  const code: JanusErrorCode = error.code;
  const { title, action } = humanError(code);
  return `${title} ${action}`;
}

export function wire(): void {
  defineJanusElements();
  const chat: JanusChatElement = document.createElement('janus-chat');
  chat.setAttribute('model', 'janus-pro-1b');
  chat.addEventListener('message', (event) => {
    const detail = (event as CustomEvent<ChatMessageEventDetail>).detail;
    console.log(detail.role, detail.text);
  });
  const image = document.querySelector('janus-image');
  if (image instanceof JanusImageElement) {
    image.addEventListener('image', (event) => console.log((event as CustomEvent<ImageEventDetail>).detail.seed));
    void image.generate('a lighthouse at dusk');
  }
  void chat.send('Hello');
  document.body.append(chat);
}
