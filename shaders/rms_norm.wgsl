// LLaMA's RMSNorm over the last dimension: y = elem(x / sqrt(mean(x^2) + eps)) * w, statistics
// in f32, the normalised value cast to the working type before the weight multiply (as
// transformers does). One workgroup per row; replaces eight generic kernels.
// Each invocation takes PER values per trip (values lid, lid + WG, ...), all loaded before any
// is used: a row of up to WG * PER values is one round trip to memory per pass, where a loop
// that uses each value as it loads it waits for memory once per value (a decode step's norm is
// a single workgroup, so nothing else hides that wait).
// Template values (kernels/rms_norm.rs): elem, enable_f16, wg, per.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> x: array<{{ elem }}>;
@group(0) @binding(1) var<storage, read_write> w: array<{{ elem }}>;
@group(0) @binding(2) var<storage, read_write> y: array<{{ elem }}>;
// dim, rows per grid row, rows, then eps as f32 bits.
@group(0) @binding(3) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const PER: u32 = {{ per }}u;
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
    for (var start = 0u; start < n; start += WG * PER) {
        // Past the row's end an invocation reads the row's last value and counts zero.
        var v: array<f32, PER>;
        for (var k = 0u; k < PER; k++) {
            let i = start + k * WG + lid;
            v[k] = select(0.0, f32(x[base + min(i, n - 1u)]), i < n);
        }
        for (var k = 0u; k < PER; k++) {
            sum += v[k] * v[k];
        }
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
    for (var start = 0u; start < n; start += WG * PER) {
        var v: array<{{ elem }}, PER>;
        var g: array<{{ elem }}, PER>;
        for (var k = 0u; k < PER; k++) {
            let i = min(start + k * WG + lid, n - 1u);
            v[k] = x[base + i];
            g[k] = w[i];
        }
        for (var k = 0u; k < PER; k++) {
            let i = start + k * WG + lid;
            if (i < n) {
                y[base + i] = {{ elem }}(f32(v[k]) * r) * g[k];
            }
        }
    }
}
