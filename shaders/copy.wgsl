// The bandwidth yardstick for benchmarks: dst[i] = src[i] over 16-byte vectors, the access
// pattern a memory-bound kernel can at best achieve (a `copyBufferToBuffer` is a DMA memcpy that
// shaders cannot match). Bytes moved per launch: 2 x the buffer. 2-D grid as in dequant.wgsl.

@group(0) @binding(0) var<storage, read_write> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<u32>>;
// vectors, workgroups per grid row.
@group(0) @binding(2) var<storage, read> params: array<u32>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * params[1] + wid.x) * {{ wg }}u + lid;
    if (i < params[0]) {
        dst[i] = src[i];
    }
}
