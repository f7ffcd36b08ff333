// Block-quantised matrix-vector product for decode: y[b, r] = sum_c x[b, c] * W[r, c] for up to
// 8 rows b of x at once, W in the packed form of crate/janus-model/src/quant/pack.rs
// (32 weights per block, one f16 scale each).
//
// LANES invocations per output row r (WG / LANES rows per workgroup): they stride over the row
// in 16-byte loads (one Q4 block or half a Q8 block each), dequantise in registers, multiply
// with every batch row (so the weights are read once for the whole batch, e.g. the CFG pair),
// accumulate in f32, and reduce in workgroup memory. LANES = WG (a workgroup per row) suits
// GPUs; LANES = 1 (an invocation per row, no barrier) suits CPU adapters, where a barrier costs
// far more than the reduction saves. Workgroups beyond 65,535 spill into the grid's y dimension
// (WebGPU's per-dimension limit).
// Template values ({{ name }}, filled by kernels/qmatvec.rs): elem (f32 | f16), enable_f16,
// wg (invocations per workgroup, a power of two), lanes (a power of two dividing wg), batch
// (rows of x, 1..=8), bits (8 | 4), quant (shaders/quant.wgsl).
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
const BITS: u32 = {{ bits }}u;
// Rows of x, a template constant (1..=8): the accumulators stay in registers.
const BATCH: u32 = {{ batch }}u;

{{ quant }}

// Weights per 16-byte load, and the load's vectors of four.
const PER_LOAD: u32 = 4u * PER_WORD;
const VECS: u32 = PER_LOAD / 4u;

var<workgroup> partial: array<f32, WG * BATCH>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let batch = BATCH;
    let rows = params[1];
    let cols = params[2];
    let lane = lid % LANES;
    let row = (wid.y * params[3] + wid.x) * (WG / LANES) + lid / LANES;
    let loads_per_row = cols / PER_LOAD;
    var acc: array<f32, BATCH>;
    if (row < rows) {
        for (var l = lane; l < loads_per_row; l += LANES) {
            let index = row * loads_per_row + l;
            let words = codes[index];
            // A load never straddles two blocks (a block is one or two loads).
            let s = scale(index * 4u / WORDS_PER_BLOCK);
            var w: array<vec4<f32>, VECS>;
            for (var k = 0u; k < 4u; k++) {
                for (var j = 0u; j < PER_WORD; j += 4u) {
                    w[(k * PER_WORD + j) / 4u] = codes4(words[k], j);
                }
            }
            for (var b = 0u; b < batch; b++) {
                let xs = (b * cols + l * PER_LOAD) / 4u;
                var d = 0.0;
                for (var v = 0u; v < VECS; v++) {
                    d += dot(w[v], vec4<f32>(x[xs + v]));
                }
                acc[b] += s * d;
            }
        }
    }
    if (LANES == 1u) {
        if (row < rows) {
            for (var b = 0u; b < batch; b++) {
                y[b * rows + row] = {{ elem }}(acc[b]);
            }
        }
        return;
    }
    // Every invocation reaches the barriers (LANES is a constant: uniform control flow).
    for (var b = 0u; b < BATCH; b++) {
        partial[b * WG + lid] = acc[b];
    }
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s /= 2u) {
        if (lane < s) {
            for (var b = 0u; b < BATCH; b++) {
                partial[b * WG + lid] += partial[b * WG + lid + s];
            }
        }
        workgroupBarrier();
    }
    if (lane == 0u && row < rows) {
        for (var b = 0u; b < batch; b++) {
            y[b * rows + row] = {{ elem }}(partial[b * WG + lid]);
        }
    }
}
