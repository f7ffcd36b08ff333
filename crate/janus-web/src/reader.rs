//! A source the page implements: the cached model in IndexedDB (`web/src/store/store-reader.ts`),
//! or anything else with the same three methods. The loader's reads become calls into JavaScript,
//! so the engine never needs to know where the bytes live.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::{WebError, codes};
use crate::source::AsyncSource;

/// `{describe(): string, size(path): Promise<number | null>, read(path, offset, length):
/// Promise<Uint8Array>}`. A rejection's `code` (e.g. `integrity`) is kept.
pub struct JsSource {
    object: JsValue,
    size: Function,
    read: Function,
    name: String,
}

impl JsSource {
    pub fn new(object: JsValue) -> Result<Self, WebError> {
        let method = |name: &str| -> Result<Function, WebError> {
            Reflect::get(&object, &name.into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .ok_or_else(|| WebError::bad_request(format!("the reader has no {name}() method")))
        };
        let size = method("size")?;
        let read = method("read")?;
        let name = method("describe")
            .ok()
            .and_then(|f| f.call0(&object).ok())
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "reader".into());
        Ok(Self {
            object,
            size,
            read,
            name,
        })
    }

    async fn call(&self, f: &Function, args: &[JsValue], file: &str) -> Result<JsValue, WebError> {
        let array: js_sys::Array = args.iter().collect();
        let returned = f
            .apply(&self.object, &array)
            .map_err(|e| self.error(file, &e))?;
        let promise = Promise::resolve(&returned);
        JsFuture::from(promise)
            .await
            .map_err(|e| self.error(file, &e))
    }

    /// A JS rejection as a WebError, keeping a known `code`.
    fn error(&self, file: &str, e: &JsValue) -> WebError {
        WebError::from_js(e, &format!("{}: {file}", self.name))
    }

    async fn file_size(&self, file: &str) -> Result<Option<u64>, WebError> {
        let value = self.call(&self.size, &[file.into()], file).await?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        match value.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 2f64.powi(53) => Ok(Some(n as u64)),
            _ => Err(WebError::bad_request(format!(
                "{}: size({file}) is not a byte count",
                self.name
            ))),
        }
    }
}

impl AsyncSource for JsSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn read_all(&self, file: &str) -> Result<Vec<u8>, WebError> {
        match self.read_optional(file).await? {
            Some(bytes) => Ok(bytes),
            None => Err(WebError::new(
                codes::NOT_FOUND,
                format!("{}: {file} is not there", self.name),
            )),
        }
    }

    async fn read_optional(&self, file: &str) -> Result<Option<Vec<u8>>, WebError> {
        let Some(size) = self.file_size(file).await? else {
            return Ok(None);
        };
        self.read_range(file, 0, size).await.map(Some)
    }

    async fn read_prefix(&self, file: &str, n: u64) -> Result<(Vec<u8>, u64), WebError> {
        let size = self.file_size(file).await?.ok_or_else(|| {
            WebError::new(
                codes::NOT_FOUND,
                format!("{}: {file} is not there", self.name),
            )
        })?;
        Ok((self.read_range(file, 0, n.min(size)).await?, size))
    }

    async fn read_range(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, WebError> {
        let value = self
            .call(
                &self.read,
                &[file.into(), (offset as f64).into(), (len as f64).into()],
                file,
            )
            .await?;
        let bytes: Uint8Array = value.dyn_into().map_err(|_| {
            WebError::bad_request(format!(
                "{}: read({file}) did not give a Uint8Array",
                self.name
            ))
        })?;
        if u64::from(bytes.length()) != len {
            return Err(WebError::new(
                codes::BAD_CHECKPOINT,
                format!(
                    "{}: read({file}, {offset}, {len}) gave {} bytes",
                    self.name,
                    bytes.length()
                ),
            ));
        }
        Ok(bytes.to_vec())
    }
}
