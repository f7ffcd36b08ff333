// A decode step's keys and values into the preallocated KV cache, in place: the new key rotated
// (rotary embedding, rotate_half form, host f64 tables) and the value copied, both at position
// `pos` of [B, kv_heads, capacity, D]. Replaces three launches per layer (the key's rotation
// and two slice assignments). One invocation per (b, kv_head, d).
// Template values (kernels/kv_write.rs): elem, enable_f16, wg. All bindings read_write.
{{ enable_f16 }}

// [B, kv_heads, D] new key (not yet rotated) and value.
@group(0) @binding(0) var<storage, read_write> k_new: array<{{ elem }}>;
@group(0) @binding(1) var<storage, read_write> v_new: array<{{ elem }}>;
// [D] rotation tables of position pos.
@group(0) @binding(2) var<storage, read_write> cos_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> sin_t: array<f32>;
// [B, kv_heads, capacity, D] caches, written at pos.
@group(0) @binding(4) var<storage, read_write> k_cache: array<{{ elem }}>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<{{ elem }}>;
// values (B * kv_heads * D), D, capacity, pos.
@group(0) @binding(6) var<storage, read_write> params: array<u32>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params[0]) {
        return;
    }
    let d = params[1];
    let capacity = params[2];
    let pos = params[3];
    let half = d / 2u;
    let j = i % d;
    let row = i / d;
    let dst = (row * capacity + pos) * d + j;
    let partner = select(f32(k_new[i - half]), -f32(k_new[i + half]), j < half);
    k_cache[dst] = k_new[i] * {{ elem }}(cos_t[j]) + {{ elem }}(partner) * {{ elem }}(sin_t[j]);
    v_cache[dst] = v_new[i];
}
