//! `Engine`, the object JavaScript holds: one GPU device, at most one loaded model, and the three
//! jobs — load, chat, generate images. Every method returns a Promise; work runs on the worker's
//! event loop between GPU readbacks, so a cancel message can arrive mid-generation (callbacks
//! return `false` to stop). One job at a time: a second call while one runs is refused (`busy`);
//! the worker queues.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::rc::Rc;

use image::RgbImage;
use janus_model::generate::image::{decode_images, generate_image_codes};
use janus_model::generate::prompt_cache::PromptCache;
use janus_model::generate::text::generate_text_with;
use janus_model::quant::QuantFormat;
use janus_model::weights::TensorStore;
use janus_model::weights::pack_writer::PackOutput;
use janus_model::{CheckpointFormat, Loaded, WorkingDtype};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::chat_watch::ChatWatch;
use crate::device::{Gpu, open};
use crate::error::{WebError, codes};
use crate::loader::{LoadStats, NoPack, PackSink, load_with_pack};
use crate::reader::JsSource;
use crate::request::{
    ChatRequest, EngineOptions, ImageGenRequest, id_array, images, parse, parse_required,
    random_seed,
};
use crate::source::{AsyncSource, HttpSource};

/// The engine. Created by `Engine.create(options)`.
#[wasm_bindgen]
pub struct Engine {
    inner: Rc<Inner>,
}

struct Inner {
    gpu: Rc<Gpu>,
    dtype: WorkingDtype,
    quant: Option<QuantFormat>,
    max_tensor_bytes: u64,
    model: RefCell<Option<Rc<Loaded>>>,
    /// The last chats' KV caches, for the next chat's shared prefix (`generate_text_with`):
    /// up to [`KEPT_CONVERSATIONS`] within `conversationCacheBytes`. They belong to `model`:
    /// replacing or dropping the model clears them, and an image job first drops those that do
    /// not fit beside its own caches within the budget (`PromptCache::make_room`).
    conversation: RefCell<PromptCache>,
    busy: Cell<bool>,
}

/// Conversations whose caches the engine keeps at most (two chat elements on a page, a title
/// asked for between turns, ...).
const KEPT_CONVERSATIONS: usize = 4;
/// Device memory they may hold together unless `conversationCacheBytes` says otherwise; the last
/// one used is kept whatever its size. Janus-1.3B in f16 needs 192 KiB a position: 512 MiB is
/// about 2,700 positions (a conversation's cache holds its prompt and its token budget).
const DEFAULT_CONVERSATION_CACHE_BYTES: u64 = 512 << 20;

impl Inner {
    /// Replace the loaded model (or drop it) and forget the conversation computed with it.
    fn set_model(&self, model: Option<Rc<Loaded>>) {
        self.conversation.borrow_mut().clear();
        *self.model.borrow_mut() = model;
    }
}

/// Marks the engine busy for the life of one job.
struct Job(Rc<Inner>);

impl Job {
    fn start(inner: &Rc<Inner>) -> Result<Self, WebError> {
        if inner.busy.replace(true) {
            return Err(WebError::new(
                codes::BUSY,
                "the engine is already running a job; wait for it or cancel it",
            ));
        }
        inner.gpu.check_alive()?;
        Ok(Job(inner.clone()))
    }

    fn model(&self) -> Result<Rc<Loaded>, WebError> {
        self.0.model.borrow().clone().ok_or_else(|| {
            WebError::new(codes::NOT_LOADED, "no model is loaded; call load() first")
        })
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.0.busy.set(false);
    }
}

fn promise<F>(job: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, WebError>> + 'static,
{
    future_to_promise(async move { job.await.map_err(JsValue::from) })
}

/// A job on the device: a GPU failure while the device is being lost is reported as the loss
/// (`device-lost`, which the worker treats as the end of this instance), not as a failure.
fn job_promise<F>(gpu: Rc<Gpu>, job: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, WebError>> + 'static,
{
    promise(async move {
        match job.await {
            Err(error) => Err(gpu.classify(error).await),
            done => done,
        }
    })
}

pub(crate) fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(obj, &key.into(), &value.into());
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, WebError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WebError::new(codes::INTERNAL, e.to_string()))
}

