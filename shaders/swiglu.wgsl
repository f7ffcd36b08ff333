// SwiGLU's gate: y = silu(g) * u = g / (1 + exp(-g)) * u, in f32, one invocation per value.
// Replaces the nine generic kernels burn's silu and the product take (casts, an exp chain, two
// multiplies). Template values (kernels/swiglu.rs): elem, enable_f16, wg.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> g: array<{{ elem }}>;
@group(0) @binding(1) var<storage, read_write> u: array<{{ elem }}>;
@group(0) @binding(2) var<storage, read_write> y: array<{{ elem }}>;
// values, workgroups per grid row.
@group(0) @binding(3) var<storage, read> params: array<u32>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * params[1] + wid.x) * {{ wg }}u + lid;
    if (i >= params[0]) {
        return;
    }
    let a = f32(g[i]);
    // silu in the working type first, as the reference computes silu(gate) before the product.
    let s = {{ elem }}(a / (1.0 + exp(-a)));
    y[i] = s * u[i];
}
