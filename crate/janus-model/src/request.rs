//! Requests from an embedding page, as they arrive (camelCase fields, every setting optional),
//! checked and turned into generation requests. The web engine deserialises them from the worker's
//! messages; the fuzz target `worker_request` feeds them arbitrary JSON. Nothing here needs a
//! model or a device: the tokenizer and the config are enough, so every check runs before a job
//! touches the GPU.

use serde::Deserialize;

use crate::JanusConfig;
use crate::error::{ImageError, JanusError, PromptError};
use crate::generate::image::ImageRequest;
use crate::generate::json::JsonMode;
use crate::generate::sampling::SamplingParams;
use crate::generate::stop_text::StopText;
use crate::generate::text::TextRequest;
use crate::preprocess::image::{MAX_PIXELS, MAX_SIDE, PreparedImage, prepare_rgb};
use crate::preprocess::prompt::{
    DEFAULT_SYSTEM_PROMPT, Message, render_chat_continued, render_image_prompt,
};
use crate::tokenizer::JanusTokenizer;

/// Tokens a reply may have when the caller does not say.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 512;
/// The official text-to-image settings (DeepSeek's `generation_inference.py`).
pub const DEFAULT_CFG_WEIGHT: f32 = 5.0;
pub const DEFAULT_IMAGE_TEMPERATURE: f32 = 1.0;
/// The largest seed a JavaScript number holds exactly.
const MAX_SEED: f64 = 9_007_199_254_740_992.0;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
    /// How many of the request's images belong to this message, in order.
    #[serde(default)]
    pub images: usize,
}

/// `{messages: [{role, content, images?}], system?, maxNewTokens?, temperature?, topP?, topK?,
/// seed?, stop?, reuse?, logprobs?, topLogprobs?, json?}`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// `None`: DeepSeek's default system prompt; `""`: none.
    pub system: Option<String>,
    pub max_new_tokens: Option<usize>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub seed: Option<f64>,
    /// Stop sequences: the reply ends before the first of them its text contains.
    pub stop: Option<Vec<String>>,
    /// Start from the engine's kept cache of a recent chat where the prompts share a prefix
    /// (default); `false` runs the whole prompt and keeps nothing of it.
    pub reuse: Option<bool>,
    /// Each new token's log-probability (`generate::logprobs`).
    pub logprobs: Option<bool>,
    /// With `logprobs`: the most likely tokens at each step, up to 20.
    pub top_logprobs: Option<usize>,
    /// The reply is one JSON object (`generate::json`; OpenAI's `response_format: {type:
    /// "json_object"}`).
    pub json: Option<bool>,
}

/// `{prompt, count?, cfgWeight?, temperature?, topP?, topK?, seed?, previewEvery?}`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageGenRequest {
    pub prompt: String,
    pub count: Option<usize>,
    pub cfg_weight: Option<f32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub seed: Option<f64>,
    /// Steps between progressive previews (absent or 0: none).
    pub preview_every: Option<usize>,
}

/// A seed from JavaScript: a whole number from 0 to 2^53, or `fresh()` when none is given.
pub fn seed(value: Option<f64>, fresh: impl FnOnce() -> u64) -> Result<u64, JanusError> {
    match value {
        Some(s) if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s <= MAX_SEED => Ok(s as u64),
        Some(s) => Err(JanusError::Request(format!(
            "seed must be a whole number from 0 to 2^53, got {s}"
        ))),
        None => Ok(fresh()),
    }
}

impl ChatRequest {
    pub fn system(&self) -> &str {
        self.system.as_deref().unwrap_or(DEFAULT_SYSTEM_PROMPT)
    }

