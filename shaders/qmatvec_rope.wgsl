// The rotary embedding and KV-cache write of decode's joint q/k/v product
// (`shaders/qmatvec_flat.wgsl` with ROPE), appended to that kernel by kernels/qmatvec.rs: the
// work of rope_kv.wgsl, done where the product's rows are summed rather than in a launch of its
// own. Uses the kernel's `y` ([B, heads, D], the rotated queries), `param` (heads, kv_heads, D
// and the caches' capacity, parameters 5 to 8) and `elem`.

// [B, kv_heads, capacity, D] caches, written at the state's position.
@group(0) @binding({{ k_cache_binding }}) var<storage, read_write> k_cache: array<{{ elem }}>;
@group(0) @binding({{ v_cache_binding }}) var<storage, read_write> v_cache: array<{{ elem }}>;
// The decode state (i32, model/cursor.rs): position, token index, two unused, then the
// position's cos row and sin row ([2, D], f32 bits).
@group(0) @binding({{ state_binding }}) var<storage, read_write> state: array<i32>;

// Row `row` of the joint product (its sum `value`, its rotation partner's `partner`, both
// normed) of batch row b: a query dimension rotated into y, a key dimension rotated into the
// key cache, a value dimension into the value cache as it is. Rotation as rope_kv.wgsl
// (transformers' rotate_half): dimension w < D/2 takes -x[w + D/2] as its partner, w >= D/2
// takes x[w - D/2]; here in f32, rounded once.
fn rope_write(b: u32, row: u32, value: f32, partner: f32) {
    let heads = param(5u);
    let kv_heads = param(6u);
    let d = param(7u);
    let capacity = param(8u);
    let head = row / d;
    let w = row % d;
    let pos = u32(state[0]);
    let c = bitcast<f32>(state[4u + w]);
    let s = bitcast<f32>(state[4u + d + w]);
    let rotated = value * c + select(partner, -partner, w < d / 2u) * s;
    if (head < heads) {
        y[(b * heads + head) * d + w] = {{ elem }}(rotated);
    } else if (head < heads + kv_heads) {
        k_cache[((b * kv_heads + head - heads) * capacity + pos) * d + w] = {{ elem }}(rotated);
    } else {
        let h = head - heads - kv_heads;
        v_cache[((b * kv_heads + h) * capacity + pos) * d + w] = {{ elem }}(value);
    }
}
