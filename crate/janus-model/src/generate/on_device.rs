//! Generation loops on the GPU where the kernels run: each step takes its input ids from the
//! history of chosen ids, runs the decoder with the fused decode kernels at the position the
//! device holds, chooses on the GPU (`shaders/sample.wgsl`) and writes its choice into the
//! history. Nothing is read back but what the loop asks for (one id per text step; image codes
//! in batches), and since a step's launches never change, the first is recorded and the rest
//! replay it (`kernels::graph`). Elsewhere the host sampler chooses (the reference, and every
//! non-wgpu device).

use burn::tensor::{Device, Int, Tensor, s};

use super::sampling::SamplingParams;
use crate::error::JanusError;
use crate::model::Janus;
use crate::model::cursor::Cursor;
use crate::model::kv_cache::KvCache;

/// Steps of an image between readbacks of the chosen codes (for progress, preview and
/// cancellation): the GPU runs ahead of the host by at most this many steps.
pub const IMAGE_READBACK_EVERY: usize = 16;

/// True when `device` chooses tokens itself.
pub fn available(device: &Device) -> bool {
    crate::quant::device::kernel_available(device)
}

/// Which head turns a step's hidden state into logits, and which table embeds its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// `embed_tokens` and `lm_head`.
    Text,
    /// `gen_embed` + `gen_aligner` and `gen_head`.
    Image,
}

/// How a loop's steps run.
enum Replay {
    /// The next step records itself.
    #[cfg(feature = "wgpu-kernels")]
    Untried,
    #[cfg(feature = "wgpu-kernels")]
    Recorded(crate::kernels::graph::StepGraph),
    /// Every step launches anew (recording switched off, or it failed).
    Off,
}

/// One generation's decode loop on the device: `rows` sequences (a guided pair per image),
/// `columns` tokens to choose.
pub struct DeviceLoop<'m> {
    model: &'m Janus,
    caches: Vec<KvCache>,
    cursor: Cursor,
    /// `[rows, columns]` i32: every id chosen so far.
    history: Tensor<2, Int>,
    /// `[rows, 1]` i32: the last step's ids.
    last: Tensor<2, Int>,
    how: Choice,
    head: Head,
    replay: Replay,
    /// Each step's logits, kept for the host ([`Self::keep_logits`]).
    keep: Option<Keep>,
    /// `[ceil(K / 32)]` i32: the ids the next choice may take, as bits ([`Self::restrict`]).
    allowed: Option<Tensor<1, Int>>,
}

/// Where a step's logits are kept for the host.
#[cfg(feature = "wgpu-kernels")]
type Keep = crate::kernels::keep_rows::KeptRows;
#[cfg(not(feature = "wgpu-kernels"))]
type Keep = std::convert::Infallible;

/// How tokens are chosen: the sampler's settings and the guidance weight.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "wgpu-kernels"), allow(dead_code))]
struct Choice {
    cfg_weight: Option<f32>,
    temperature: f32,
    top_k: u32,
    top_p: f32,
    seed: u64,
}

impl<'m> DeviceLoop<'m> {
    /// A loop over `caches` (already holding the prompt, with room for every step). Only where
    /// [`available`] holds.
    pub fn new(
        model: &'m Janus,
        caches: Vec<KvCache>,
        (rows, columns): (usize, usize),
        sampling: &SamplingParams,
        cfg_weight: Option<f32>,
        head: Head,
    ) -> Self {
        let device = model.device();
        Self {
            model,
            caches,
            cursor: model.llm.cursor(),
            history: zeros_i32(device, [rows, columns.max(1)]),
            last: zeros_i32(device, [rows, 1]),
            how: Choice {
                cfg_weight,
                temperature: sampling.temperature,
                top_k: sampling.top_k.unwrap_or(0).min(u32::MAX as usize) as u32,
                top_p: sampling.top_p.unwrap_or(1.0),
                seed: sampling.seed,
            },
            head,
            replay: initial_replay(),
            keep: None,
            allowed: None,
        }
    }

    /// Let the next choice take only the ids `mask` holds (bit `k % 32` of word `k / 32`; a JSON
    /// reply's grammar, `super::json`): one small write before the step, read by the chooser
    /// in place, so a recorded step keeps replaying. The first call comes before the first
    /// choice, and every later step is then restricted by the last mask written.
    pub fn restrict(&mut self, mask: &[u32]) {
        let words: Vec<i32> = mask.iter().map(|&w| w as i32).collect();
        match &self.allowed {
            Some(allowed) => write_i32(allowed, &words),
            None => self.allowed = Some(i32_tensor(self.model.device(), [words.len()], &words)),
        }
    }

    /// Keep every later step's logits (`[rows, vocab]`, as f32) where the host can read them
    /// ([`Self::logits_reader`]): one more launch per step and a read of `rows * vocab * 4`
    /// bytes, for a chat that asked for log-probabilities. Before the first [`Self::step`].
    pub fn keep_logits(&mut self, vocab: usize) {
        #[cfg(feature = "wgpu-kernels")]
        {
            let rows = self.last.dims()[0];
            let kept = crate::kernels::keep_rows::KeptRows::new(self.model.device(), rows, vocab);
            self.keep = Some(kept);
        }
        #[cfg(not(feature = "wgpu-kernels"))]
        {
            let _ = vocab;
            unreachable!("device loops need the wgpu kernels (see `available`)")
        }
    }

