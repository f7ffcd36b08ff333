//! Requests from JavaScript, checked and turned into engine types. Field names are the
//! TypeScript client's (camelCase); anything malformed is a `bad-request` error naming the field.

use janus_model::preprocess::image::{PreparedImage, preprocess};
pub use janus_model::request::{ChatRequest, ImageGenRequest};
use js_sys::{Array, Reflect, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{WebError, codes};

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
    /// Device memory the kept conversations' caches may hold together (0: the last one only).
    pub conversation_cache_bytes: Option<f64>,
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

/// A seed for a request that gives none.
pub fn random_seed() -> u64 {
    // 2^32 distinct seeds are plenty for "surprise me"; the seed used is returned to the page.
    if cfg!(target_arch = "wasm32") {
        (js_sys::Math::random() * 4_294_967_296.0) as u64
    } else {
        0
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
            let (width, height) = (field("width").as_f64(), field("height").as_f64());
            // The sides first: a refused picture's bytes are never copied into wasm memory.
            janus_model::request::rgba_sides(width, height)?;
            let data = bytes("data")?;
            Ok(janus_model::request::rgba_image(
                width, height, &data, size,
            )?)
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
