// A residual connection and the RMSNorm after it in one launch: s = h + a (the residual
// stream, added in the working type as the reference's `h + a`), y = elem(s / sqrt(mean(s^2) +
// eps)) * w as rms_norm.wgsl. A decode step has two per layer, so fusing them saves 48
// launches per step (measured on an H200: +0.3 to +3.5 % decode speed, BENCHMARKS.md "NVIDIA
// H200 ..., 2026-11-27, second session"). One workgroup per row, PER values per invocation per
// trip, all loaded before any is used (see rms_norm.wgsl); the sums stay in registers between
// the passes where the row is one trip.
// Template values (kernels/rms_norm.rs): elem, enable_f16, wg, per.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> h: array<{{ elem }}>;
@group(0) @binding(1) var<storage, read_write> a: array<{{ elem }}>;
@group(0) @binding(2) var<storage, read_write> w: array<{{ elem }}>;
// The sum h + a (the next residual stream) and the normalised output.
@group(0) @binding(3) var<storage, read_write> s: array<{{ elem }}>;
@group(0) @binding(4) var<storage, read_write> y: array<{{ elem }}>;
// dim, rows per grid row, rows, then eps as f32 bits.
@group(0) @binding(5) var<storage, read> params: array<u32>;

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
    // The last trip's sums, kept for the second pass (all of them where the row is one trip).
    var v: array<{{ elem }}, PER>;
    var sum = 0.0;
    for (var start = 0u; start < n; start += WG * PER) {
        // Past the row's end an invocation reads the row's last values and counts zero.
        var hv: array<{{ elem }}, PER>;
        var av: array<{{ elem }}, PER>;
        for (var k = 0u; k < PER; k++) {
            let i = base + min(start + k * WG + lid, n - 1u);
            hv[k] = h[i];
            av[k] = a[i];
        }
        for (var k = 0u; k < PER; k++) {
            let i = start + k * WG + lid;
            v[k] = hv[k] + av[k];
            if (i < n) {
                s[base + i] = v[k];
                sum += f32(v[k]) * f32(v[k]);
            }
        }
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k /= 2u) {
        if (lid < k) {
            partial[lid] += partial[lid + k];
        }
        workgroupBarrier();
    }
    let r = 1.0 / sqrt(partial[0] / f32(dim) + eps);
    let one_trip = n <= WG * PER;
    for (var start = 0u; start < n; start += WG * PER) {
        var g: array<{{ elem }}, PER>;
        for (var k = 0u; k < PER; k++) {
            let i = min(start + k * WG + lid, n - 1u);
            // Each invocation reads back only the sums it wrote itself.
            if (!one_trip) {
                v[k] = s[base + i];
            }
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