    /// Choose token 0 from the prompt's last logits `[rows, K]`.
    pub fn choose_first(&self, logits: Tensor<2>) {
        self.cursor.set(0, 0);
        let target = Target {
            history: &self.history,
            last: &self.last,
            cursor: &self.cursor,
            allowed: self.allowed.as_ref(),
        };
        choose(logits, &self.how, target);
    }

    /// Choose token `token` (>= 1): the step that feeds token `token - 1` in at position `pos`.
    pub fn step(&mut self, pos: usize, token: usize) -> Result<(), JanusError> {
        self.cursor.set(pos, token);
        let Self {
            model,
            caches,
            cursor,
            history,
            last,
            how,
            head,
            replay,
            keep,
            allowed,
        } = self;
        let run = || {
            let target = Target {
                history,
                last,
                cursor,
                allowed: allowed.as_ref(),
            };
            let logits = one_step(model, caches, target, how, *head);
            if let Some(keep) = keep.as_ref() {
                keep_logits(logits, keep);
            }
        };
        match replay {
            #[cfg(feature = "wgpu-kernels")]
            Replay::Recorded(graph) => graph.replay().map_err(JanusError::Device)?,
            #[cfg(feature = "wgpu-kernels")]
            Replay::Untried => {
                match crate::kernels::graph::StepGraph::capture(&cursor.state, &mut &run) {
                    // The warm-up already ran this step.
                    Ok(graph) => *replay = Replay::Recorded(graph),
                    Err(_) => {
                        // Launch every step anew (the reason is kept for the benchmarks);
                        // running this one again is harmless: a step is idempotent.
                        *replay = Replay::Off;
                        run();
                    }
                }
            }
            Replay::Off => run(),
        }
        Ok(())
    }

    /// A reader of the last step's ids ([`IdsReader::start`]), apart from the loop so that a
    /// read can be in flight while the next step is queued.
    pub fn last_reader(&self) -> IdsReader {
        IdsReader {
            #[cfg(feature = "wgpu-kernels")]
            reader: crate::kernels::memory::I32Reader::new(&self.last),
            #[cfg(not(feature = "wgpu-kernels"))]
            last: self.last.clone(),
        }
    }

    /// A reader of the logits the last step kept ([`Self::keep_logits`]; none where they are
    /// not kept), started as [`IdsReader::start`] is.
    pub fn logits_reader(&self) -> Option<LogitsReader> {
        #[cfg(feature = "wgpu-kernels")]
        {
            self.keep.as_ref().map(|keep| LogitsReader {
                reader: keep.reader(),
            })
        }
        #[cfg(not(feature = "wgpu-kernels"))]
        {
            self.keep.map(|never| match never {})
        }
    }

    /// Tokens `from .. to` of every row: `[rows, to - from]` row-major.
    pub async fn read_history(&self, from: usize, to: usize) -> Result<Vec<u32>, JanusError> {
        read_ids(self.history.clone().slice(s![.., from..to])).await
    }

    /// End the loop and hand back its caches, as its steps wrote them in place (their
    /// host-side lengths still those of the prompt: the caller counts the steps it ran).
    pub fn into_caches(mut self) -> Vec<KvCache> {
        // The recording goes first, as in `drop`.
        self.replay = Replay::Off;
        std::mem::take(&mut self.caches)
    }
}

thread_local! {
    /// Per thread, like the kernels' settings: see [`set_overlap`].
    static OVERLAP: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Whether a text loop on this thread queues the next step before it awaits the current id (the
/// default: the GPU runs that step while the host waits), or awaits the id first (measurements
/// compare the two: `JANUS_OVERLAP=0`).
pub fn set_overlap(on: bool) {
    OVERLAP.with(|o| o.set(on));
}

/// See [`set_overlap`].
pub fn overlap() -> bool {
    OVERLAP.with(std::cell::Cell::get)
}

/// Reads a loop's last ids back ([`DeviceLoop::last_reader`]).
pub struct IdsReader {
    #[cfg(feature = "wgpu-kernels")]
    reader: crate::kernels::memory::I32Reader,
    #[cfg(not(feature = "wgpu-kernels"))]
    last: Tensor<2, Int>,
}

impl IdsReader {
    /// The ids, one per row, as every step queued so far leaves them. The read starts now: its
    /// copy is queued before whatever the caller queues next, so the next step can run on the
    /// GPU while the host awaits these ids.
    pub fn start(&self) -> impl Future<Output = Result<Vec<u32>, JanusError>> + '_ {
        #[cfg(feature = "wgpu-kernels")]
        let read = self.reader.start();
        #[cfg(not(feature = "wgpu-kernels"))]
        let read = async {
            let ids = read_ids(self.last.clone()).await;
            ids.map(|ids| ids.into_iter().map(|v| v as i32).collect::<Vec<i32>>())
                .map_err(|e| e.to_string())
        };
        async move {
            let ids = read.await.map_err(JanusError::Device)?;
            Ok(ids.into_iter().map(|v| v as u32).collect())
        }
    }
}

/// Reads the logits a loop keeps ([`DeviceLoop::logits_reader`]).
pub struct LogitsReader {
    #[cfg(feature = "wgpu-kernels")]
    reader: crate::kernels::memory::Reader<f32>,
}

impl LogitsReader {
    /// The last step's logits, `[rows, vocab]` row-major, read as [`IdsReader::start`] reads.
    pub fn start(&self) -> impl Future<Output = Result<Vec<f32>, JanusError>> + '_ {
        #[cfg(feature = "wgpu-kernels")]
        let read = self.reader.start();
        #[cfg(not(feature = "wgpu-kernels"))]
        let read = std::future::ready(Err::<Vec<f32>, _>(
            "device loops need the wgpu kernels (see `available`)".to_string(),
        ));
        async move { read.await.map_err(JanusError::Device) }
    }
}

