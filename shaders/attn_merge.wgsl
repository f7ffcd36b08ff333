// The second half of decode attention (shaders/attn_chunk.wgsl writes the first): workgroup bh
// combines the chunks of sequence b's head h into out = sum_c e^(m_c - M) o_c / sum_c
// e^(m_c - M) l_c with M = max_c m_c, over the chunks that hold positions below `len`.
// Every invocation computes M and the denominator itself (a few dozen chunks: cheaper than a
// reduction's barriers), then owns output dimensions.
// Rows are vectors of VEC elements as in attn_chunk.wgsl (dimensions count vectors).
// Template values (kernels/attention.rs): elem, enable_f16, wg, chunk (positions per chunk),
// vtype, vftype.
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

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params[0];
    let capacity = params[1];
    let chunks = params[2];
    let len = min(u32(state[0]) + 1u, capacity);
    let used = (len + CHUNK - 1u) / CHUNK;
    let bh = wid.x;
    let sb = bh * chunks;
    var m = -3.4e38;
    for (var c = 0u; c < used; c++) {
        m = max(m, stats[(sb + c) * 2u]);
    }
    var l = 0.0;
    for (var c = 0u; c < used; c++) {
        l += exp(stats[(sb + c) * 2u] - m) * stats[(sb + c) * 2u + 1u];
    }
    let inv = 1.0 / l;
    for (var i = lid; i < d; i += WG) {
        var acc = VF(0.0);
        for (var c = 0u; c < used; c++) {
            acc += exp(stats[(sb + c) * 2u] - m) * part[(sb + c) * d + i];
        }
        out[bh * d + i] = V(acc * inv);
    }
}
