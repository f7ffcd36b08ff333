//! Requests from JavaScript, checked and turned into engine types. Field names are the
//! TypeScript client's (camelCase); anything malformed is a `bad-request` error naming the field.

use janus_model::error::ImageError;
use janus_model::generate::sampling::SamplingParams;
use janus_model::preprocess::image::{
    MAX_PIXELS, MAX_SIDE, PreparedImage, prepare_rgb, preprocess,
};
use janus_model::preprocess::prompt::{DEFAULT_SYSTEM_PROMPT, Message};
use js_sys::{Array, Reflect, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{WebError, codes};

/// Tokens a reply may have when the caller does not say.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 512;
/// The official text-to-image settings (DeepSeek's `generation_inference.py`).
pub const DEFAULT_CFG_WEIGHT: f32 = 5.0;
pub const DEFAULT_IMAGE_TEMPERATURE: f32 = 1.0;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
    /// How many of the request's images belong to this message, in order.
    #[serde(default)]
    pub images: usize,
}

#[derive(Deserialize)]
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
}

#[derive(Deserialize)]
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

/// Engine options of `Engine.create`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineOptions {
    /// Cap on one device buffer below the device's own limit (tests force splitting with it).
    pub max_binding_bytes: Option<f64>,
    #[serde(default)]
    pub dtype: crate::device::DtypeChoice,
    /// Block quantisation of the large matrices: "none" (default), "q8" or "q4".
    pub quant: Option<String>,
}

/// Parse a plain JS object (or `undefined` for the defaults).
pub fn parse<T: for<'de> Deserialize<'de> + Default>(
    value: JsValue,
    what: &str,
) -> Result<T, WebError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    parse_required(value, what)
}

pub fn parse_required<T: for<'de> Deserialize<'de>>(
    value: JsValue,
    what: &str,
) -> Result<T, WebError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| WebError::bad_request(format!("{what}: {e}")))
}

/// A seed from JS: a non-negative integer up to 2^53, or a fresh random one.
pub fn seed(value: Option<f64>) -> Result<u64, WebError> {
    match value {
        Some(s)
            if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s <= 9_007_199_254_740_992.0 =>
        {
            Ok(s as u64)
        }
        Some(s) => Err(WebError::bad_request(format!(
            "seed must be a whole number from 0 to 2^53, got {s}"
        ))),
        None => Ok(random_seed()),
    }
}

fn random_seed() -> u64 {
    // 2^32 distinct seeds are plenty for "surprise me"; the seed used is returned to the page.
    if cfg!(target_arch = "wasm32") {
        (js_sys::Math::random() * 4_294_967_296.0) as u64
    } else {
        0
    }
}

impl ChatRequest {
    pub fn sampling(&self) -> Result<SamplingParams, WebError> {
        Ok(SamplingParams {
            temperature: self.temperature.unwrap_or(0.0),
            top_k: self.top_k,
            top_p: self.top_p,
            seed: seed(self.seed)?,
        })
    }

    pub fn system(&self) -> &str {
        self.system.as_deref().unwrap_or(DEFAULT_SYSTEM_PROMPT)
    }

    /// The conversation as engine messages; checks roles, order and image counts.
    pub fn messages(&self, images_given: usize) -> Result<Vec<Message>, WebError> {
        if self.messages.is_empty() {
            return Err(WebError::new(
                codes::BAD_PROMPT,
                "the conversation is empty",
            ));
        }
        let mut images = 0;
        let mut out = Vec::with_capacity(self.messages.len());
        for (i, m) in self.messages.iter().enumerate() {
            match m.role.as_str() {
                "user" if m.images > 0 => out.push(Message::user_with_images(m.images, &m.content)),
                "user" => out.push(Message::user(m.content.as_str())),
                "assistant" if m.images == 0 => out.push(Message::assistant(m.content.as_str())),
                "assistant" => {
                    return Err(WebError::bad_request(format!(
                        "messages[{i}]: only user messages can carry images"
                    )));
                }
                other => {
                    return Err(WebError::bad_request(format!(
                        "messages[{i}].role is {other:?}; expected \"user\" or \"assistant\""
                    )));
                }
            }
            images += m.images;
        }
        if self.messages.last().is_some_and(|m| m.role != "user") {
            return Err(WebError::new(
                codes::BAD_PROMPT,
                "the last message must be the user's",
            ));
        }
        if images != images_given {
            return Err(WebError::bad_request(format!(
                "the messages announce {images} images but {images_given} were sent"
            )));
        }
        Ok(out)
    }
}

