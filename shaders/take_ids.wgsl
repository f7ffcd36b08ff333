// The input ids of a decode step, taken on the device from the history of chosen ids: column
// `state[1] - 1` of [rows, columns] (the id the previous step chose, model/cursor.rs). Reading
// the history rather than the previous step's output keeps a step idempotent: running it twice
// at one state (a graph's warm-up, kernels/graph.rs) gives the same result. One invocation per
// row. No template values.

// [rows, columns] chosen ids (i32).
@group(0) @binding(0) var<storage, read_write> history: array<i32>;
// The decode state (i32): position, sampler step.
@group(0) @binding(1) var<storage, read_write> state: array<i32>;
// [rows] the ids (i32).
@group(0) @binding(2) var<storage, read_write> ids: array<i32>;
// rows, columns.
@group(0) @binding(3) var<storage, read> params: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r < params[0]) {
        let column = u32(max(state[1] - 1, 0));
        ids[r] = history[r * params[1] + min(column, params[1] - 1u)];
    }
}