impl Drop for DeviceLoop<'_> {
    fn drop(&mut self) {
        // The recording goes before the caches and tensors it replays against.
        self.replay = Replay::Off;
    }
}

fn initial_replay() -> Replay {
    #[cfg(feature = "wgpu-kernels")]
    if crate::kernels::graph::enabled() {
        return Replay::Untried;
    }
    Replay::Off
}

/// Where a choice goes and what it reads besides the logits.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "wgpu-kernels"), allow(dead_code))]
struct Target<'a> {
    history: &'a Tensor<2, Int>,
    last: &'a Tensor<2, Int>,
    cursor: &'a Cursor,
    allowed: Option<&'a Tensor<1, Int>>,
}

/// One decode step: ids from the history's column `state[1] - 1`, the decoder at `state[0]`,
/// the head, the choice into column `state[1]` and `last`. The same launches on the same
/// buffers at every state, and idempotent at one state. Returns the step's logits.
fn one_step(
    model: &Janus,
    caches: &[KvCache],
    target: Target<'_>,
    how: &Choice,
    head: Head,
) -> Tensor<2> {
    let ids = take_ids(target.history, &target.cursor.state);
    let x = match head {
        Head::Text => model.embed_tokens(ids),
        Head::Image => model.image_code_embeds(ids),
    };
    let hidden = model.llm.decode(x, caches, target.cursor);
    let logits = match head {
        Head::Text => model.text_logits(hidden),
        Head::Image => model.image_logits(hidden),
    };
    choose(logits.clone(), how, target);
    logits
}

fn keep_logits(logits: Tensor<2>, keep: &Keep) {
    #[cfg(feature = "wgpu-kernels")]
    keep.keep(logits);
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = logits;
        match *keep {}
    }
}

fn take_ids(history: &Tensor<2, Int>, state: &Tensor<1, Int>) -> Tensor<2, Int> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::take_ids::take_ids(history, state)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (history, state);
        unreachable!("device loops need the wgpu kernels (see `available`)")
    }
}

fn choose(logits: Tensor<2>, how: &Choice, target: Target<'_>) {
    #[cfg(feature = "wgpu-kernels")]
    {
        use crate::kernels::sample::{SampleStep, SampleTarget, sample_into};
        sample_into(
            logits,
            &SampleStep {
                cfg_weight: how.cfg_weight,
                temperature: how.temperature,
                top_k: how.top_k,
                top_p: how.top_p,
                seed: how.seed,
            },
            SampleTarget {
                out: target.last,
                history: target.history,
                state: &target.cursor.state,
                allowed: target.allowed,
            },
        );
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (logits, how, target);
        unreachable!("device loops need the wgpu kernels (see `available`)")
    }
}

fn zeros_i32<const D: usize>(device: &Device, shape: [usize; D]) -> Tensor<D, Int> {
    let n = shape.iter().product();
    i32_tensor(device, shape, &vec![0; n])
}

fn i32_tensor<const D: usize>(
    device: &Device,
    shape: [usize; D],
    values: &[i32],
) -> Tensor<D, Int> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::memory::i32_tensor(device, shape, values)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (device, shape, values);
        unreachable!("device loops need the wgpu kernels (see `available`)")
    }
}

fn write_i32(tensor: &Tensor<1, Int>, values: &[i32]) {
    #[cfg(feature = "wgpu-kernels")]
    crate::kernels::memory::write_i32(tensor, values);
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (tensor, values);
        unreachable!("device loops need the wgpu kernels (see `available`)")
    }
}

/// Read ids back: `[rows, n]` -> row-major u32.
pub async fn read_ids(ids: Tensor<2, Int>) -> Result<Vec<u32>, JanusError> {
    let data = ids.into_data_async().await?;
    Ok(data.iter::<i64>().map(|v| v as u32).collect())
}