    /// The conversation as engine messages; checks roles, order and image counts. The last
    /// message is the user's (the reply answers it) or the assistant's (the reply goes on from it).
    pub fn messages(&self, images_given: usize) -> Result<Vec<Message>, JanusError> {
        if self.messages.is_empty() {
            return Err(PromptError::Empty.into());
        }
        // The images first, before any placeholder text is built: a message claiming 4 billion
        // images would otherwise fill the wasm memory with placeholders before being refused.
        let mut images = 0usize;
        for (i, m) in self.messages.iter().enumerate() {
            match m.role.as_str() {
                "user" => {}
                "assistant" if m.images == 0 => {}
                "assistant" => {
                    return Err(JanusError::Request(format!(
                        "messages[{i}]: only user messages can carry images"
                    )));
                }
                other => {
                    return Err(JanusError::Request(format!(
                        "messages[{i}].role is {other:?}; expected \"user\" or \"assistant\""
                    )));
                }
            }
            images = images.saturating_add(m.images);
        }
        if images != images_given {
            return Err(JanusError::Request(format!(
                "the messages announce {images} images but {images_given} were sent"
            )));
        }
        // A last message of the assistant's is a reply to go on from: it answers a question.
        let n = self.messages.len();
        if self.messages[n - 1].role == "assistant"
            && (n < 2 || self.messages[n - 2].role != "user")
        {
            return Err(JanusError::Request(
                "a last message of the assistant's (a reply to go on from) must follow the user's"
                    .into(),
            ));
        }
        Ok(self
            .messages
            .iter()
            .map(|m| match (m.role.as_str(), m.images) {
                ("user", 0) => Message::user(m.content.as_str()),
                ("user", n) => Message::user_with_images(n, &m.content),
                _ => Message::assistant(m.content.as_str()),
            })
            .collect())
    }

    /// `Some(alternatives)` where log-probabilities are asked for; `topLogprobs` alone is a
    /// mistake (as OpenAI's API says), not a silent no.
    pub fn logprobs_wanted(&self) -> Result<Option<usize>, JanusError> {
        match (self.logprobs, self.top_logprobs) {
            (Some(true), top) => Ok(Some(top.unwrap_or(0))),
            (_, None | Some(0)) => Ok(None),
            (_, Some(_)) => Err(JanusError::Request(
                "topLogprobs needs logprobs: true".into(),
            )),
        }
    }

    /// A JSON reply's grammar, from where the reply starts: after the text of a last message of
    /// the assistant's (a reply to go on from, which must then begin an object itself).
    fn json_mode(&self, tok: &JanusTokenizer) -> Result<JsonMode, JanusError> {
        let mode = JsonMode::new(tok.json_table());
        match self.messages.last() {
            // The template drops a continued reply's leading whitespace.
            Some(m) if m.role == "assistant" => mode
                .after(m.content.trim_start().as_bytes())
                .ok_or_else(|| {
                    JanusError::Request(
                        "json: the reply to go on from (the last message, the assistant's) is \
                         not the beginning of a JSON object"
                            .into(),
                    )
                }),
            _ => Ok(mode),
        }
    }

    /// The reply's stop sequences, checked (none: the text passes through as it comes).
    pub fn stop_text(&self) -> Result<StopText, JanusError> {
        StopText::new(self.stop.clone().unwrap_or_default())
    }

    /// The whole request for `generate_text`, checked: messages, template, tokens, image
    /// placeholders against the images given, stop sequences, sampling settings and the
    /// model's context.
    pub fn text_request(
        &self,
        tok: &JanusTokenizer,
        config: &JanusConfig,
        images: Vec<PreparedImage>,
        fresh_seed: impl FnOnce() -> u64,
    ) -> Result<TextRequest, JanusError> {
        let messages = self.messages(images.len())?;
        self.stop_text()?;
        let logprobs = self.logprobs_wanted()?;
        let sampling = SamplingParams {
            temperature: self.temperature.unwrap_or(0.0),
            top_k: self.top_k,
            top_p: self.top_p,
            seed: seed(self.seed, fresh_seed)?,
        };
        let text = render_chat_continued(self.system(), &messages, &tok.default_roles());
        let ids = tok.encode(&text)?;
        let (prompt_ids, wanted) = tok.expand_images(&ids, config.image_tokens());
        if wanted != images.len() {
            // The only way: a message's own text holds the placeholder token.
            return Err(JanusError::Request(
                "the message text contains an image placeholder token; remove it".into(),
            ));
        }
        let request = TextRequest {
            prompt_ids,
            images,
            max_new_tokens: self.max_new_tokens.unwrap_or(DEFAULT_MAX_NEW_TOKENS),
            sampling,
            stop_token: Some(tok.special().eos),
            image_token: tok.special().image,
            logprobs,
            json: match self.json {
                Some(true) => Some(self.json_mode(tok)?),
                _ => None,
            },
        };
        request.validate(config)?;
        Ok(request)
    }
}

