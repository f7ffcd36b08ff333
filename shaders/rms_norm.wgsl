// LLaMA's RMSNorm over the last dimension: y = elem(x / sqrt(mean(x^2) + eps)) * w, statistics
// in f32, the normalised value cast to the working type before the weight multiply (as
// transformers does). One workgroup per row; replaces eight generic kernels.
// Template values (kernels/rms_norm.rs): elem, enable_f16, wg.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> x: array<{{ elem }}>;
@group(0) @binding(1) var<storage, read_write> w: array<{{ elem }}>;
@group(0) @binding(2) var<storage, read_write> y: array<{{ elem }}>;
// dim, rows per grid row, rows, then eps as f32 bits.
@group(0) @binding(3) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let dim = params[0];
    let row = wid.y * params[1] + wid.x;
    let eps = bitcast<f32>(params[3]);
    // Workgroups past the last row (a 2-D grid's remainder) compute nothing but still reach the
    // barriers.
    let n = select(0u, dim, row < params[2]);
    let base = row * dim;
    var sum = 0.0;
    for (var i = lid; i < n; i += WG) {
        let v = f32(x[base + i]);
        sum += v * v;
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let r = 1.0 / sqrt(partial[0] / f32(dim) + eps);
    for (var i = lid; i < n; i += WG) {
        y[base + i] = {{ elem }}(f32(x[base + i]) * r) * w[i];
    }
}
