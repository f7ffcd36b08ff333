//! Where checkpoint bytes come from, asynchronously: an HTTP base URL laid out like a Hugging Face
//! repository (`fetch` with `Range`), or bytes already in memory (tests, later IndexedDB).
//! Every read asks for exactly the bytes it needs, so nothing ever holds a whole shard.

use janus_model::ByteSource;
use janus_model::MemorySource;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use crate::error::{WebError, codes};

/// Asynchronous byte reads by file name.
#[allow(async_fn_in_trait)] // used with concrete types on one thread; no Send bounds wanted
pub trait AsyncSource {
    /// A human name for messages (a URL).
    fn describe(&self) -> String;
    /// The whole file (small files only: config, tokenizer, index).
    async fn read_all(&self, file: &str) -> Result<Vec<u8>, WebError>;
    /// The whole file, or `None` when it does not exist.
    async fn read_optional(&self, file: &str) -> Result<Option<Vec<u8>>, WebError>;
    /// The first `n` bytes (fewer if the file is shorter) and the file's total size.
    async fn read_prefix(&self, file: &str, n: u64) -> Result<(Vec<u8>, u64), WebError>;
    /// Exactly `len` bytes at `offset`.
    async fn read_range(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, WebError>;
}

/// In-memory files, through the same asynchronous interface.
impl AsyncSource for MemorySource {
    fn describe(&self) -> String {
        "memory".into()
    }

    async fn read_all(&self, file: &str) -> Result<Vec<u8>, WebError> {
        Ok(ByteSource::read_all(self, file).map_err(janus_model::error::WeightsError::from)?)
    }

    async fn read_optional(&self, file: &str) -> Result<Option<Vec<u8>>, WebError> {
        if !self.exists(file) {
            return Ok(None);
        }
        AsyncSource::read_all(self, file).await.map(Some)
    }

    async fn read_prefix(&self, file: &str, n: u64) -> Result<(Vec<u8>, u64), WebError> {
        let size = self
            .size(file)
            .map_err(janus_model::error::WeightsError::from)?;
        let bytes = self
            .read(file, 0, n.min(size))
            .map_err(janus_model::error::WeightsError::from)?;
        Ok((bytes, size))
    }

    async fn read_range(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, WebError> {
        Ok(self
            .read(file, offset, len)
            .map_err(janus_model::error::WeightsError::from)?)
    }
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (window or worker scope alike).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> Promise;
}

/// Files under a base URL (`https://huggingface.co/<repo>/resolve/main/`, a mirror, a dev server).
pub struct HttpSource {
    base: String,
}

impl HttpSource {
    pub fn new(base: &str) -> Result<Self, WebError> {
        let base = base.trim();
        if base.is_empty() {
            return Err(WebError::bad_request("the model URL is empty"));
        }
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        Ok(Self { base })
    }

    fn url(&self, file: &str) -> String {
        format!("{}{file}", self.base)
    }

    /// GET `file`, optionally a byte range (inclusive end, as HTTP writes it).
    async fn get(&self, file: &str, range: Option<(u64, u64)>) -> Result<Response, WebError> {
        let url = self.url(file);
        let init = RequestInit::new();
        init.set_method("GET");
        let request = Request::new_with_str_and_init(&url, &init)
            .map_err(|e| WebError::new(codes::BAD_REQUEST, format!("{url}: {}", js_text(&e))))?;
        if let Some((first, last)) = range {
            request
                .headers()
                .set("Range", &format!("bytes={first}-{last}"))
                .map_err(|e| WebError::new(codes::INTERNAL, js_text(&e)))?;
        }
        let response = JsFuture::from(global_fetch(&request)).await.map_err(|e| {
            WebError::new(
                codes::NETWORK,
                format!(
                    "{url}: the download failed ({}); check the connection",
                    js_text(&e)
                ),
            )
        })?;
        let response: Response = response
            .dyn_into()
            .map_err(|_| WebError::new(codes::INTERNAL, "fetch did not return a Response"))?;
        match response.status() {
            200 | 206 => Ok(response),
            404 => Err(WebError::new(
                codes::NOT_FOUND,
                format!("{url}: not found (404)"),
            )),
            401 | 403 => Err(WebError::new(
                codes::HTTP,
                format!(
                    "{url}: access denied ({}); the model may be gated or the URL wrong",
                    response.status()
                ),
            )),
            status => Err(WebError::new(
                codes::HTTP,
                format!(
                    "{url}: the server answered {status} {}",
                    response.status_text()
                ),
            )),
        }
    }