impl ImageGenRequest {
    /// The whole request for `generate_image_codes`, checked: a prompt with text, the template,
    /// tokens, the count, guidance and sampling settings, and room for a whole image.
    pub fn image_request(
        &self,
        tok: &JanusTokenizer,
        config: &JanusConfig,
        fresh_seed: impl FnOnce() -> u64,
    ) -> Result<ImageRequest, JanusError> {
        if self.prompt.trim().is_empty() {
            return Err(PromptError::Empty.into());
        }
        let sampling = SamplingParams {
            temperature: self.temperature.unwrap_or(DEFAULT_IMAGE_TEMPERATURE),
            top_k: self.top_k,
            top_p: self.top_p,
            seed: seed(self.seed, fresh_seed)?,
        };
        let prompt = render_image_prompt(&self.prompt, &tok.default_roles());
        let request = ImageRequest {
            prompt_ids: tok.encode(&prompt)?,
            count: self.count.unwrap_or(1),
            cfg_weight: self.cfg_weight.unwrap_or(DEFAULT_CFG_WEIGHT),
            sampling,
            pad_token: tok.special().pad,
            preview_every: self.preview_every.unwrap_or(0),
        };
        request.validate(config)?;
        Ok(request)
    }
}

/// The sides of a picture the browser decoded, checked before its bytes are copied anywhere.
pub fn rgba_sides(width: Option<f64>, height: Option<f64>) -> Result<(u32, u32), JanusError> {
    let side = |name: &str, v: Option<f64>| {
        v.filter(|v| v.fract() == 0.0 && *v >= 1.0 && *v <= MAX_SIDE as f64)
            .map(|v| v as u32)
            .ok_or_else(|| {
                ImageError::Decode(format!(
                    "`{name}` must be a whole number of pixels from 1 to {MAX_SIDE}"
                ))
            })
    };
    let (w, h) = (side("width", width)?, side("height", height)?);
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ImageError::TooLarge {
            width: w,
            height: h,
            max_pixels: MAX_PIXELS,
            max_side: MAX_SIDE,
        }
        .into());
    }
    Ok((w, h))
}

