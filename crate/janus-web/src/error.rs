//! Errors that cross into JavaScript: a stable `code` the page can switch on and a sentence a
//! person can read. Thrown as a JS `Error` whose `code` property holds the code.

use janus_model::JanusError;
use janus_model::error::{SourceError, WeightsError};
use wasm_bindgen::JsValue;

/// Every failure the engine reports, already classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebError {
    /// One of [`codes`]: stable across versions.
    pub code: &'static str,
    pub message: String,
}

/// The codes, documented for the worker protocol (`web/src/errors.ts` mirrors them).
pub mod codes {
    /// No WebGPU in this browser, or no adapter.
    pub const NO_WEBGPU: &str = "no-webgpu";
    /// The GPU device could not be created or failed.
    pub const DEVICE: &str = "device";
    /// The GPU device was lost (driver reset, another tab, `destroy()`): start a fresh engine.
    pub const DEVICE_LOST: &str = "device-lost";
    /// `fetch` failed: offline, DNS, CORS, connection dropped.
    pub const NETWORK: &str = "network";
    /// The server answered with an unusable status or response.
    pub const HTTP: &str = "http";
    /// A required file is absent (404).
    pub const NOT_FOUND: &str = "not-found";
    /// The safetensors files or their index do not match the config.
    pub const BAD_CHECKPOINT: &str = "bad-checkpoint";
    pub const BAD_CONFIG: &str = "bad-config";
    pub const BAD_TOKENIZER: &str = "bad-tokenizer";
    pub const BAD_IMAGE: &str = "bad-image";
    pub const BAD_PROMPT: &str = "bad-prompt";
    /// A request from JavaScript is malformed (wrong field type, unknown role, ...).
    pub const BAD_REQUEST: &str = "bad-request";
    /// A tensor is larger than this device can hold in one buffer.
    pub const TOO_LARGE: &str = "too-large";
    /// The caller cancelled (a load stopped from its progress callback).
    pub const ABORTED: &str = "aborted";
    /// Another job is running on this engine.
    pub const BUSY: &str = "busy";
    /// Chat or image generation before a model was loaded.
    pub const NOT_LOADED: &str = "not-loaded";
    /// Stored weights failed their hash check (the page's reader; removed for re-download).
    pub const INTEGRITY: &str = "integrity";
    /// The browser's storage failed or is full (the page's reader).
    pub const STORAGE: &str = "storage";
    pub const QUOTA: &str = "quota";
    /// A server answered something that is not the file asked for.
    pub const BAD_RESPONSE: &str = "bad-response";
    pub const INTERNAL: &str = "internal";

    /// Every code, so a code coming back from JavaScript (a reader's error) keeps its identity.
    pub const ALL: [&str; 21] = [
        NO_WEBGPU,
        DEVICE,
        DEVICE_LOST,
        NETWORK,
        HTTP,
        NOT_FOUND,
        BAD_CHECKPOINT,
        BAD_CONFIG,
        BAD_TOKENIZER,
        BAD_IMAGE,
        BAD_PROMPT,
        BAD_REQUEST,
        TOO_LARGE,
        ABORTED,
        BUSY,
        NOT_LOADED,
        INTEGRITY,
        STORAGE,
        QUOTA,
        BAD_RESPONSE,
        INTERNAL,
    ];

    /// The static code equal to `code`, or [`INTERNAL`].
    pub fn known(code: &str) -> &'static str {
        ALL.into_iter().find(|&c| c == code).unwrap_or(INTERNAL)
    }
}

impl WebError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(codes::BAD_REQUEST, message)
    }

    /// A JS rejection as a WebError: its `code` kept when known, its message after `context`.
    pub fn from_js(e: &JsValue, context: &str) -> Self {
        let code = js_sys::Reflect::get(e, &"code".into())
            .ok()
            .and_then(|c| c.as_string())
            .map_or(codes::INTERNAL, |c| codes::known(&c));
        Self::new(code, format!("{context}: {}", crate::source::js_text(e)))
    }

    /// The JS value thrown: `Error(message)` with `code`.
    pub fn to_js(&self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        e.set_name("JanusError");
        // Reflect::set on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&e, &"code".into(), &self.code.into());
        e.into()
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl From<WebError> for JsValue {
    fn from(e: WebError) -> Self {
        e.to_js()
    }
}

fn weights_code(e: &WeightsError) -> &'static str {
    match e {
        WeightsError::Source(SourceError::NotFound { .. }) => codes::NOT_FOUND,
        WeightsError::TooLarge { .. } => codes::TOO_LARGE,
        _ => codes::BAD_CHECKPOINT,
    }
}

impl From<WeightsError> for WebError {
    fn from(e: WeightsError) -> Self {
        Self::new(weights_code(&e), e.to_string())
    }
}

impl From<JanusError> for WebError {
    fn from(e: JanusError) -> Self {
        let code = match &e {
            JanusError::Weights(w) => weights_code(w),
            JanusError::Config(_) => codes::BAD_CONFIG,
            JanusError::Source(SourceError::NotFound { .. }) => codes::NOT_FOUND,
            JanusError::Source(_) => codes::BAD_CHECKPOINT,
            JanusError::Tokenizer(_) => codes::BAD_TOKENIZER,
            JanusError::Image(_) => codes::BAD_IMAGE,
            JanusError::Prompt(_) => codes::BAD_PROMPT,
            JanusError::Device(_) => codes::DEVICE,
            JanusError::Request(_) => codes::BAD_REQUEST,
        };
        Self::new(code, e.to_string())
    }
}
