// The second half of decode attention (shaders/attn_chunk.wgsl writes the first): workgroup bh
// combines the chunks of sequence b's head h into out = sum_c e^(m_c - M) o_c / sum_c
// e^(m_c - M) l_c with M = max_c m_c, over the `used` chunks that hold positions below `len`.
// The workgroup is CHUNK * LANES invocations, as attn_chunk.wgsl's:
//   1. M and the denominator: each invocation takes every WG-th chunk's statistics, then the
//      workgroup reduces them (one load each up to WG chunks, not a walk over every chunk; on a
//      CPU adapter, LANES = 1, each invocation walks every chunk, as before);
//   2. invocation (g, t) = (lid / CHUNK, lid % CHUNK) sums output dimension t (+ CHUNK per
//      round) over chunks g, g + LANES, ...; the LANES groups meet in workgroup memory (on a
//      CPU adapter LANES = 1 and each invocation walks every chunk, as loops cost the same).
// Rows are vectors of VEC elements as in attn_chunk.wgsl (dimensions count vectors).
// Template values (kernels/attention.rs): elem, enable_f16, wg (CHUNK * LANES), chunk
// (positions per chunk), lanes, scratch (WG where LANES > 1, else 1), attn_lanes
// (shaders/attn_lanes.wgsl), vtype, vftype.
{{ enable_f16 }}

alias V = {{ vtype }};
alias VF = {{ vftype }};

// [B * heads, chunks, D] partial outputs and [B * heads, chunks, 2] (m_c, l_c).
@group(0) @binding(0) var<storage, read_write> part: array<VF>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
// [B, heads, D] output.
@group(0) @binding(2) var<storage, read_write> out: array<V>;
// The decode state: len = state[0] + 1 (as in attn_chunk.wgsl).
@group(0) @binding(3) var<storage, read_write> state: array<i32>;
// D / VEC, capacity, chunks.
@group(0) @binding(4) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const CHUNK: u32 = {{ chunk }}u;
const LANES: u32 = {{ lanes }}u;
// Sized 1 where LANES = 1 and nothing uses them (CPU adapters zero every workgroup array
// at each workgroup's start).
var<workgroup> partial: array<f32, {{ scratch }}>;
var<workgroup> sums: array<VF, {{ scratch }}>;
var<workgroup> shared_len: u32;

{{ attn_lanes }}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params[0];
    let capacity = params[1];
    let chunks = params[2];
    if (lid == 0u) {
        shared_len = min(u32(state[0]) + 1u, capacity);
    }
    let len = workgroupUniformLoad(&shared_len);
    let used = (len + CHUNK - 1u) / CHUNK;
    let bh = wid.x;
    let sb = bh * chunks;
    // 1. M, then the denominator: with LANES = 1 (CPU adapters) each invocation walks every
    // chunk itself, cheaper there than a reduction's barriers.
    let first = select(lid, 0u, LANES == 1u);
    let stride = select(WG, 1u, LANES == 1u);
    var m = -3.4e38;
    for (var c = first; c < used; c += stride) {
        m = max(m, stats[(sb + c) * 2u]);
    }
    if (LANES > 1u) {
        m = reduce(lid, m, true);
    }
    var l = 0.0;
    for (var c = first; c < used; c += stride) {
        l += exp(stats[(sb + c) * 2u] - m) * stats[(sb + c) * 2u + 1u];
    }
    if (LANES > 1u) {
        l = reduce(lid, l, false);
    }
    let inv = 1.0 / l;
    // 2. The output, CHUNK dimensions per round.
    let g = lid / CHUNK;
    let t = lid % CHUNK;
    for (var base = 0u; base < d; base += CHUNK) {
        let i = base + t;
        var acc = VF(0.0);
        if (i < d) {
            for (var c = g; c < used; c += LANES) {
                acc += exp(stats[(sb + c) * 2u] - m) * part[(sb + c) * d + i];
            }
        }
        let total = meet(lid, acc);
        if (g == 0u && i < d) {
            out[bh * d + i] = V(total * inv);
        }
    }
}
