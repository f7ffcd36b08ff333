// Attention of one new position over the KV cache (decode): for each sequence b and head h,
// out = softmax(q . K[0..len]^T * scale) V[0..len], scores and softmax in f32. Grouped-query
// heads share their KV head (h / (heads / kv_heads)). One workgroup per (b, h):
//   1. each invocation scores its positions (a strided share), keeping its maximum;
//   2. the workgroup reduces the maximum, each invocation exponentiates its scores and sums;
//   3. invocations own output dimensions and accumulate p_s * V[s, d] over all positions.
// Scores live in a scratch buffer [B * heads, capacity] (WebGPU's 16 KiB of workgroup memory would
// cap the context). No mask: the new position sees every cached one. Replaces about twenty
// generic kernels (casts, two matmuls, scaling, a five-kernel softmax, layout copies).
// Template values (kernels/attention.rs): elem, enable_f16, wg.
{{ enable_f16 }}

// [B, heads, D] queries (rotated).
@group(0) @binding(0) var<storage, read_write> q: array<{{ elem }}>;
// [B, kv_heads, capacity, D] caches, positions 0..len filled.
@group(0) @binding(1) var<storage, read_write> k: array<{{ elem }}>;
@group(0) @binding(2) var<storage, read_write> v: array<{{ elem }}>;
// [B, heads, D] output.
@group(0) @binding(3) var<storage, read_write> out: array<{{ elem }}>;
// [B * heads, capacity] scratch.
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
// The decode state (i32, model/cursor.rs): the position just written, so `len` = position + 1
// comes from the device and one launch serves every step of a captured graph.
@group(0) @binding(5) var<storage, read_write> state: array<i32>;
// heads, kv_heads, D, capacity, then scale as f32 bits.
@group(0) @binding(6) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
var<workgroup> partial: array<f32, WG>;

fn reduce_max(lid: u32, value: f32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            partial[lid] = max(partial[lid], partial[lid + s]);
        }
        workgroupBarrier();
    }
    let m = partial[0];
    workgroupBarrier();
    return m;
}

fn reduce_sum(lid: u32, value: f32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let m = partial[0];
    workgroupBarrier();
    return m;
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let heads = params[0];
    let kv_heads = params[1];
    let d = params[2];
    let capacity = params[3];
    let len = min(u32(state[0]) + 1u, capacity);
    let scale = bitcast<f32>(params[4]);
    let bh = wid.x;
    let b = bh / heads;
    let h = bh % heads;
    let kvh = h / (heads / kv_heads);
    let qb = bh * d;
    let kv_base = (b * kv_heads + kvh) * capacity * d;
    let sb = bh * capacity;

    var m = -3.4e38;
    for (var s = lid; s < len; s += WG) {
        let kb = kv_base + s * d;
        var dot = 0.0;
        for (var i = 0u; i < d; i++) {
            dot += f32(q[qb + i]) * f32(k[kb + i]);
        }
        let score = dot * scale;
        scores[sb + s] = score;
        m = max(m, score);
    }
    m = reduce_max(lid, m);
    var sum = 0.0;
    for (var s = lid; s < len; s += WG) {
        let e = exp(scores[sb + s] - m);
        scores[sb + s] = e;
        sum += e;
    }
    sum = reduce_sum(lid, sum);
    // The scratch writes above must be visible to every invocation below.
    storageBarrier();
    workgroupBarrier();
    let inv = 1.0 / sum;
    for (var i = lid; i < d; i += WG) {
        var acc = 0.0;
        for (var s = 0u; s < len; s++) {
            acc += scores[sb + s] * f32(v[kv_base + s * d + i]);
        }
        out[qb + i] = {{ elem }}(acc * inv);
    }
}