/// A JS callback that steers a job: `false` (strictly) stops it, a throw stops it and becomes the
/// job's error.
pub(crate) struct Steer<'a> {
    f: &'a Function,
    error: Option<WebError>,
}

impl<'a> Steer<'a> {
    pub(crate) fn new(f: &'a Function) -> Self {
        Self { f, error: None }
    }

    pub(crate) fn call(&mut self, args: &[JsValue]) -> ControlFlow<()> {
        let array: Array = args.iter().collect();
        match self.f.apply(&JsValue::NULL, &array) {
            Ok(r) if r == JsValue::FALSE => ControlFlow::Break(()),
            Ok(_) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(WebError::bad_request(format!(
                    "a callback threw: {}",
                    crate::source::js_text(&e)
                )));
                ControlFlow::Break(())
            }
        }
    }

    /// The callback's error, if it threw.
    pub(crate) fn finish(self) -> Result<(), WebError> {
        self.error.map_or(Ok(()), Err)
    }
}

#[wasm_bindgen]
impl Engine {
    /// `Engine.create({dtype?: "auto"|"f32"|"f16", quant?: "none"|"q8"|"q4", maxBindingBytes?})`
    /// -> `Promise<Engine>`. With `quant`, the large matrices stay packed on the GPU (8.5 or
    /// 4.5 bits a weight) and the WGSL kernels read them.
    pub fn create(options: JsValue) -> Promise {
        crate::install_panic_hook();
        promise(async move {
            let options: EngineOptions = parse(options, "engine options")?;
            let gpu = open().await?;
            let dtype = gpu.info.working_dtype(options.dtype)?;
            let quant = match options.quant.as_deref() {
                None | Some("none") => None,
                Some(q) => Some(QuantFormat::parse(q).ok_or_else(|| {
                    WebError::bad_request(format!("quant must be none, q8 or q4, not {q:?}"))
                })?),
            };
            let mut max_tensor_bytes = gpu.info.max_tensor_bytes;
            if let Some(cap) = options.max_binding_bytes {
                if !(cap.is_finite() && cap >= 1.0) {
                    return Err(WebError::bad_request(
                        "maxBindingBytes must be a positive number",
                    ));
                }
                max_tensor_bytes = max_tensor_bytes.min(cap as u64);
            }
            let kept_bytes = match options.conversation_cache_bytes {
                None => DEFAULT_CONVERSATION_CACHE_BYTES,
                Some(b) if b.is_finite() && b >= 0.0 => b as u64,
                Some(_) => {
                    return Err(WebError::bad_request(
                        "conversationCacheBytes must be a number of bytes, 0 or more",
                    ));
                }
            };
            let engine = Engine {
                inner: Rc::new(Inner {
                    gpu,
                    dtype,
                    quant,
                    max_tensor_bytes,
                    model: RefCell::new(None),
                    conversation: RefCell::new(PromptCache::with_limits(
                        KEPT_CONVERSATIONS,
                        kept_bytes,
                    )),
                    busy: Cell::new(false),
                }),
            };
            Ok(engine.into())
        })
    }

    /// `{adapter, backend, shaderF16, dtype, maxBufferSize, maxStorageBufferBindingSize, maxTensorBytes}`
    #[wasm_bindgen(js_name = deviceInfo)]
    pub fn device_info(&self) -> Result<JsValue, JsValue> {
        let info = to_js(&self.inner.gpu.info)?;
        let obj: Object = info.unchecked_into();
        set(&obj, "dtype", self.inner.dtype.name());
        set(
            &obj,
            "quant",
            self.inner.quant.map_or("none", QuantFormat::name),
        );
        set(&obj, "maxTensorBytes", self.inner.max_tensor_bytes as f64);
        Ok(obj.into())
    }

    #[wasm_bindgen(js_name = isLoaded)]
    pub fn is_loaded(&self) -> bool {
        self.inner.model.borrow().is_some()
    }

    /// Drop the loaded model and free its GPU memory.
    pub fn unload(&self) -> Result<(), JsValue> {
        if self.inner.busy.get() {
            return Err(WebError::new(codes::BUSY, "cannot unload while a job runs").into());
        }
        self.inner.set_model(None);
        Ok(())
    }