    async fn body(&self, file: &str, response: &Response) -> Result<Vec<u8>, WebError> {
        let promise = response.array_buffer().map_err(|e| {
            WebError::new(
                codes::NETWORK,
                format!("{}: {}", self.url(file), js_text(&e)),
            )
        })?;
        let buffer = JsFuture::from(promise).await.map_err(|e| {
            WebError::new(
                codes::NETWORK,
                format!(
                    "{}: the download broke off ({})",
                    self.url(file),
                    js_text(&e)
                ),
            )
        })?;
        Ok(Uint8Array::new(&buffer).to_vec())
    }

    /// `Content-Range: bytes a-b/total` -> `(a, b, total)`.
    fn content_range(response: &Response) -> Option<(u64, u64, u64)> {
        let value = response.headers().get("Content-Range").ok()??;
        let rest = value.trim().strip_prefix("bytes ")?;
        let (span, total) = rest.split_once('/')?;
        let (a, b) = span.split_once('-')?;
        Some((
            a.trim().parse().ok()?,
            b.trim().parse().ok()?,
            total.trim().parse().ok()?,
        ))
    }

    fn bad_range(&self, file: &str, what: &str) -> WebError {
        WebError::new(
            codes::HTTP,
            format!(
                "{}: {what}; the server must support HTTP Range requests",
                self.url(file)
            ),
        )
    }
}

impl AsyncSource for HttpSource {
    fn describe(&self) -> String {
        self.base.clone()
    }

    async fn read_all(&self, file: &str) -> Result<Vec<u8>, WebError> {
        let response = self.get(file, None).await?;
        self.body(file, &response).await
    }

    async fn read_optional(&self, file: &str) -> Result<Option<Vec<u8>>, WebError> {
        match AsyncSource::read_all(self, file).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.code == codes::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn read_prefix(&self, file: &str, n: u64) -> Result<(Vec<u8>, u64), WebError> {
        let response = self.get(file, Some((0, n.max(1) - 1))).await?;
        if response.status() == 206 {
            let (first, _, total) = Self::content_range(&response).ok_or_else(|| {
                self.bad_range(file, "a 206 response without a valid Content-Range")
            })?;
            if first != 0 {
                return Err(self.bad_range(file, "the server sent the wrong byte range"));
            }
            let bytes = self.body(file, &response).await?;
            if bytes.len() as u64 != n.min(total) {
                return Err(
                    self.bad_range(file, "the response length does not match Content-Range")
                );
            }
            return Ok((bytes, total));
        }
        // 200: the server ignored Range and sends the whole file; only acceptable when small.
        let length = response
            .headers()
            .get("Content-Length")
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|l| l > 64 * 1024 * 1024) {
            return Err(self.bad_range(file, "the server ignored the Range request"));
        }
        let mut bytes = self.body(file, &response).await?;
        let total = bytes.len() as u64;
        bytes.truncate(n as usize);
        Ok((bytes, total))
    }

    async fn read_range(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, WebError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let last = offset + len - 1;
        let response = self.get(file, Some((offset, last))).await?;
        if response.status() != 206 {
            return Err(self.bad_range(file, "the server ignored the Range request"));
        }
        match Self::content_range(&response) {
            Some((a, b, _)) if a == offset && b == last => {}
            _ => return Err(self.bad_range(file, "the server sent the wrong byte range")),
        }
        let bytes = self.body(file, &response).await?;
        if bytes.len() as u64 != len {
            return Err(WebError::new(
                codes::NETWORK,
                format!(
                    "{}: received {} of {len} bytes; the download was cut short",
                    self.url(file),
                    bytes.len()
                ),
            ));
        }
        Ok(bytes)
    }
}

/// The message of a thrown JS value.
pub fn js_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
