// Block-quantised matrix-vector product for decode: y[b, r] = sum_c x[b, c] * W[r, c] for up to
// 8 rows b of x at once, W in the packed form of crate/janus-model/src/quant/pack.rs
// (32 weights per block, one f16 scale each).
//
// A group of LANES invocations owns ROWS consecutive output rows (WG / LANES groups per
// workgroup). Each invocation strides over the rows' 16-byte loads (one Q4 block or half a Q8
// block), dequantises each in registers and multiplies it with every batch row, so the weights
// are read once for the whole batch (e.g. the CFG pair) and each vector of x, once loaded, serves
// ROWS rows. Accumulation in f32; the LANES partial sums meet in workgroup memory.
// LANES = WG (a workgroup per group) suits GPUs; LANES = 1 (an invocation per group, no barrier)
// suits CPU adapters, where a barrier costs far more than the reduction saves and the loads of x
// cost as much as the weights' (hence ROWS > 1 there). Workgroups beyond 65,535 spill into the
// grid's y dimension (WebGPU's per-dimension limit).
// Template values ({{ name }}, filled by kernels/qmatvec.rs): elem (f32 | f16), enable_f16,
// wg (invocations per workgroup, a power of two), lanes (a power of two dividing wg), rows
// (rows per group, 1..=8), batch (rows of x, 1..=8), bits (8 | 4), quant (shaders/quant.wgsl).
//
// Every tensor binding is declared read_write although only y is written: burn's memory pool
// places several tensors in one wgpu buffer, and a buffer bound both read-only and read-write in
// one dispatch is a usage conflict (burn's own kernels declare all bindings read_write too).
// `params` is the exception: it is the launch's info words (kernels/launch.rs `info`), staged
// by cubecl in its own uniform pool, bound last, read-only.
{{ enable_f16 }}

// The packed codes, row-major, four words per load; each row is a whole number of loads
// because rows are whole blocks.
@group(0) @binding(0) var<storage, read_write> codes: array<vec4<u32>>;
// f16 scale bits, two per word.
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
// [batch, cols] activations (cols a multiple of 32, so rows are whole vectors).
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
// [batch, rows] output.
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// batch, rows, cols, workgroups per grid row (the grid's x size).
@group(0) @binding(4) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const LANES: u32 = {{ lanes }}u;
const ROWS: u32 = {{ rows }}u;
const BITS: u32 = {{ bits }}u;
// Rows of x, a template constant (1..=8): the accumulators stay in registers.
const BATCH: u32 = {{ batch }}u;

{{ quant }}

// Weights per 16-byte load, and the load's vectors of four.
const PER_LOAD: u32 = 4u * PER_WORD;
const VECS: u32 = PER_LOAD / 4u;

var<workgroup> partial: array<f32, WG * ROWS * BATCH>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[1];
    let cols = params[2];
    let lane = lid % LANES;
    let first = ((wid.y * params[3] + wid.x) * (WG / LANES) + lid / LANES) * ROWS;
    let loads_per_row = cols / PER_LOAD;
    // acc[r * BATCH + b]: row first + r, batch row b.
    var acc: array<f32, ROWS * BATCH>;
    // One load's dot products before scaling; zeroed at each load explicitly (Chromium's
    // SwiftShader did not re-zero an array declared inside the loop).
    var d: array<f32, ROWS * BATCH>;
    if (first < rows) {
        for (var l = lane; l < loads_per_row; l += LANES) {
            // The group's rows at this load; a row past the end repeats the last (its sum is
            // never written) so that every load stays in bounds without a branch.
            var words: array<vec4<u32>, ROWS>;
            var s: array<f32, ROWS>;
            for (var r = 0u; r < ROWS; r++) {
                let index = min(first + r, rows - 1u) * loads_per_row + l;
                words[r] = codes[index];
                // A load never straddles two blocks (a block is one or two loads).
                s[r] = scale(index * 4u / WORDS_PER_BLOCK);
            }
            for (var i = 0u; i < ROWS * BATCH; i++) {
                d[i] = 0.0;
            }
            for (var v = 0u; v < VECS; v++) {
                var w: array<vec4<f32>, ROWS>;
                for (var r = 0u; r < ROWS; r++) {
                    w[r] = codes4(words[r][v * 4u / PER_WORD], (v * 4u) % PER_WORD);
                }
                for (var b = 0u; b < BATCH; b++) {
                    let xv = vec4<f32>(x[(b * cols + l * PER_LOAD) / 4u + v]);
                    for (var r = 0u; r < ROWS; r++) {
                        d[r * BATCH + b] += dot(w[r], xv);
                    }
                }
            }
            for (var r = 0u; r < ROWS; r++) {
                for (var b = 0u; b < BATCH; b++) {
                    acc[r * BATCH + b] += s[r] * d[r * BATCH + b];
                }
            }
        }
    }
    if (LANES > 1u) {
        // Every invocation reaches the barriers (LANES is a constant: uniform control flow).
        for (var i = 0u; i < ROWS * BATCH; i++) {
            partial[i * WG + lid] = acc[i];
        }
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s /= 2u) {
            if (lane < s) {
                for (var i = 0u; i < ROWS * BATCH; i++) {
                    partial[i * WG + lid] += partial[i * WG + lid + s];
                }
            }
            workgroupBarrier();
        }
        if (lane != 0u) {
            return;
        }
        for (var i = 0u; i < ROWS * BATCH; i++) {
            acc[i] = partial[i * WG + lid];
        }
    }
    for (var r = 0u; r < ROWS; r++) {
        if (first + r < rows) {
            for (var b = 0u; b < BATCH; b++) {
                y[b * rows + first + r] = {{ elem }}(acc[r * BATCH + b]);
            }
        }
    }
}