    /// Load from a base URL in Hugging Face layout; `onProgress(progress)` after every step
    /// (return `false` to cancel: the promise rejects with code `aborted`).
    pub fn load(&self, base_url: String, on_progress: Function) -> Promise {
        let inner = self.inner.clone();
        job_promise(inner.gpu.clone(), async move {
            let job = Job::start(&inner)?;
            let source = HttpSource::new(&base_url)?;
            load_from(&job, &source, &on_progress, None::<&mut NoPack>).await
        })
    }

    /// Load through a reader the page implements: `{describe(), size(path), read(path, offset,
    /// length)}` (the IndexedDB cache, `web/src/store/store-reader.ts`). A rejection's `code`
    /// (`integrity`, `storage`...) is kept.
    ///
    /// `onPackFile(file, bytes, sha256)`, when given to an engine with `quant` loading a model
    /// that is not a pack: the same reads also write the model's pack (`janus pack`'s files,
    /// the manifest last), each file handed over as it completes; its promise is awaited, and a
    /// rejection fails the load with its code. The report then says `packWritten`.
    #[wasm_bindgen(js_name = loadFrom)]
    pub fn load_from_reader(
        &self,
        reader: JsValue,
        on_progress: Function,
        on_pack_file: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        job_promise(inner.gpu.clone(), async move {
            let job = Job::start(&inner)?;
            let source = JsSource::new(reader)?;
            let mut sink = on_pack_file.map(JsPackSink);
            load_from(&job, &source, &on_progress, sink.as_mut()).await
        })
    }

    /// Chat. `request`: `{messages: [{role, content, images?}], system?, maxNewTokens?,
    /// temperature?, topP?, topK?, seed?, stop?, reuse?, logprobs?, topLogprobs?, json?}`
    /// (`json: true`: the reply is one JSON object, `janus_model::generate::json`); `images`:
    /// the pictures of every message in order; `onToken(piece, id, logprobs?)` per generated
    /// token — return `false` to stop. With `logprobs: true`, `logprobs` is the token's
    /// `{id, token, bytes, logprob, topLogprobs: [{id, token, bytes, logprob}]}`: the natural
    /// log of its probability under the model (temperature 1, before top-k or top-p), and the
    /// `topLogprobs` (up to 20) most likely tokens at its step.
    /// `onPrompt(read, total)`, when given, after each pass of a prompt long enough to run in
    /// several (past the bound on its attention scores), once the GPU has run it: `read` of the
    /// `total` positions this turn runs — return `false` to stop there, before the first
    /// token (stop `cancelled`; what was read is kept, as below).
    /// Resolves `{text, ids, promptTokens, reusedTokens, stop, seed}`, and `logprobs` (one entry
    /// per id) where asked.
    ///
    /// The engine keeps the KV caches of the last chats: a prompt that begins as one of them
    /// did (the same conversation with a new question, or the same prompt regenerated) runs
    /// only the rest, and `reusedTokens` says how many it did not run again. `reuse: false`
    /// runs the whole prompt and keeps nothing of it; loading and unloading clear them all, and
    /// an image job those that do not fit beside its own caches in `conversationCacheBytes`.
    pub fn chat(
        &self,
        request: JsValue,
        image_list: JsValue,
        on_token: Function,
        on_prompt: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        job_promise(inner.gpu.clone(), async move {
            let job = Job::start(&inner)?;
            let loaded = job.model()?;
            let req: ChatRequest = parse_required(request, "chat request")?;
            let model = &loaded.model;
            let tok = &loaded.tokenizer;
            let prepared = images(&image_list, model.config().vision.image_size)?;
            let text_request = req.text_request(tok, model.config(), prepared, random_seed)?;
            let prompt_tokens = text_request.prompt_ids.len();
            let seed = text_request.sampling.seed;
            // Out of the cell for the job (a failure leaves it empty, with its limits);
            // `reuse: false` starts afresh and keeps nothing of this chat.
            let mut kept = {
                let mut cell = inner.conversation.borrow_mut();
                let empty = cell.empty_like();
                std::mem::replace(&mut *cell, empty)
            };
            let reuse = req.reuse.unwrap_or(true);
            // Text that may begin a stop sequence is held back until the next piece; a reply
            // that ends without one gets it in `text` (the client streams what `text` adds).
            let mut watch = ChatWatch::new(
                tok,
                req.stop_text()?,
                Steer::new(&on_token),
                on_prompt.as_ref().map(Steer::new),
            );
            let out =
                generate_text_with(model, &text_request, reuse.then_some(&mut kept), &mut watch)
                    .await?;
            *inner.conversation.borrow_mut() = kept;
            inner.gpu.check_alive()?;
            let ChatWatch {
                stops,
                steer,
                reading,
                entries,
                ..
            } = watch;
            steer.finish()?;
            reading.map_or(Ok(()), Steer::finish)?;
            // Cut at a stop sequence: the text streamed (the ids include the sequence's).
            let text = stops
                .reply(|| tok.decode(&out.ids))
                .map_err(janus_model::JanusError::from)?;
            let result = Object::new();
            set(&result, "text", text);
            set(&result, "ids", id_array(&out.ids));
            set(&result, "promptTokens", prompt_tokens as u32);
            set(&result, "reusedTokens", out.reused as u32);
            set(&result, "stop", out.stop.as_str());
            set(&result, "seed", seed as f64);
            if text_request.logprobs.is_some() {
                set(&result, "logprobs", entries);
            }
            Ok(result.into())
        })
    }

