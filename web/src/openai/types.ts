// The shapes of OpenAI's chat completions and images APIs that janus-web speaks (the subset
// Janus can honour), with the names OpenAI's SDK and WebLLM use, so code written for them runs
// unchanged. Janus-only settings are marked "janus-web extension".

/** A part of a message's content. */
export type TextPart = { type: 'text'; text: string };
/** A picture: a `data:`, `blob:`, `https:` or `http:` URL (OpenAI's object form or a bare string). */
export type ImagePart = { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } | string };

export type OpenAIMessage =
  | { role: 'system' | 'developer'; content: string | TextPart[]; name?: string }
  | { role: 'user'; content: string | (TextPart | ImagePart)[]; name?: string }
  | { role: 'assistant'; content: string | TextPart[] | null; name?: string };

export interface ChatCompletionParams {
  messages: OpenAIMessage[];
  /** Echoed in the response; the loaded model answers whatever it says. */
  model?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  /** Tokens the reply may have (max_completion_tokens wins where both are given). */
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  /** Absent: the engine's default, greedy (DeepSeek's own setting), not OpenAI's 1. */
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  /** Up to 16 sequences; the reply ends before the first one, which is not part of it. */
  stop?: string | string[] | null;
  /** Only 1. */
  n?: number | null;
  /**
   * Each reply token's log-probability under the model (temperature 1, before top-k or top-p
   * shaped the draw), in `choices[0].logprobs.content` (and in each streamed chunk, for the
   * tokens that came with it).
   */
  logprobs?: boolean | null;
  /** With `logprobs: true`: the most likely tokens at each step to list as well, 0 to 20. */
  top_logprobs?: number | null;
  /**
   * `{type: 'json_object'}`: the reply is one JSON object (`ChatOptions.json`): every token is
   * chosen among those that keep it the beginning of one, and it ends once complete
   * (finish_reason 'stop'; 'length' leaves the beginning of one). `{type: 'json_schema'}` is
   * refused: Janus does not follow a schema.
   */
  response_format?: { type: 'text' } | { type: 'json_object' } | null;
  /**
   * What Janus does not do is accepted only when it asks for nothing: penalties 0, an empty
   * logit_bias, no tools. Anything else is a 'bad-request' naming the parameter, never silently
   * ignored.
   */
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  tools?: readonly unknown[] | null;
  /** Ignored: they change nothing a local model does. */
  user?: string;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  /** janus-web extension: sample from the k most likely tokens. */
  top_k?: number | null;
  /** janus-web extension: start from the engine's kept cache of the last chat (default true). */
  reuse?: boolean;
}

/** The two forms of a request, as OpenAI's SDK names them: the response's type follows. */
export type ChatCompletionParamsNonStreaming = ChatCompletionParams & { stream?: false | null };
export type ChatCompletionParamsStreaming = ChatCompletionParams & { stream: true };

/** OpenAI's reasons, and WebLLM's 'abort' for a reply the caller's signal stopped. */
export type FinishReason = 'stop' | 'length' | 'abort';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Prompt tokens taken from the engine's kept cache of the last chat, not run again. */
  prompt_tokens_details: { cached_tokens: number };
  /** janus-web extension (WebLLM reports the same figures under `extra`). */
  extra: {
    /** The sampling seed used: pass it as `seed` to reproduce the reply. */
    seed: number;
    time_to_first_token_s: number;
    e2e_latency_s: number;
    /** Reply tokens after the first, per second (0 for a reply of one token). */
    decode_tokens_per_s: number;
  };
}

/** One of the most likely tokens at a step, as OpenAI writes it. */
export interface TopLogprobEntry {
  token: string;
  /** Natural log of its probability; -9999 where it has none (OpenAI's convention). */
  logprob: number;
  /** The UTF-8 bytes the token stands for (a token may carry part of a character). */
  bytes: number[];
}

/** A reply token's log-probability and the most likely tokens at its step. */
export interface ChatCompletionTokenLogprob extends TopLogprobEntry {
  top_logprobs: TopLogprobEntry[];
}

/** `choices[0].logprobs` where `logprobs: true` was asked (else null). */
export interface ChoiceLogprobs {
  content: ChatCompletionTokenLogprob[];
  refusal: null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: [
    {
      index: 0;
      message: { role: 'assistant'; content: string; refusal: null };
      finish_reason: FinishReason;
      logprobs: ChoiceLogprobs | null;
    },
  ];
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** Empty in the last chunk of `stream_options.include_usage`, which carries `usage`. */
  choices: {
    index: 0;
    delta: { role?: 'assistant'; content?: string };
    finish_reason: FinishReason | null;
    logprobs: ChoiceLogprobs | null;
  }[];
  usage?: CompletionUsage;
}

/** The second argument of `create` and `generate`, as in OpenAI's SDK. */
export interface RequestOptions {
  /** Stops the reply between tokens (it ends with finish_reason 'abort'), or an image between steps. */
  signal?: AbortSignal;
}

export interface ImageGenerateParams {
  prompt: string;
  model?: string;
  /** Images in one batch (default 1). */
  n?: number | null;
  /** Janus draws 384 × 384: absent, 'auto' or '384x384'. */
  size?: string | null;
  /** 'b64_json' (default): base64 PNG; 'url': a `blob:` URL of the PNG (revoke it when done). */
  response_format?: 'b64_json' | 'url' | null;
  /** 'png' only. */
  output_format?: 'png' | null;
  user?: string;
  /** janus-web extensions: the sampling seed, classifier-free guidance weight and temperature. */
  seed?: number | null;
  cfg_weight?: number | null;
  temperature?: number | null;
}

export interface ImagesResponse {
  created: number;
  data: ({ b64_json: string } | { url: string })[];
  /** janus-web extension: the seed used (pass it again to reproduce the images). */
  seed: number;
}
