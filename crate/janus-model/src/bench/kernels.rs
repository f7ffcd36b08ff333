//! Per-kernel figures at the decode step's shapes (`janus bench --kernels`, `npm run bench --
//! --kernels`): how long one launch of each hand-written kernel takes on this adapter, and the
//! bytes it must read, so each can be compared with the copy kernel's bandwidth. The model-level
//! benchmark says how fast a step is; this says which kernel to work on. Figures, not assertions.
//!
//! Each kernel is timed twice: launched one call at a time, and as [`REPLAY_LAUNCHES`] launches
//! recorded once and replayed ([`crate::kernels::graph`]), as a decode step runs: what a launch
//! costs there, the barrier between launches included, with the host's share of it.
//!
//! The matrices are packed directly with patterned codes (no quantisation: the kernels' cost
//! does not depend on the values), so a run needs no model and takes seconds on a GPU. Each
//! product takes its weights from several copies in turn ([`Rotation`]), as a decode step finds
//! them: never in the cache from the launch before.

use std::cell::{Cell, OnceCell};

use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::config::JanusConfig;
use crate::error::JanusError;
use crate::kernels::attention::attention_decode;
use crate::kernels::graph::StepGraph;
use crate::kernels::memory::i32_tensor;
use crate::kernels::qmatvec::{Fused, RopeKv};
use crate::kernels::rms_norm::{add_rms_norm, rms_norm};
use crate::kernels::rope_kv::rope_kv;
use crate::kernels::sample::{SampleStep, SampleTarget, sample_into};
use crate::model::cursor::state_words;
use crate::model::rope::Rope;
use crate::quant::device::QuantMatrix;
use crate::quant::{PackedMatrix, QuantFormat};

/// One kernel at one shape: seconds per launch and the bytes a launch must at least move.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KernelFigure {
    pub kernel: String,
    pub shape: String,
    /// Launches of it in one text decode step.
    pub per_token: usize,
    /// Per launch, launched one call at a time.
    pub seconds: f64,
    /// Per launch within a replayed recording (None where the adapter could not record).
    pub replayed_seconds: Option<f64>,
    /// Of that, the host's time per launch spent encoding and submitting the replays: near
    /// `replayed_seconds`, the replay is bound by the host, not the GPU.
    pub replay_host_seconds: Option<f64>,
    pub bytes: u64,
}

impl KernelFigure {
    /// Bytes over the best time measured (the replayed one where there is one).
    pub fn gbps(&self) -> f64 {
        self.bytes as f64 / self.best_seconds() / 1e9
    }

    pub fn best_seconds(&self) -> f64 {
        self.replayed_seconds
            .map_or(self.seconds, |r| r.min(self.seconds))
    }
}

