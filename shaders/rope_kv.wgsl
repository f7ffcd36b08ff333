// A decode step's rotary embedding and KV-cache write in one launch, at the position the device
// holds (`state[0]`), so the same launch serves every step of a captured graph
// (kernels/graph.rs): the queries rotated in place, the new key rotated and the value copied
// into [B, kv_heads, capacity, D] at that position. Rotation is transformers' rotate_half form
// with tables computed on the host in f64 (model/rope.rs; GPU cos/sin of large angles are not
// precise enough), products in the working type as the reference's x * cos + rotated * sin.
// One invocation per pair (j, j + D/2) of a head, so a rotation in place never reads a value
// another invocation already wrote. Replaces three launches per layer (the queries' rotation,
// the key's rotation and the cache writes).
// Template values (kernels/rope_kv.rs): elem, enable_f16, wg. Tensor bindings read_write (see
// qmatvec.wgsl); eight storage bindings, WebGPU's default limit per stage.
{{ enable_f16 }}

// [B, heads, D] queries, rotated in place.
@group(0) @binding(0) var<storage, read_write> q: array<{{ elem }}>;
// [B, kv_heads, D] the new key (not yet rotated) and value.
@group(0) @binding(1) var<storage, read_write> k_new: array<{{ elem }}>;
@group(0) @binding(2) var<storage, read_write> v_new: array<{{ elem }}>;
// [capacity, 2, D] f32: each position's cos row, then its sin row.
@group(0) @binding(3) var<storage, read_write> tables: array<f32>;
// [B, kv_heads, capacity, D] caches, written at the position.
@group(0) @binding(4) var<storage, read_write> k_cache: array<{{ elem }}>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<{{ elem }}>;
// The decode state (i32): position, sampler step (model/cursor.rs).
@group(0) @binding(6) var<storage, read_write> state: array<i32>;
// query pairs (B * heads * D/2), key pairs (B * kv_heads * D/2), D, capacity.
@group(0) @binding(7) var<storage, read> params: array<u32>;

fn rotate(x: {{ elem }}, partner: {{ elem }}, c: f32, s: f32) -> {{ elem }} {
    return x * {{ elem }}(c) + partner * {{ elem }}(s);
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let d = params[2];
    let capacity = params[3];
    let half = d / 2u;
    let pos = u32(state[0]);
    // Pair i: head row i / half, dimensions j and j + half.
    let j = i % half;
    let row = i / half;
    let t = pos * 2u * d;
    let c_lo = tables[t + j];
    let c_hi = tables[t + j + half];
    let s_lo = tables[t + d + j];
    let s_hi = tables[t + d + j + half];
    let a = row * d + j;
    if (i < params[0]) {
        let x_lo = q[a];
        let x_hi = q[a + half];
        // rotate_half(x) pairs x_lo with -x_hi and x_hi with x_lo.
        q[a] = rotate(x_lo, -x_hi, c_lo, s_lo);
        q[a + half] = rotate(x_hi, x_lo, c_hi, s_hi);
    }
    if (i < params[1]) {
        let dst = (row * capacity + pos) * d + j;
        let x_lo = k_new[a];
        let x_hi = k_new[a + half];
        k_cache[dst] = rotate(x_lo, -x_hi, c_lo, s_lo);
        k_cache[dst + half] = rotate(x_hi, x_lo, c_hi, s_hi);
        v_cache[dst] = v_new[a];
        v_cache[dst + half] = v_new[a + half];
    }
}
