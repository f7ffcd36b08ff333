//! `shaders/attn_chunk.wgsl` + `attn_merge.wgsl`: one new position's attention over the KV
//! cache, split over the cache's positions (flash-decoding). Reference: the generic path of
//! `model::llama::Attention` (two matmuls and a softmax, about twenty launches).
//!
//! Chunks of [`chunk`] positions go to workgroups of their own and a second launch combines them
//! per head, so the work spreads over the whole adapter whatever the context. The kernel before
//! this one gave each head one workgroup, which walked every cached position serially: 16 heads
//! filled 16 of a GPU's ~100 compute units, and a step slowed with the context's length.
//! Within a chunk, [`lanes`] invocations share each position and each output dimension, so the
//! walks over a row's dimensions and over the chunk's positions, where a GPU waits for every
//! load in turn, are that many times shorter; the merge's walk over the chunks likewise.

use std::cell::Cell;

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Int, Tensor};

use super::launch::{TemplateSource, empty_like, float_handle, info, int_handle};

const WGSL_CHUNK: &str = include_str!("../../../../shaders/attn_chunk.wgsl");
const WGSL_MERGE: &str = include_str!("../../../../shaders/attn_merge.wgsl");
/// The workgroup steps both share (`reduce`, `meet`), pasted at `{{ attn_lanes }}`.
const WGSL_LANES: &str = include_str!("../../../../shaders/attn_lanes.wgsl");

thread_local! {
    /// Positions per chunk: both shaders' workgroups are `chunk * lanes` invocations (`lanes`
    /// per position while scoring). Per thread, like `qmatvec`'s layout.
    static CHUNK: Cell<u32> = const { Cell::new(64) };
    /// Invocations per position (and per output dimension) within a chunk.
    static LANES: Cell<u32> = const { Cell::new(1) };
}

/// The chunk suited to an adapter (BENCHMARKS.md, "NVIDIA H200 ..., 2026-11-27" and "Decode
/// attention split over the cache's positions"): on an H200, 32 positions ran 16 % faster than
/// 64 at 256 positions and 27 % at 640 (more workgroups over 16 heads); on lavapipe 64 and 128
/// ran alike and 32 was 12 % slower at 128 positions.
pub fn chunk_for_adapter(cpu_adapter: bool) -> u32 {
    if cpu_adapter { 64 } else { 32 }
}

/// Invocations per position suited to an adapter: one on a CPU adapter, where the walks are
/// loops that cost the same however they are split and every barrier is a real cost; 8 on a
/// GPU, where a walk of D / 4 = 32 dependent loads (Janus' heads) becomes 4 (not yet timed on
/// a GPU: `scripts/bench-device.sh`'s `attention` part compares the choices).
pub fn lanes_for_adapter(cpu_adapter: bool) -> u32 {
    if cpu_adapter { 1 } else { 8 }
}

/// Set the positions per chunk of later launches from this thread: 16, 32, 64 or 128 (anything
/// else is 64); by adapter ([`chunk_for_adapter`]), or `JANUS_ATTN_CHUNK` for measurements.
pub fn set_chunk(chunk: u32) {
    CHUNK.with(|c| {
        c.set(if matches!(chunk, 16 | 32 | 128) {
            chunk
        } else {
            64
        })
    });
}

/// Positions per chunk of this thread's launches.
pub fn chunk() -> u32 {
    CHUNK.with(Cell::get)
}

/// Set the invocations per position of later launches from this thread: 1, 2, 4 or 8 (anything
/// else is 1); by adapter ([`lanes_for_adapter`]), or `JANUS_ATTN_CHUNK=CHUNK:LANES` for
/// measurements. A launch takes at most 256 invocations per workgroup (WebGPU's default
/// limit), so fewer lanes where `chunk * lanes` would pass it.
pub fn set_lanes(lanes: u32) {
    LANES.with(|l| l.set(if matches!(lanes, 2 | 4 | 8) { lanes } else { 1 }));
}

/// Invocations per position of this thread's launches, as set ([`set_lanes`]).
pub fn lanes() -> u32 {
    LANES.with(Cell::get)
}

