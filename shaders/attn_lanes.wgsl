// The workgroup steps shaders/attn_chunk.wgsl and attn_merge.wgsl share, pasted into both at
// `{{ attn_lanes }}` (kernels/attention.rs). Each declares what these use: WG, CHUNK, LANES, the
// vector type VF, and the workgroup arrays `partial` (f32) and `sums` (VF).

// `value` reduced over the workgroup (maximum or sum), the same in every invocation. Called in
// uniform control flow: it waits at barriers.
fn reduce(lid: u32, value: f32, is_max: bool) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            let other = partial[lid + s];
            partial[lid] = select(partial[lid] + other, max(partial[lid], other), is_max);
        }
        workgroupBarrier();
    }
    let r = partial[0];
    workgroupBarrier();
    return r;
}

// The LANES groups' `acc` of one output dimension met: invocation (g, t) = (lid / CHUNK,
// lid % CHUNK) holds group g's sum for dimension t; group 0 (lid < CHUNK) gets the total, the
// others their own sum. With LANES = 1 there is one group and nothing to meet. Called in uniform
// control flow: it waits at barriers when LANES > 1.
fn meet(lid: u32, acc: VF) -> VF {
    if (LANES == 1u) {
        return acc;
    }
    sums[lid] = acc;
    workgroupBarrier();
    var total = acc;
    if (lid < CHUNK) {
        for (var r = 1u; r < LANES; r++) {
            total += sums[r * CHUNK + lid];
        }
    }
    workgroupBarrier();
    return total;
}