    /// Text to image. `request`: `{prompt, count?, cfgWeight?, temperature?, topP?, topK?,
    /// seed?, previewEvery?}`; `onStep(step, total, preview?)` after every image token — return
    /// `false` to stop. Every `previewEvery` steps `preview` is `{width, height, images:
    /// Uint8Array[] (RGBA)}`: the rows complete so far, decoded (`height` < the image's).
    /// Resolves `{width, height, images: Uint8Array[] (RGBA), codes: number[][], cancelled, seed}`.
    #[wasm_bindgen(js_name = generateImage)]
    pub fn generate_image(&self, request: JsValue, on_step: Function) -> Promise {
        let inner = self.inner.clone();
        job_promise(inner.gpu.clone(), async move {
            let job = Job::start(&inner)?;
            let loaded = job.model()?;
            let req: ImageGenRequest = parse_required(request, "image request")?;
            let model = &loaded.model;
            let image_request =
                req.image_request(&loaded.tokenizer, model.config(), random_seed)?;
            // The conversations kept beside this job's caches stay within their budget: the
            // next question after a drawing runs only what the drawing added.
            let own = image_request.cache_bytes(model);
            inner.conversation.borrow_mut().make_room(own);
            let seed = image_request.sampling.seed;
            let mut steer = Steer::new(&on_step);
            let out = generate_image_codes(model, &image_request, |s| {
                let preview = s.preview.map_or(JsValue::UNDEFINED, rgba_images);
                steer.call(&[(s.step as u32 + 1).into(), (s.total as u32).into(), preview])
            })
            .await?;
            inner.gpu.check_alive()?;
            steer.finish()?;
            let size = model.config().gen_vision.image_size();
            let result = Object::new();
            set(&result, "width", size as u32);
            set(&result, "height", size as u32);
            let pictures = if out.cancelled {
                Array::new()
            } else {
                rgba_arrays(&decode_images(model, &out.codes).await?)
            };
            set(&result, "images", pictures);
            let codes: Array = out
                .codes
                .iter()
                .map(|c| JsValue::from(id_array(c)))
                .collect();
            set(&result, "codes", codes);
            set(&result, "cancelled", out.cancelled);
            set(&result, "seed", seed as f64);
            Ok(result.into())
        })
    }
}

/// RGB images -> one RGBA `Uint8Array` each (opaque), ready for `ImageData`.
fn rgba_arrays(images: &[RgbImage]) -> Array {
    images
        .iter()
        .map(|rgb| {
            let rgba: Vec<u8> = rgb.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
            JsValue::from(Uint8Array::from(&rgba[..]))
        })
        .collect()
}

/// A preview for `onStep`: `{width, height, images}` (all images share one size).
fn rgba_images(images: &[RgbImage]) -> JsValue {
    let (width, height) = images.first().map_or((0, 0), |i| i.dimensions());
    let preview = Object::new();
    set(&preview, "width", width);
    set(&preview, "height", height);
    set(&preview, "images", rgba_arrays(images));
    preview.into()
}

/// Load into the engine from any source, replacing the previous model.
/// `onPackFile(file, bytes, sha256) -> Promise` as a [`PackSink`].
struct JsPackSink(Function);