/// The Markdown table of `figures` (with each kernel's fraction of `copy_gbps` when known) and
/// a last row: the sum over one decode step's launches.
pub fn markdown(figures: &[KernelFigure], copy_gbps: Option<f64>) -> String {
    let mut out = String::from(
        "| kernel | shape | launches per token | µs per launch | µs replayed (host) | GB/s | fraction of copy |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let fraction = |gbps: f64| copy_gbps.map_or("–".into(), |c| format!("{:.3}", gbps / c));
    let micros = |s: Option<f64>| s.map_or("–".into(), |s| format!("{:.1}", s * 1e6));
    let replayed = |s: Option<f64>, host: Option<f64>| match host {
        Some(h) => format!("{} ({:.1})", micros(s), h * 1e6),
        None => micros(s),
    };
    for f in figures {
        out += &format!(
            "| {} | {} | {} | {:.1} | {} | {:.2} | {} |\n",
            f.kernel,
            f.shape,
            f.per_token,
            f.seconds * 1e6,
            replayed(f.replayed_seconds, f.replay_host_seconds),
            f.gbps(),
            fraction(f.gbps())
        );
    }
    let sum = |t: &dyn Fn(&KernelFigure) -> f64| -> f64 {
        figures.iter().map(|f| t(f) * f.per_token as f64).sum()
    };
    let step_s = sum(&KernelFigure::best_seconds);
    let step_bytes: u64 = figures.iter().map(|f| f.bytes * f.per_token as u64).sum();
    let gbps = step_bytes as f64 / step_s / 1e9;
    let replayed_sum = figures
        .iter()
        .all(|f| f.replayed_seconds.is_some())
        .then(|| sum(&|f| f.replayed_seconds.unwrap_or(f.seconds)));
    out += &format!(
        "| sum over a decode step | | | {:.1} | {} | {:.2} | {} |\n",
        sum(&|f| f.seconds) * 1e6,
        micros(replayed_sum),
        gbps,
        fraction(gbps)
    );
    out
}

/// A `[rows, cols]` matrix in `format` with patterned codes and small scales, on `device`, for
/// the products.
fn patterned(format: QuantFormat, rows: usize, cols: usize, device: &Device) -> QuantMatrix {
    let kernel = crate::quant::device::kernel_available(device);
    QuantMatrix::upload_owned(packed(format, rows, cols), device, kernel)
}

/// Copies of one patterned matrix that a product's launches take in turn, so that no launch
/// finds its weights in the adapter's cache from the launch before. A decode step streams ~0.8
/// GB of weights (Janus-1.3B at Q4) between two uses of one matrix, while a 2048 × 2048 Q4
/// matrix (2.4 MB) fits in an H200's 50 MB L2 or a CPU's L3: launched back to back on one copy,
/// the small products read from cache and looked faster than a step runs them. The copies
/// together hold at least [`COLD_BYTES`]; there are at least two, and at most one per replayed
/// launch.
struct Rotation<'a> {
    format: QuantFormat,
    shape: (usize, usize),
    count: usize,
    device: &'a Device,
    /// Made at the first launch, so that kernels left out (`Timing::only`) cost no uploads.
    copies: OnceCell<Vec<QuantMatrix>>,
    next: Cell<usize>,
}

/// What a product's copies hold together ([`Rotation`]): several times a GPU's last-level
/// cache.
pub const COLD_BYTES: u64 = 192 << 20;

impl<'a> Rotation<'a> {
    /// The copies of a `[rows, cols]` matrix; one copy where `hot`.
    fn new(format: QuantFormat, shape: (usize, usize), hot: bool, device: &'a Device) -> Self {
        let count = if hot {
            1
        } else {
            COLD_BYTES
                .div_ceil(format.bytes(shape.0, shape.1))
                .clamp(2, REPLAY_LAUNCHES as u64) as usize
        };
        Self {
            format,
            shape,
            count,
            device,
            copies: OnceCell::new(),
            next: Cell::new(0),
        }
    }

    /// The copy the next launch reads.
    fn next(&self) -> &QuantMatrix {
        let (rows, cols) = self.shape;
        let copies = self.copies.get_or_init(|| {
            (0..self.count)
                .map(|_| patterned(self.format, rows, cols, self.device))
                .collect()
        });
        let i = self.next.get();
        self.next.set((i + 1) % copies.len());
        &copies[i]
    }

    /// One copy's bytes on the device: what one launch reads of the weights.
    fn bytes(&self) -> u64 {
        self.format.bytes(self.shape.0, self.shape.1)
    }
}

/// The host side of [`patterned`].
fn packed(format: QuantFormat, rows: usize, cols: usize) -> PackedMatrix {
    let words = rows * cols * format.bits() / 32;
    let blocks = rows * cols / crate::quant::BLOCK;
    PackedMatrix {
        format,
        rows,
        cols,
        codes: (0..words as u32)
            .map(|i| i.wrapping_mul(0x9E37_79B1))
            .collect(),
        // f16 1/64: sums stay finite.
        scales: vec![0x2400; blocks],
    }
}

