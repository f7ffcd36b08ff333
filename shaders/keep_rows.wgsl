// A decode step's logits kept as f32 in a buffer that outlives the step, so the host can read
// them back when a chat asked for log-probabilities (generate/logprobs.rs). The step's own
// logits buffer is the step's scratch (a recorded step reuses it, and nothing may be read while
// one records); this copy is one more launch at the end of the step, only when asked for, and
// the read is queued with the chosen id's. One invocation per value, 2-D grid as in
// dequant.wgsl. Template values: elem, enable_f16, wg.
{{ enable_f16 }}

// [rows, K] the step's logits.
@group(0) @binding(0) var<storage, read_write> src: array<{{ elem }}>;
// [rows, K] f32, kept.
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
// values, workgroups per grid row.
@group(0) @binding(2) var<storage, read> params: array<u32>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * params[1] + wid.x) * {{ wg }}u + lid;
    if (i < params[0]) {
        dst[i] = f32(src[i]);
    }
}
