// Statements (not a module), pasted by kernels/launch.rs at `{{ lanes_sum }}` in qmatvec.wgsl and
// qmatvec_swiglu.wgsl: the LANES partial sums of each accumulator of a group meet in workgroup
// memory (`partial`, WG * ACC floats) by a tree of log2(LANES) barriers; lane 0 of the group
// ends with the sums in `acc`. Every invocation reaches the barriers (LANES is a constant:
// uniform control flow).
for (var i = 0u; i < ACC; i++) {
    partial[i * WG + lid] = acc[i];
}
workgroupBarrier();
for (var s = LANES / 2u; s > 0u; s /= 2u) {
    if (lane < s) {
        for (var i = 0u; i < ACC; i++) {
            partial[i * WG + lid] += partial[i * WG + lid + s];
        }
    }
    workgroupBarrier();
}
for (var i = 0u; i < ACC; i++) {
    acc[i] = partial[i * WG + lid];
}