/// Wait for everything queued before `t`'s launch: a one-element readback of it.
async fn sync<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, JanusError> {
    crate::generate::read_f32(t.flatten::<1>(0, D - 1).narrow(0, 0, 1)).await
}

/// Launches in the recording [`time_replayed`] replays: enough that the recording's own edges
/// (the replay's submission, the readback that ends the batch) are amortised.
pub const REPLAY_LAUNCHES: usize = 32;

/// How [`kernels`] times: `clock` in seconds, each figure's batches for at least `min_s`, and
/// only the kernels whose names contain `only` where it is given (a measurement of one kernel's
/// settings then takes seconds, not the whole table's minute). With `hot`, each product reads
/// one copy of its weights ([`Rotation`]), which a cache may then hold between launches.
pub struct Timing<'a> {
    pub clock: &'a dyn Fn() -> f64,
    pub min_s: f64,
    pub only: Option<&'a str>,
    pub hot: bool,
}

/// One kernel at one shape: its name, shape and launches per decode step, then what one launch
/// must move, timed launched one call at a time ([`time`]) and replayed ([`time_replayed`]).
/// None where `timing.only` leaves the kernel out.
async fn figure<const D: usize>(
    (kernel, shape, per_token): (&str, String, usize),
    bytes: u64,
    launch: &dyn Fn() -> Tensor<D>,
    timing: &Timing<'_>,
) -> Result<Option<KernelFigure>, JanusError> {
    if timing.only.is_some_and(|only| !kernel.contains(only)) {
        return Ok(None);
    }
    let (clock, min_s) = (timing.clock, timing.min_s);
    let seconds = time(launch, clock, min_s).await?;
    let replayed = time_replayed(launch, clock, min_s).await?;
    Ok(Some(KernelFigure {
        kernel: kernel.into(),
        shape,
        per_token,
        seconds,
        replayed_seconds: replayed.map(|r| r.0),
        replay_host_seconds: replayed.map(|r| r.1),
        bytes,
    }))
}

/// Seconds per launch when [`REPLAY_LAUNCHES`] launches of `launch` are recorded as one step
/// and the recording replayed in batches of doubling size until a batch takes `min_s`: what a
/// launch costs inside a recorded decode step, and the host's share of it (encoding and
/// submitting the replays). None where the recording or its replay fails (the adapter's stream
/// then goes on unrecorded).
async fn time_replayed<const D: usize>(
    launch: &dyn Fn() -> Tensor<D>,
    clock: &dyn Fn() -> f64,
    min_s: f64,
) -> Result<Option<(f64, f64)>, JanusError> {
    let first = launch();
    let anchor = first.clone().flatten::<1>(0, D - 1).int();
    sync(first).await?;
    let mut step = || {
        for _ in 0..REPLAY_LAUNCHES {
            drop(launch());
        }
    };
    let Ok(graph) = StepGraph::capture(&anchor, &mut step) else {
        return Ok(None);
    };
    // The capture ran the launches once for real: wait for them before timing.
    sync(launch()).await?;
    let replay = |n: usize| (0..n).try_for_each(|_| graph.replay());
    let mut n = 1;
    let per_launch = loop {
        let start = clock();
        if replay(n).is_err() {
            return Ok(None);
        }
        // One more launch, read back: waits for every replay queued before it.
        sync(launch()).await?;
        let elapsed = clock() - start;
        if elapsed >= min_s || n >= 1 << 12 {
            break elapsed / (n * REPLAY_LAUNCHES + 1) as f64;
        }
        n *= 2;
    };
    // The host's share: HOST_REPLAYS replays queued onto an idle device, timed until the calls
    // return. cubecl makes the host wait for the GPU only once 512 launches are queued, so
    // these calls time encoding and submission alone; near `per_launch`, the host bounds the
    // replay, and well under it, the GPU does.
    sync(launch()).await?;
    let start = clock();
    if replay(HOST_REPLAYS).is_err() {
        return Ok(None);
    }
    let host = (clock() - start) / (HOST_REPLAYS * REPLAY_LAUNCHES) as f64;
    sync(launch()).await?;
    Ok(Some((per_launch, host)))
}

