// A decode step's rotary embedding and KV-cache write in one launch, at the position the device
// holds (`state[0]`), so the same launch serves every step of a captured graph
// (kernels/graph.rs). It reads the output of the joint q/k/v product (one row per batch row:
// the queries, then the keys, then the values) and writes the queries rotated into their own
// [B, heads, D] tensor, the new key rotated and the value into [B, kv_heads, capacity, D] at
// that position. Rotation is transformers' rotate_half form with the position's cos and sin rows
// computed on the host in f64 (model/rope.rs; GPU cos/sin of large angles are not precise
// enough) and carried by the decode state, products in the working type as the reference's
// x * cos + rotated * sin.
// Decode on GPUs runs this inside the q/k/v product instead (qmatvec_rope.wgsl); this kernel
// serves the other layouts.
// One invocation per pair (j, j + D/2) of a head. Replaces three launches per layer (the
// queries' rotation, the key's rotation and the cache writes), and lets q, k and v come from one
// product instead of three.
// Template values (kernels/rope_kv.rs): elem, enable_f16, wg. Tensor bindings read_write (see
// qmatvec_flat.wgsl).
{{ enable_f16 }}

// [B, (heads + 2 kv_heads) * D]: each batch row's queries, keys, then values.
@group(0) @binding(0) var<storage, read_write> qkv: array<{{ elem }}>;
// [B, heads, D] the rotated queries.
@group(0) @binding(1) var<storage, read_write> q: array<{{ elem }}>;
// [B, kv_heads, capacity, D] caches, written at the position.
@group(0) @binding(2) var<storage, read_write> k_cache: array<{{ elem }}>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<{{ elem }}>;
// The decode state (i32, model/cursor.rs): position, sampler step, two unused, then the
// position's cos row and sin row ([2, D], f32 bits).
@group(0) @binding(4) var<storage, read_write> state: array<i32>;
// query pairs (B * heads * D/2), key pairs (B * kv_heads * D/2), D, capacity, heads, kv_heads.
@group(0) @binding(5) var<storage, read> params: array<u32>;

fn rotate(x: {{ elem }}, partner: {{ elem }}, c: f32, s: f32) -> {{ elem }} {
    return x * {{ elem }}(c) + partner * {{ elem }}(s);
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let d = params[2];
    let capacity = params[3];
    let heads = params[4];
    let kv_heads = params[5];
    let half = d / 2u;
    let stride = (heads + 2u * kv_heads) * d;
    let pos = u32(state[0]);
    // Pair i: dimensions j and j + half of a head row.
    let j = i % half;
    let row = i / half;
    let c_lo = bitcast<f32>(state[4u + j]);
    let c_hi = bitcast<f32>(state[4u + j + half]);
    let s_lo = bitcast<f32>(state[4u + d + j]);
    let s_hi = bitcast<f32>(state[4u + d + j + half]);
    if (i < params[0]) {
        // Query head row = b * heads + h.
        let src = (row / heads) * stride + (row % heads) * d + j;
        let x_lo = qkv[src];
        let x_hi = qkv[src + half];
        // rotate_half(x) pairs x_lo with -x_hi and x_hi with x_lo.
        let a = row * d + j;
        q[a] = rotate(x_lo, -x_hi, c_lo, s_lo);
        q[a + half] = rotate(x_hi, x_lo, c_hi, s_hi);
    }
    if (i < params[1]) {
        // Key/value head row = b * kv_heads + h.
        let k = (row / kv_heads) * stride + (heads + row % kv_heads) * d + j;
        let v = k + kv_heads * d;
        let dst = (row * capacity + pos) * d + j;
        let x_lo = qkv[k];
        let x_hi = qkv[k + half];
        k_cache[dst] = rotate(x_lo, -x_hi, c_lo, s_lo);
        k_cache[dst + half] = rotate(x_hi, x_lo, c_hi, s_hi);
        v_cache[dst] = qkv[v];
        v_cache[dst + half] = qkv[v + half];
    }
}
