// GroupNorm's statistics over NCHW f32 activations: one workgroup per (image, group), whose
// elements (C / G whole channel planes) are contiguous. The mean first, then the variance
// around it (two passes over the group, the second from cache: no cancellation of E[x^2] -
// E[x]^2), biased as PyTorch's GroupNorm. Writes mean and 1 / sqrt(var + eps) per group for
// group_norm.wgsl. Replaces burn's generic reduction and its elementwise chain
// (kernels/group_norm.rs).

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// [B * G, 2]: mean, reciprocal standard deviation.
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
// elements per group, eps as f32 bits.
@group(0) @binding(2) var<storage, read> params: array<u32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;

// The workgroup's sum of `v` over its invocations (every invocation gets it).
fn total(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let t = partial[0];
    // Nobody overwrites partial[0] (the next call) before everyone has read it.
    workgroupBarrier();
    return t;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = params[0];
    let eps = bitcast<f32>(params[1]);
    let base = wid.x * n;
    var sum = 0.0;
    for (var i = lid; i < n; i += WG) {
        sum += x[base + i];
    }
    let mean = total(lid, sum) / f32(n);
    var sq = 0.0;
    for (var i = lid; i < n; i += WG) {
        let d = x[base + i] - mean;
        sq += d * d;
    }
    let var_ = total(lid, sq) / f32(n);
    if (lid == 0u) {
        stats[2u * wid.x] = mean;
        stats[2u * wid.x + 1u] = 1.0 / sqrt(var_ + eps);
    }
}