/// Pixels the browser decoded: `width` × `height` RGBA bytes (alpha dropped, as PIL's
/// `convert("RGB")` does in the reference), prepared for the vision tower at `size` pixels.
/// The sides arrive as JavaScript numbers: anything but a whole number of pixels from 1 to
/// [`MAX_SIDE`] is refused, and so is a picture over [`MAX_PIXELS`].
pub fn rgba_image(
    width: Option<f64>,
    height: Option<f64>,
    data: &[u8],
    size: usize,
) -> Result<PreparedImage, JanusError> {
    let (w, h) = rgba_sides(width, height)?;
    let want = w as usize * h as usize * 4;
    if data.len() != want {
        return Err(ImageError::Decode(format!(
            "{w}x{h} RGBA needs {want} bytes, got {}",
            data.len()
        ))
        .into());
    }
    let rgb: Vec<u8> = data
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let img = image::RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| ImageError::Decode("RGB buffer size".into()))?;
    Ok(prepare_rgb(&img, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(json: &str) -> ChatRequest {
        serde_json::from_str(json).unwrap()
    }

    fn refused(r: Result<Vec<Message>, JanusError>) -> String {
        match r {
            Err(JanusError::Request(m)) => m,
            other => panic!("expected a bad-request error, got {other:?}"),
        }
    }

    #[test]
    fn messages_check_roles_order_and_image_counts() {
        let ok = chat(
            r#"{"messages":[{"role":"user","content":"a","images":2},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#,
        );
        assert_eq!(ok.messages(2).unwrap().len(), 3);
        assert!(refused(ok.messages(1)).contains("announce 2 images but 1"));
        let last = chat(
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#,
        );
        assert_eq!(last.messages(0).unwrap().len(), 2);
        let alone = chat(r#"{"messages":[{"role":"assistant","content":"b"}]}"#);
        assert!(refused(alone.messages(0)).contains("must follow the user's"));
        let twice = chat(
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"assistant","content":"c"}]}"#,
        );
        assert!(refused(twice.messages(0)).contains("must follow the user's"));
        let role = chat(r#"{"messages":[{"role":"system","content":"a"}]}"#);
        assert!(refused(role.messages(0)).contains("messages[0].role"));
        let carried = chat(
            r#"{"messages":[{"role":"assistant","content":"a","images":1},{"role":"user","content":"b"}]}"#,
        );
        assert!(refused(carried.messages(1)).contains("only user messages"));
        assert!(matches!(
            chat(r#"{"messages":[]}"#).messages(0),
            Err(JanusError::Prompt(PromptError::Empty))
        ));
    }

    /// The bug this order of checks fixes: placeholders for every announced image were written
    /// before the count was compared, so one number filled the memory (fuzz/regressions/worker_request).
    #[test]
    fn an_absurd_image_count_is_refused_before_any_placeholder_is_written() {
        let huge = chat(&format!(
            r#"{{"messages":[{{"role":"user","content":"a","images":{}}},{{"role":"user","content":"b","images":{}}}]}}"#,
            usize::MAX,
            usize::MAX
        ));
        assert!(refused(huge.messages(1)).contains("announce"));
    }

    /// One question, "a", with `fields` (`,"name":value` pairs) after the messages, checked
    /// against the tiny model's config and tokenizer.
    fn one_question(fields: &str) -> Result<TextRequest, JanusError> {
        let (config, tok) = (
            crate::fuzzing::tiny_config(),
            crate::fuzzing::tiny_tokenizer(),
        );
        chat(&format!(
            r#"{{"messages":[{{"role":"user","content":"a"}}]{fields}}}"#
        ))
        .text_request(tok, config, Vec::new(), || 0)
    }

    #[test]
    fn stop_sequences_are_checked_with_the_request() {
        let request = |stop: &str| one_question(&format!(r#","stop":{stop}"#));
        assert!(request(r#"["\n\nUser:", "x"]"#).is_ok());
        assert!(request("[]").is_ok());
        match request(r#"["ok", ""]"#) {
            Err(JanusError::Request(m)) => assert!(m.contains("stop[1] is empty"), "{m}"),
            other => panic!("expected a bad-request error, got {other:?}"),
        }
        // One string, not a list, is a malformed request (the client sends a list).
        assert!(
            serde_json::from_str::<ChatRequest>(
                r#"{"messages":[{"role":"user","content":"a"}],"stop":"x"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn log_probabilities_are_asked_for_with_logprobs_true() {
        let wanted = |fields: &str| one_question(fields).map(|r| r.logprobs);
        assert_eq!(wanted("").unwrap(), None);
        assert_eq!(wanted(r#","logprobs":false"#).unwrap(), None);
        assert_eq!(wanted(r#","logprobs":true"#).unwrap(), Some(0));
        assert_eq!(
            wanted(r#","logprobs":true,"topLogprobs":5"#).unwrap(),
            Some(5)
        );
        assert_eq!(
            wanted(r#","logprobs":false,"topLogprobs":0"#).unwrap(),
            None
        );
        match wanted(r#","topLogprobs":5"#) {
            Err(JanusError::Request(m)) => assert!(m.contains("needs logprobs: true"), "{m}"),
            other => panic!("expected a bad-request error, got {other:?}"),
        }
        let many = wanted(r#","logprobs":true,"topLogprobs":21"#).unwrap_err();
        assert!(many.to_string().contains("at most 20"), "{many}");
    }

    /// `json: true` asks for a JSON reply from its beginning, or, continuing a reply of the
    /// assistant's, from the state its text leaves (which must begin an object).
    #[test]
    fn a_json_reply_starts_where_its_text_does() {
        use crate::generate::json::JsonState;
        let start = |messages: &str| {
            let (config, tok) = (
                crate::fuzzing::tiny_config(),
                crate::fuzzing::tiny_tokenizer(),
            );
            chat(&format!(r#"{{"messages":{messages},"json":true}}"#))
                .text_request(tok, config, Vec::new(), || 0)
                .map(|r| r.json.map(|j| j.start))
        };
        let question = r#"[{"role":"user","content":"a"}]"#;
        assert_eq!(start(question).unwrap(), Some(JsonState::new()));
        assert!(one_question("").unwrap().json.is_none());
        assert!(one_question(r#","json":false"#).unwrap().json.is_none());
        let going_on =
            r#"[{"role":"user","content":"a"},{"role":"assistant","content":"  {\"name\": \"J"}]"#;
        let want = JsonState::new().feed_all(br#"{"name": "J"#);
        assert_eq!(start(going_on).unwrap(), want);
        let not_json =
            r#"[{"role":"user","content":"a"},{"role":"assistant","content":"Sure: {"}]"#;
        match start(not_json) {
            Err(JanusError::Request(m)) => {
                assert!(m.contains("not the beginning of a JSON object"), "{m}")
            }
            other => panic!("expected a bad-request error, got {other:?}"),
        }
    }

    #[test]
    fn a_reply_to_go_on_from_is_the_closed_one_without_its_end() {
        let (config, tok) = (
            crate::fuzzing::tiny_config(),
            crate::fuzzing::tiny_tokenizer(),
        );
        let ids = |messages: &str| {
            chat(&format!(r#"{{"messages":{messages}}}"#))
                .text_request(tok, config, Vec::new(), || 0)
                .unwrap()
                .prompt_ids
        };
        let open = ids(
            r#"[{"role":"user","content":"Name three colours."},{"role":"assistant","content":"Red, green"}]"#,
        );
        let closed = ids(
            r#"[{"role":"user","content":"Name three colours."},{"role":"assistant","content":"Red, green"},{"role":"user","content":"x"}]"#,
        );
        // The closed reply ends with the stop token, then the next question follows.
        let eos = tok.special().eos;
        let end = closed.iter().position(|&id| id == eos).unwrap();
        assert_eq!(open, closed[..end]);
        let asked = ids(r#"[{"role":"user","content":"Name three colours."}]"#);
        assert!(open.len() > asked.len() && open.starts_with(&asked));
    }

    #[test]
    fn seeds_are_whole_numbers_up_to_2_pow_53() {
        assert_eq!(seed(Some(42.0), || 0).unwrap(), 42);
        assert_eq!(seed(None, || 7).unwrap(), 7);
        assert_eq!(seed(Some(MAX_SEED), || 0).unwrap(), 1 << 53);
        for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, MAX_SEED * 2.0] {
            assert!(
                matches!(seed(Some(bad), || 0), Err(JanusError::Request(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn rgba_sides_and_length_are_checked() {
        assert!(rgba_image(Some(2.0), Some(1.0), &[0; 8], 16).is_ok());
        for (w, h) in [
            (None, Some(1.0)),
            (Some(0.0), Some(1.0)),
            (Some(1.5), Some(1.0)),
            (Some(1e9), Some(1.0)),
            (Some(f64::NAN), Some(1.0)),
        ] {
            assert!(
                matches!(
                    rgba_sides(w, h),
                    Err(JanusError::Image(ImageError::Decode(_)))
                ),
                "{w:?} {h:?}"
            );
        }
        assert!(matches!(
            rgba_sides(Some(16384.0), Some(16384.0)),
            Err(JanusError::Image(ImageError::TooLarge { .. }))
        ));
        assert!(matches!(
            rgba_image(Some(2.0), Some(1.0), &[0; 7], 16),
            Err(JanusError::Image(ImageError::Decode(_)))
        ));
    }
}
