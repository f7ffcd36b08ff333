// Attention of one new position over the KV cache (decode), split over the cache's positions
// ("flash-decoding"): workgroup (c, b * heads + h) takes chunk c, positions [c * CHUNK,
// (c + 1) * CHUNK) below `len`, of sequence b's head h, and writes that chunk's share:
//   m_c = max_s score_s, l_c = sum_s exp(score_s - m_c), o_c = sum_s exp(score_s - m_c) V[s],
// score_s = q . K[s] * scale, all f32. shaders/attn_merge.wgsl then combines the chunks
// (softmax over the whole prefix = sum_c e^(m_c - M) o_c / sum_c e^(m_c - M) l_c, M = max m_c).
// One workgroup per head would walk every position serially (a long context is then as slow as
// it is long, and 16 heads fill 16 of a GPU's ~100 compute units); chunks spread the positions
// over the whole GPU. Grouped-query heads share their KV head (h / (heads / kv_heads)). No mask:
// the new position sees every cached one.
// The workgroup is CHUNK * LANES invocations; LANES of them share each position and each
// output dimension, so the serial walks are LANES times shorter (on a GPU each step of a walk
// waits for a load; on a CPU adapter LANES = 1 and the walks are its loops):
//   1. invocations j * LANES .. j * LANES + LANES - 1 score position c * CHUNK + j, each over
//      every LANES-th vector of the rows (adjacent invocations read adjacent vectors of one
//      cached row), and sum their parts through workgroup memory;
//   2. the workgroup reduces the chunk's maximum, exponentiates, reduces the sum;
//   3. invocation (g, t) = (lid / CHUNK, lid % CHUNK) accumulates p_s * V[s, d] over output
//      dimension d = t (+ CHUNK per round) and the positions s = g, g + LANES, ... of the
//      chunk (consecutive invocations read consecutive dimensions of one cached row); the
//      LANES groups' sums meet in workgroup memory.
// Vectors: every row is read as vectors of VEC = 4 elements when D is a multiple of 4 (a CPU
// adapter then issues a quarter of the loads; dimensions below count vectors), else of 1.
// Template values (kernels/attention.rs): elem, enable_f16, wg (CHUNK * LANES), chunk, lanes,
// scratch (WG where LANES > 1, else 1), attn_lanes (shaders/attn_lanes.wgsl), vtype, vftype,
// vdot.
{{ enable_f16 }}

// An element vector and its f32 form (vec4 or scalar), and their product summed.
alias V = {{ vtype }};
alias VF = {{ vftype }};
fn vdot(a: VF, b: VF) -> f32 {
    return {{ vdot }};
}

// [B, heads, D] queries (rotated).
@group(0) @binding(0) var<storage, read_write> q: array<V>;
// [B, kv_heads, capacity, D] caches, positions 0..len filled.
@group(0) @binding(1) var<storage, read_write> k: array<V>;
@group(0) @binding(2) var<storage, read_write> v: array<V>;
// [B * heads, chunks, D] unnormalised partial outputs o_c.
@group(0) @binding(3) var<storage, read_write> part: array<VF>;
// [B * heads, chunks, 2]: m_c, l_c.
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
// The decode state (i32, model/cursor.rs): the position just written, so `len` = position + 1
// comes from the device and one launch serves every step of a captured graph.
@group(0) @binding(5) var<storage, read_write> state: array<i32>;
// heads, kv_heads, D / VEC, capacity, chunks (the grid's x size), then scale as f32 bits.
@group(0) @binding(6) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const CHUNK: u32 = {{ chunk }}u;
const LANES: u32 = {{ lanes }}u;
var<workgroup> partial: array<f32, WG>;
// exp(score - m_c) of the chunk's positions.
var<workgroup> p: array<f32, CHUNK>;
// The LANES groups' sums of one round of output dimensions (step 3; sized 1 where LANES = 1
// and nothing uses it: CPU adapters zero every workgroup array at each workgroup's start).
var<workgroup> sums: array<VF, {{ scratch }}>;
var<workgroup> shared_len: u32;

{{ attn_lanes }}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let heads = params[0];
    let kv_heads = params[1];
    let d = params[2];
    let capacity = params[3];
    let chunks = params[4];
    let scale = bitcast<f32>(params[5]);
    if (lid == 0u) {
        shared_len = min(u32(state[0]) + 1u, capacity);
    }
    // Uniform across the workgroup, so a chunk past the prefix leaves before any barrier.
    let len = workgroupUniformLoad(&shared_len);
    let c = wid.x;
    let start = c * CHUNK;
    if (start >= len) {
        return;
    }
    let n = min(len - start, CHUNK);
    let bh = wid.y;
    let b = bh / heads;
    let h = bh % heads;
    let kvh = h / (heads / kv_heads);
    let qb = bh * d;
    let kv_base = ((b * kv_heads + kvh) * capacity + start) * d;

    // 1. Position j's score, its LANES parts summed.
    let j = lid / LANES;
    let sub = lid % LANES;
    var dot = 0.0;
    if (j < n) {
        let kb = kv_base + j * d;
        for (var i = sub; i < d; i += LANES) {
            dot += vdot(VF(q[qb + i]), VF(k[kb + i]));
        }
    }
    if (LANES > 1u) {
        partial[lid] = dot;
        workgroupBarrier();
        dot = 0.0;
        for (var r = 0u; r < LANES; r++) {
            dot += partial[j * LANES + r];
        }
        workgroupBarrier();
    }
    var score = -3.4e38;
    if (j < n) {
        score = dot * scale;
    }
    // 2. Every lane of a position holds its score: the maximum is the positions', and only the
    // first lane adds its exponential to the sum.
    let m = reduce(lid, score, true);
    var e = 0.0;
    if (j < n) {
        e = exp(score - m);
    }
    if (sub == 0u) {
        p[j] = e;
    }
    let l = reduce(lid, select(0.0, e, sub == 0u), false);
    // `reduce` ended on a barrier, so every p is visible here.
    // 3. The weighted values, CHUNK output dimensions per round.
    let out = (bh * chunks + c) * d;
    let g = lid / CHUNK;
    let t = lid % CHUNK;
    for (var base = 0u; base < d; base += CHUNK) {
        let i = base + t;
        var acc = VF(0.0);
        if (i < d) {
            for (var s = g; s < n; s += LANES) {
                acc += p[s] * VF(v[kv_base + s * d + i]);
            }
        }
        let total = meet(lid, acc);
        if (g == 0u && i < d) {
            part[out + i] = total;
        }
    }
    if (lid == 0u) {
        stats[(bh * chunks + c) * 2u] = m;
        stats[(bh * chunks + c) * 2u + 1u] = l;
    }
}
