// GroupNorm's normalisation and affine map of NCHW f32 activations, with the swish (SiLU) that
// follows every GroupNorm of the VQ decoder but the attention block's fused in (SILU = 1): one
// invocation per element, the group's statistics from group_norm_stats.wgsl.
// Template value (kernels/group_norm.rs): silu.

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// [C] scale and shift.
@group(0) @binding(1) var<storage, read_write> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
// [B * G, 2]: mean, reciprocal standard deviation.
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// elements, H * W, channels, channels per group, workgroups per grid row.
@group(0) @binding(5) var<storage, read> params: array<u32>;

const SILU: u32 = {{ silu }}u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * params[4] + wid.x) * 256u + lid;
    if (i >= params[0]) {
        return;
    }
    let plane = params[1];
    let channels = params[2];
    // Global channel index b * C + c; its group b * G + c / cpg = (b * C + c) / cpg.
    let bc = i / plane;
    let c = bc % channels;
    let g = bc / params[3];
    var v = (x[i] - stats[2u * g]) * stats[2u * g + 1u] * weight[c] + bias[c];
    if (SILU == 1u) {
        v = v / (1.0 + exp(-v));
    }
    y[i] = v;
}
