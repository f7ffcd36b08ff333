// Rotary position embedding, transformers' rotate_half form, on [B, T, H, D] (heads not yet
// moved in front of positions): y = x * cos + rotate_half(x) * sin with rotate_half(x) =
// cat(-x2, x1). The cos/sin tables [T, D] come from the host (computed in f64 like the
// reference; GPU cos/sin of large angles are not precise enough). One invocation per output
// value; replaces seven generic kernels. Template values (kernels/rope.rs): elem, enable_f16, wg.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> x: array<{{ elem }}>;
@group(0) @binding(1) var<storage, read_write> cos_t: array<f32>;
@group(0) @binding(2) var<storage, read_write> sin_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// total values, T, H, D, workgroups per grid row.
@group(0) @binding(4) var<storage, read> params: array<u32>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * params[4] + wid.x) * {{ wg }}u + lid;
    if (i >= params[0]) {
        return;
    }
    let t_len = params[1];
    let heads = params[2];
    let d = params[3];
    let half = d / 2u;
    let j = i % d;
    let t = (i / (d * heads)) % t_len;
    // The partner of j in rotate_half: -x[j + half] for the first half, x[j - half] after.
    let partner = select(f32(x[i - half]), -f32(x[i + half]), j < half);
    // Products in the working type, as the reference's x * cos + rotated * sin.
    let c = {{ elem }}(cos_t[t * d + j]);
    let s = {{ elem }}(sin_t[t * d + j]);
    y[i] = x[i] * c + {{ elem }}(partner) * s;
}