/// Replays timed for the host's share: 128 launches, under the 512 after which cubecl makes
/// the host wait for the device.
const HOST_REPLAYS: usize = 4;

/// Seconds per call of `launch` (which queues one launch and returns its output): one call to
/// compile and warm, then batches of doubling size until a batch takes `min_s`.
pub(crate) async fn time<const D: usize>(
    launch: &dyn Fn() -> Tensor<D>,
    clock: &dyn Fn() -> f64,
    min_s: f64,
) -> Result<f64, JanusError> {
    sync(launch()).await?;
    let mut n = 1;
    loop {
        let start = clock();
        let mut last = None;
        for _ in 0..n {
            last = Some(launch());
        }
        if let Some(t) = last {
            sync(t).await?;
        }
        let elapsed = clock() - start;
        if elapsed >= min_s || n >= 1 << 14 {
            return Ok(elapsed / n as f64);
        }
        n *= 2;
    }
}

/// Every decode-step kernel at `janus`'s shapes (its language model's; its image vocabulary for an
/// image step's choice), `x` in `dtype`, matrices in `format`, with
/// the attention over `context` cached positions, timed as `timing` says.
pub async fn kernels(
    janus: &JanusConfig,
    device: &Device,
    dtype: DType,
    format: QuantFormat,
    context: usize,
    timing: &Timing<'_>,
) -> Result<Vec<KernelFigure>, JanusError> {
    let config = &janus.language;
    let (h, i, v) = (
        config.hidden_size,
        config.intermediate_size,
        config.vocab_size,
    );
    let layers = config.num_layers;
    let elem = dtype.size() as u64;
    let mut out = Vec::new();

    // Matrix-vector products: the packed weights plus x and y.
    // Each in copies taken in turn (`Rotation`): made at its first launch, dropped after its
    // rows.
    let hot = timing.hot;
    let square = Rotation::new(format, (h, h), hot, device);
    let (gate, up) = (
        Rotation::new(format, (i, h), hot, device),
        Rotation::new(format, (i, h), hot, device),
    );
    let down = Rotation::new(format, (h, i), hot, device);
    // Decode's norms and residual connections ride in the products (the flat layout): the
    // fused rows weigh into the step's sum, the products alone and the norms' own kernels not;
    // elsewhere the other way round.
    let fuse = crate::kernels::qmatvec::fusing();
    let (apart, fused) = if fuse { (0, layers) } else { (layers, 0) };
    let w = Tensor::<1>::ones([h], device).cast(dtype);
    let eps = config.rms_norm_eps;
    let norm = || Fused {
        norm: Some((&w, eps)),
        ..Fused::default()
    };
    let r = Tensor::<2>::ones([1, h], device).cast(dtype);
    let residual = || Fused {
        residual: Some(r.clone()),
        ..Fused::default()
    };
    let fusable = "the flat layout fuses";
    // Attention over `context` positions of a cache with room for as many again (a generation
    // sizes its cache for the prompt and the tokens asked for), at the decode state of the last.
    let (heads, kv_heads, d) = (config.num_heads, config.num_kv_heads, config.head_dim);
    let context = context.max(1);
    let capacity = 2 * context;
    let k = Tensor::<4>::ones([1, kv_heads, capacity, d], device).cast(dtype);
    // A buffer of its own: WebGPU refuses two writable bindings of one buffer, so a clone of
    // `k` here made every launch invalid in the browser (timed as if it ran: 49 µs).
    let vv = Tensor::<4>::ones([1, kv_heads, capacity, d], device).cast(dtype);
    let words = state_words(&Rope::new(d, config.rope_theta), context - 1, 0);
    let state = i32_tensor(device, [words.len()], &words);
    // The rotation and cache write: inside the q/k/v product where the layout fuses them,
    // else a kernel of their own (`rope_kv`, below).
    let rope_fused = crate::kernels::qmatvec::rope_fusing();
    let (rope_apart, rope_inside) = if rope_fused { (0, layers) } else { (layers, 0) };
    // q, k and v as one product (`Attention::qkv`), then o, per layer.
    let qkv_rows = (heads + 2 * kv_heads) * d;
    let qkv = Rotation::new(format, (qkv_rows, h), hot, device);
    let x = Tensor::<2>::ones([1, h], device).cast(dtype);
    let shape = format!("[1, {h}] × [{qkv_rows}, {h}]ᵀ {}", format.name());
    let bytes = qkv.bytes() + (h + qkv_rows) as u64 * elem;
    let launch = || qkv.next().matvec(x.clone());
    let row = ("qmatvec", shape.clone(), apart);
    out.extend(figure(row, bytes, &launch, timing).await?);
    if fuse {
        let launch = || qkv.next().matvec_fused(x.clone(), norm()).expect(fusable);
        let row = ("qmatvec + norm", shape.clone(), fused - rope_inside);
        out.extend(figure(row, bytes + h as u64 * elem, &launch, timing).await?);
        let launch = || {
            let rope = RopeKv {
                heads: (heads, kv_heads, d),
                caches: (&k, &vv),
                state: &state,
            };
            let fused = Fused {
                rope: Some(rope),
                ..norm()
            };
            qkv.next()
                .matvec_fused(x.clone(), fused)
                .expect("the flat layout's two rows per workgroup rotate")
        };
        let row = ("qmatvec + norm + rope_kv", shape, rope_inside);
        // The norm weight read; a cos and a sin row.
        let bytes = bytes + h as u64 * elem + 2 * d as u64 * 4;
        out.extend(figure(row, bytes, &launch, timing).await?);
    }
    drop(qkv);
    // One row (decode), the image step's CFG pair, and a prompt's chunk of MAX_BATCH rows
    // where the layout's invocations own whole rows (the CPU adapters' prefill).
    let chunk = crate::kernels::qmatvec::layout().owns_rows();
    let batches = [1, 2, crate::kernels::qmatvec::MAX_BATCH];
    for batch in batches.into_iter().filter(|&b| b <= 2 || chunk) {
        let x = Tensor::<2>::ones([batch, h], device).cast(dtype);
        let shape = format!("[{batch}, {h}] × [{h}, {h}]ᵀ {}", format.name());
        // o per layer; none at batch 2 or 8 (not a text step's).
        let per_token = if batch == 1 { apart } else { 0 };
        let bytes = square.bytes() + (batch * 2 * h) as u64 * elem;
        let launch = || square.next().matvec(x.clone());
        let row = ("qmatvec", shape.clone(), per_token);
        out.extend(figure(row, bytes, &launch, timing).await?);
        if fuse && batch == 1 {
            let launch = || {
                let square = square.next();
                square.matvec_fused(x.clone(), residual()).expect(fusable)
            };
            let row = ("qmatvec + residual", shape, fused);
            out.extend(figure(row, bytes + h as u64 * elem, &launch, timing).await?);
        }
    }
    drop(square);
    let x = Tensor::<2>::ones([1, h], device).cast(dtype);
    let shape = format!("[1, {h}] × 2 [{i}, {h}]ᵀ {}", format.name());
    let bytes = 2 * gate.bytes() + (h + i) as u64 * elem;
    // The two rotations have as many copies, so a launch takes a gate and an up copy together.
    let swiglu = || {
        gate.next()
            .swiglu_with(up.next(), &x, None)
            .expect("packed alike with one row: the fused kernel applies")
    };
    let row = ("qmatvec_swiglu", shape.clone(), apart);
    out.extend(figure(row, bytes, &swiglu, timing).await?);
    if fuse {
        let launch = || {
            let (gate, up) = (gate.next(), up.next());
            gate.swiglu_with(up, &x, Some((&w, eps))).expect(fusable)
        };
        let row = ("qmatvec_swiglu + norm", shape, fused);
        out.extend(figure(row, bytes + h as u64 * elem, &launch, timing).await?);
    }
    drop((gate, up));
    let xi = Tensor::<2>::ones([1, i], device).cast(dtype);
    let shape = format!("[1, {i}] × [{h}, {i}]ᵀ {}", format.name());
    let bytes = down.bytes() + (h + i) as u64 * elem;
    let launch = || down.next().matvec(xi.clone());
    let row = ("qmatvec", shape.clone(), apart);
    out.extend(figure(row, bytes, &launch, timing).await?);
    if fuse {
        let launch = || {
            let down = down.next();
            down.matvec_fused(xi.clone(), residual()).expect(fusable)
        };
        let row = ("qmatvec + residual", shape, fused);
        out.extend(figure(row, bytes + h as u64 * elem, &launch, timing).await?);
    }
    drop(down);
    let head = Rotation::new(format, (v, h), hot, device);
    let shape = format!("[1, {h}] × [{v}, {h}]ᵀ {}", format.name());
    let bytes = head.bytes() + (h + v) as u64 * elem;
    let launch = || head.next().matvec(x.clone());
    out.extend(figure(("qmatvec", shape, 1), bytes, &launch, timing).await?);
    drop(head);
    // A step's two ends: the token embedding's row (a lookup table, uploaded with f32 scales as
    // the store does) and the text choice over the vocabulary's logits (greedy: one sweep).
    let table = QuantMatrix::upload_owned(packed(format, v, h), device, false);
    let ids = i32_tensor::<1>(device, [1], &[7]);
    let launch = || table.select(ids.clone());
    let shape = format!("1 row of [{v}, {h}] {}", format.name());
    let bytes = format.bytes(1, h) + 4 * h as u64;
    out.extend(figure(("qembed", shape, 1), bytes, &launch, timing).await?);
    drop(table);
    // Logits spread over [-5, 5) (a pattern, not a distribution: the searches' sweeps do not
    // depend on the values, only the draw's kept set does).
    let spread = |rows: usize, k: usize| {
        let values: Vec<f32> = (0..rows * k)
            .map(|i| (i as u64 * 2_654_435_761 % 1000) as f32 / 100.0 - 5.0)
            .collect();
        Tensor::<2>::from_data(TensorData::new(values, [rows, k]), device).cast(dtype)
    };
    let chosen = i32_tensor::<2>(device, [2, 1], &[0; 2]);
    let history = i32_tensor::<2>(device, [2, 1], &[0; 2]);
    let step_state = i32_tensor(device, [4], &[0; 4]);
    let target = SampleTarget {
        out: &chosen,
        history: &history,
        state: &step_state,
        allowed: None,
    };
    let image_vocab = janus.gen_head.codebook_size;
    // (rows, K, settings, what they are, launches per text token): a text step's choice greedy
    // (the benchmark's decode) and with the chat page's defaults, and an image step's guided one
    // (the imagine page's defaults; none per text token).
    let choices = [
        (1, v, (None, 0.0, 1.0), "greedy", 1),
        (
            1,
            v,
            (None, 0.7, 0.95),
            "T 0.7, top-p 0.95 (the chat's defaults)",
            0,
        ),
        (
            2,
            image_vocab,
            (Some(5.0), 1.0, 1.0),
            "CFG pair, T 1 (an image step)",
            0,
        ),
    ];
    for (rows, k, (cfg_weight, temperature, top_p), what, per_token) in choices {
        let logits = spread(rows, k);
        let how = SampleStep {
            cfg_weight,
            temperature,
            top_k: 0,
            top_p,
            seed: 0,
        };
        // Returns the logits: reading them back waits for the choice queued before.
        let launch = || {
            sample_into(logits.clone(), &how, target);
            logits.clone()
        };
        let shape = format!("[{rows}, {k}], {what}");
        let bytes = (rows * k) as u64 * elem;
        out.extend(figure(("sample", shape, per_token), bytes, &launch, timing).await?);
    }

    let q = Tensor::<3>::ones([1, heads, d], device).cast(dtype);
    let scale = 1.0 / (d as f32).sqrt();
    let shape = format!("{heads} heads × {context} positions × {d}");
    let bytes = (2 * kv_heads * context * d + 2 * heads * d) as u64 * elem;
    let launch = || attention_decode(q.clone(), &k, &vv, &state, scale);
    out.extend(figure(("attn_decode", shape, layers), bytes, &launch, timing).await?);
    // The rotation and cache write before it, from the joint product's output.
    let qkv_out = Tensor::<2>::ones([1, qkv_rows], device).cast(dtype);
    let launch = || rope_kv(qkv_out.clone(), (heads, kv_heads, d), (&k, &vv), &state);
    let shape = format!("{heads} heads + 2 × {kv_heads} × {d}");
    // The joint output read, the queries and the new key and value written; a cos and a sin row.
    let bytes = (2 * (heads + 2 * kv_heads) * d) as u64 * elem + 2 * d as u64 * 4;
    out.extend(figure(("rope_kv", shape, rope_apart), bytes, &launch, timing).await?);

    // The first layer's input norm (fused: the final norm); every later norm follows a
    // residual connection (fused: inside the products).
    let launch = || rms_norm(x.clone(), &w, eps);
    let (shape, bytes) = (format!("[1, {h}]"), 3 * h as u64 * elem);
    out.extend(figure(("rms_norm", shape, 1), bytes, &launch, timing).await?);
    // After each layer's attention and after its MLP.
    let a = Tensor::<2>::ones([1, h], device).cast(dtype);
    let launch = || add_rms_norm(x.clone(), a.clone(), &w, eps).1;
    let (shape, bytes) = (format!("[1, {h}] + [1, {h}]"), 5 * h as u64 * elem);
    let per_token = 2 * apart;
    let row = ("add_rms_norm", shape, per_token);
    out.extend(figure(row, bytes, &launch, timing).await?);
    // The floor: an elementwise kernel over 64 values, one workgroup, one load of each input.
    let (g, u) = (
        Tensor::<2>::ones([1, 64], device).cast(dtype),
        Tensor::<2>::ones([1, 64], device).cast(dtype),
    );
    let launch = || crate::kernels::swiglu::swiglu(g.clone(), u.clone());
    let bytes = 3 * 64 * elem;
    let shape = "[1, 64] (the floor: one workgroup, one load)".to_string();
    out.extend(figure(("swiglu", shape, 0), bytes, &launch, timing).await?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small products rotate through as many copies as a replay launches, `lm_head` through two,
    /// `hot` through one; each launch takes the next copy, and the copies are distinct matrices.
    #[test]
    fn products_rotate_through_copies_no_cache_holds() {
        let device = Device::flex();
        let q4 = QuantFormat::Q4;
        let count = |shape, hot| Rotation::new(q4, shape, hot, &device).count;
        assert_eq!(count((2048, 2048), false), REPLAY_LAUNCHES);
        assert_eq!(count((102_400, 2048), false), 2);
        // 192 MiB over 7,077,888 bytes (codes and f16 scales) is 28.4.
        assert_eq!(count((6144, 2048), false), 29);
        assert_eq!(count((6144, 2048), true), 1);
        // Made lazily: none before the first launch.
        let small = Rotation::new(q4, (4, 64), false, &device);
        assert!(small.copies.get().is_none());
        let first: *const QuantMatrix = small.next();
        let seen: Vec<*const QuantMatrix> =
            (1..REPLAY_LAUNCHES).map(|_| small.next() as _).collect();
        assert!(
            !seen.contains(&first),
            "a copy came round before the others"
        );
        assert!(
            std::ptr::eq(small.next(), first),
            "the rotation does not cycle"
        );
        assert_eq!(small.bytes(), q4.bytes(4, 64));
    }
}