/// `CHUNK` or `CHUNK:LANES` (`JANUS_ATTN_CHUNK`): the positions per chunk and, where given, the
/// invocations per position. None where either is not a number.
pub fn parse(text: &str) -> Option<(u32, Option<u32>)> {
    let mut parts = text.split(':');
    let chunk = parts.next()?.trim().parse().ok()?;
    let lanes = match parts.next() {
        Some(l) => Some(l.trim().parse().ok()?),
        None => None,
    };
    parts.next().is_none().then_some((chunk, lanes))
}

/// `q: [B, heads, D]` against the first `state[0] + 1` positions (the one just written and all
/// before it) of `k, v: [B, kv_heads, capacity, D]` (same dtype) -> `[B, heads, D]`.
pub fn attention_decode(
    q: Tensor<3>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    state: &Tensor<1, Int>,
    scale: f32,
) -> Tensor<3> {
    let [b, heads, d] = q.dims();
    let [_, kv_heads, capacity, _] = k.dims();
    let q = float_handle(q);
    let (k, v) = (float_handle(k.clone()), float_handle(v.clone()));
    let state = int_handle(state);
    let out = empty_like(&q, vec![b, heads, d], q.dtype);
    let client = q.client.clone();
    let chunk = chunk();
    // The workgroup (chunk * lanes invocations) within WebGPU's default 256.
    let lanes = lanes().min(256 / chunk);
    // The lanes' workgroup arrays: one element where there are no lanes to meet.
    let scratch = if lanes > 1 { chunk * lanes } else { 1 };
    // Sized for the whole cache, since the length is on the device: the chunks past it leave
    // at once, and the merge reads only the ones below it.
    let chunks = capacity.div_ceil(chunk as usize);
    // [B * heads, chunks, D] partial outputs and [B * heads, chunks, 2] (max, sum), f32.
    let part = client.empty(b * heads * chunks * d * 4);
    let stats = client.empty(b * heads * chunks * 2 * 4);
    // Rows as vec4 where D allows (a CPU adapter then issues a quarter of the loads).
    let vec = if d.is_multiple_of(4) { 4 } else { 1 };
    vectors(
        TemplateSource::new(WGSL_CHUNK, q.dtype, chunk * lanes),
        q.dtype,
        vec,
    )
    .with("chunk", chunk)
    .with("lanes", lanes)
    .with("scratch", scratch)
    .with_text("attn_lanes", WGSL_LANES)
    .launch(
        &client,
        CubeCount::Static(chunks as u32, (b * heads) as u32, 1),
        KernelArguments::new()
            .with_buffer_io(q.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(k.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(v.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(part.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(stats.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(state.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_info(info(&[
                heads as u32,
                kv_heads as u32,
                (d / vec) as u32,
                capacity as u32,
                chunks as u32,
                scale.to_bits(),
            ])),
    );
    vectors(
        TemplateSource::new(WGSL_MERGE, q.dtype, chunk * lanes),
        q.dtype,
        vec,
    )
    .with("chunk", chunk)
    .with("lanes", lanes)
    .with("scratch", scratch)
    .with_text("attn_lanes", WGSL_LANES)
    .launch(
        &client,
        CubeCount::Static((b * heads) as u32, 1, 1),
        KernelArguments::new()
            .with_buffer_io(part.binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(stats.binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(state.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_info(info(&[(d / vec) as u32, capacity as u32, chunks as u32])),
    );
    Tensor::<3>::from_primitive::<Cube>(out)
}

/// The shaders' row vectors: `vec` (4 or 1) elements of `elem`, their f32 form, their dot.
fn vectors(source: TemplateSource, elem: DType, vec: usize) -> TemplateSource {
    let f16 = elem == DType::F16;
    let (vtype, vftype, vdot) = match (vec == 4, f16) {
        (true, true) => ("vec4<f16>", "vec4<f32>", "dot(a, b)"),
        (true, false) => ("vec4<f32>", "vec4<f32>", "dot(a, b)"),
        (false, true) => ("f16", "f32", "a * b"),
        (false, false) => ("f32", "f32", "a * b"),
    };
    source
        .with_text("vtype", vtype)
        .with_text("vftype", vftype)
        .with_text("vdot", vdot)
}