impl ImageGenRequest {
    pub fn sampling(&self) -> Result<SamplingParams, WebError> {
        Ok(SamplingParams {
            temperature: self.temperature.unwrap_or(DEFAULT_IMAGE_TEMPERATURE),
            top_k: self.top_k,
            top_p: self.top_p,
            seed: seed(self.seed)?,
        })
    }
}

/// Images of a chat request: `{kind: "encoded", bytes}` (PNG/JPEG/WebP/GIF file bytes, decoded
/// here exactly as the reference does) or `{kind: "rgba", width, height, data}` (pixels the
/// browser decoded), each prepared for the vision tower at `size` pixels.
pub fn images(list: &JsValue, size: usize) -> Result<Vec<PreparedImage>, WebError> {
    if list.is_undefined() || list.is_null() {
        return Ok(Vec::new());
    }
    let array: &Array = list
        .dyn_ref()
        .ok_or_else(|| WebError::bad_request("images must be an array"))?;
    array
        .iter()
        .enumerate()
        .map(|(i, item)| {
            image(&item, size)
                .map_err(|e| WebError::new(e.code, format!("image {}: {}", i + 1, e.message)))
        })
        .collect()
}

fn image(item: &JsValue, size: usize) -> Result<PreparedImage, WebError> {
    let field = |name: &str| Reflect::get(item, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let bytes = |name: &str| -> Result<Vec<u8>, WebError> {
        let v = field(name);
        if v.is_instance_of::<Uint8Array>() || v.is_instance_of::<js_sys::Uint8ClampedArray>() {
            Ok(Uint8Array::new(&v).to_vec())
        } else {
            Err(WebError::bad_request(format!(
                "`{name}` must be a Uint8Array"
            )))
        }
    };
    match field("kind").as_string().as_deref() {
        Some("encoded") => preprocess(&bytes("bytes")?, size)
            .map_err(|e| WebError::new(codes::BAD_IMAGE, e.to_string())),
        Some("rgba") => {
            let dim = |name: &str| {
                field(name)
                    .as_f64()
                    .filter(|v| v.fract() == 0.0 && *v >= 1.0 && *v <= MAX_SIDE as f64)
                    .map(|v| v as u32)
                    .ok_or_else(|| {
                        WebError::new(
                            codes::BAD_IMAGE,
                            format!("`{name}` must be a whole number of pixels from 1 to 16384"),
                        )
                    })
            };
            let (w, h) = (dim("width")?, dim("height")?);
            if w as u64 * h as u64 > MAX_PIXELS {
                return Err(WebError::new(
                    codes::BAD_IMAGE,
                    ImageError::TooLarge {
                        width: w,
                        height: h,
                        max_pixels: MAX_PIXELS,
                        max_side: MAX_SIDE,
                    }
                    .to_string(),
                ));
            }
            let data = bytes("data")?;
            if data.len() != (w as usize) * (h as usize) * 4 {
                return Err(WebError::new(
                    codes::BAD_IMAGE,
                    format!(
                        "{w}x{h} RGBA needs {} bytes, got {}",
                        w as usize * h as usize * 4,
                        data.len()
                    ),
                ));
            }
            // Alpha is dropped, as PIL's convert("RGB") does in the reference.
            let rgb: Vec<u8> = data
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            let img = image::RgbImage::from_raw(w, h, rgb)
                .ok_or_else(|| WebError::new(codes::INTERNAL, "RGB buffer size"))?;
            Ok(prepare_rgb(&img, size))
        }
        _ => Err(WebError::bad_request(
            "each image must be {kind: \"encoded\", bytes} or {kind: \"rgba\", width, height, data}",
        )),
    }
}

/// A JS array of numbers from ids.
pub fn id_array(ids: &[u32]) -> Array {
    ids.iter().map(|&i| JsValue::from(i)).collect()
}
