// Statements (not a module), pasted by kernels/launch.rs at `{{ lanes_sum }}` where the adapter
// has subgroups at least LANES wide (kernels/qmatvec.rs checks its minimum subgroup size): a
// group's LANES invocations are an aligned run of local_invocation_index, so they lie within one
// subgroup, and a butterfly of log2(LANES) shuffles leaves every lane of the group with the sums
// in `acc`: no barrier and no workgroup memory. Reached in uniform control flow.
for (var i = 0u; i < ACC; i++) {
    var v = acc[i];
    for (var s = LANES / 2u; s > 0u; s /= 2u) {
        v += subgroupShuffleXor(v, s);
    }
    acc[i] = v;
}