impl PackSink for JsPackSink {
    async fn put(&mut self, file: &PackOutput) -> Result<(), WebError> {
        // A copy into JavaScript's heap: the shard's wasm allocation goes back to the writer.
        let bytes = Uint8Array::from(&file.bytes[..]);
        let returned = self
            .0
            .call3(
                &JsValue::NULL,
                &JsValue::from(file.file.as_str()),
                &bytes,
                &JsValue::from(file.sha256.as_str()),
            )
            .map_err(|e| WebError::from_js(&e, "storing the pack"))?;
        wasm_bindgen_futures::JsFuture::from(Promise::resolve(&returned))
            .await
            .map_err(|e| WebError::from_js(&e, "storing the pack"))?;
        Ok(())
    }
}

async fn load_from<S: AsyncSource, P: PackSink>(
    job: &Job,
    source: &S,
    on_progress: &Function,
    pack: Option<&mut P>,
) -> Result<JsValue, WebError> {
    let inner = &job.0;
    // Free the old model's GPU memory before the new one arrives.
    inner.set_model(None);
    let before = crate::wasm_memory_bytes();
    let peak = Cell::new(before);
    let store = TensorStore::new(&inner.gpu.device, inner.dtype)
        .with_max_tensor_bytes(inner.max_tensor_bytes)
        .with_quant(inner.quant);
    // `false` from onProgress cancels the load (`aborted`); a throw cancels it with that error.
    let mut steer = Steer::new(on_progress);
    let loading = load_with_pack(
        source,
        store,
        |p| match to_js(p) {
            Ok(v) => steer.call(&[v]),
            Err(_) => ControlFlow::Continue(()), // a plain struct always serialises
        },
        || peak.set(peak.get().max(crate::wasm_memory_bytes())),
        pack,
    )
    .await;
    steer.finish()?;
    let (loaded, stats) = loading?;
    inner.gpu.check_alive()?;
    let report = report(&loaded, &stats, inner.dtype, before, peak.get())?;
    inner.set_model(Some(Rc::new(loaded)));
    Ok(report)
}

fn report(
    loaded: &Loaded,
    stats: &LoadStats,
    dtype: WorkingDtype,
    before: u64,
    peak: u64,
) -> Result<JsValue, WebError> {
    let c = loaded.model.config();
    let p = &loaded.plan;
    let r = Object::new();
    set(
        &r,
        "format",
        match c.format {
            CheckpointFormat::DeepSeek => "deepseek",
            CheckpointFormat::HuggingFace => "huggingface",
        },
    );
    set(&r, "parameters", p.total_params() as f64);
    set(&r, "loadedParameters", p.loaded_params as f64);
    set(&r, "tensors", p.reads.len() as u32);
    set(&r, "bytes", p.loaded_bytes as f64);
    set(&r, "checkpointBytes", stats.checkpoint_bytes as f64);
    set(&r, "largestTensorBytes", stats.largest_tensor_bytes as f64);
    set(&r, "requests", stats.requests as u32);
    set(
        &r,
        "largestRequestBytes",
        stats.largest_request_bytes as f64,
    );
    let split: Array = loaded
        .split_tensors
        .iter()
        .map(|s| JsValue::from(s.as_str()))
        .collect();
    set(&r, "splitTensors", split);
    set(&r, "dtype", dtype.name());
    set(
        &r,
        "quantizedTensors",
        loaded.quantized_tensors.len() as u32,
    );
    set(&r, "packWritten", stats.pack_written);
    set(&r, "packBytes", stats.pack_bytes as f64);
    // A pack (`janus pack`) brings its own format, whatever `quant` the engine was made with.
    set(
        &r,
        "pack",
        p.pack.map_or(JsValue::NULL, |f| JsValue::from(f.name())),
    );
    set(
        &r,
        "contextLength",
        c.language.max_position_embeddings as u32,
    );
    set(&r, "vocabSize", c.language.vocab_size as u32);
    set(&r, "imageSize", c.gen_vision.image_size() as u32);
    set(&r, "imageTokens", c.gen_vision.tokens_per_image() as u32);
    set(&r, "wasmMemoryBefore", before as f64);
    set(&r, "wasmMemoryPeak", peak as f64);
    Ok(r.into())
}
