// Block-quantised matrix-vector product for decode, the word walk: y[b, r] = sum_c x[b, c] W[r, c]
// for up to 8 rows b of x, W packed as crate/janus-model/src/quant/pack.rs (32 weights per
// block, one f16 scale each). Same contract and bindings as qmatvec.wgsl; the walk differs.
//
// A group of LANES invocations owns ROWS consecutive output rows. Lane i takes the rows' words
// i, i + LANES, i + 2 LANES, ... (4 bytes: 8 Q4 or 4 Q8 weights each), UNROLL of them per trip,
// all loaded before any is used, so each invocation keeps UNROLL loads in flight. Neighbouring
// lanes read neighbouring words and so neighbouring vectors of x: a warp's loads of x are as
// contiguous as its loads of weights. (The 16-byte walk of qmatvec.wgsl puts neighbouring lanes
// 32 columns apart, so a warp's loads of x touch 16 cache lines each.) Codes become floats by
// the exponent trick (quant.wgsl `codes4`), no integer-to-float conversion. f32 accumulation;
// the LANES partial sums meet in workgroup memory.
// Template values ({{ name }}, filled by kernels/qmatvec.rs): elem, enable_f16, wg, lanes, rows
// (1..=8), batch (1..=8), unroll (words per trip, 1..=16), bits, quant.
// Every tensor binding is declared read_write although only y is written (see qmatvec.wgsl).
{{ enable_f16 }}

// The packed codes, row-major; a row is a whole number of blocks, so of words.
@group(0) @binding(0) var<storage, read_write> codes: array<u32>;
// f16 scale bits, two per word.
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
// [batch, cols] activations (cols a multiple of 32).
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
// [batch, rows] output.
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// batch, rows, cols, workgroups per grid row (the launch's info words, bound last).
@group(0) @binding(4) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const LANES: u32 = {{ lanes }}u;
const ROWS: u32 = {{ rows }}u;
const BATCH: u32 = {{ batch }}u;
const UNROLL: u32 = {{ unroll }}u;
const BITS: u32 = {{ bits }}u;

{{ quant }}

// Vectors of four x values per word: 2 (Q4) or 1 (Q8).
const XV: u32 = PER_WORD / 4u;

var<workgroup> partial: array<f32, WG * ROWS * BATCH>;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[1];
    let cols = params[2];
    let lane = lid % LANES;
    let first = ((wid.y * params[3] + wid.x) * (WG / LANES) + lid / LANES) * ROWS;
    let words_per_row = cols / PER_WORD;
    // acc[r * BATCH + b]: row first + r, batch row b.
    var acc: array<f32, ROWS * BATCH>;
    for (var i = 0u; i < ROWS * BATCH; i++) {
        acc[i] = 0.0;
    }
    if (first < rows) {
        for (var base = lane; base < words_per_row; base += LANES * UNROLL) {
            // All of the trip's loads first. A word past the row's end reads the row's last
            // word with a scale of zero, and a row past the matrix's end repeats the last row
            // (its sum is never written), so every load stays in bounds without a branch.
            var words: array<u32, UNROLL * ROWS>;
            var s: array<f32, UNROLL * ROWS>;
            for (var k = 0u; k < UNROLL; k++) {
                let w = base + k * LANES;
                let live = select(0.0, 1.0, w < words_per_row);
                let wc = min(w, words_per_row - 1u);
                for (var r = 0u; r < ROWS; r++) {
                    let index = min(first + r, rows - 1u) * words_per_row + wc;
                    words[k * ROWS + r] = codes[index];
                    s[k * ROWS + r] = live * scale(index / WORDS_PER_BLOCK);
                }
            }
            for (var k = 0u; k < UNROLL; k++) {
                let wc = min(base + k * LANES, words_per_row - 1u);
                // The word's weights, dequantised once for every batch row.
                var w: array<vec4<f32>, ROWS * XV>;
                for (var r = 0u; r < ROWS; r++) {
                    for (var v = 0u; v < XV; v++) {
                        w[r * XV + v] = codes4(words[k * ROWS + r], v * 4u);
                    }
                }
                for (var b = 0u; b < BATCH; b++) {
                    for (var v = 0u; v < XV; v++) {
                        let xv = vec4<f32>(x[(b * cols) / 4u + wc * XV + v]);
                        for (var r = 0u; r < ROWS; r++) {
                            acc[r * BATCH + b] = fma(s[k * ROWS + r], dot(w[r * XV + v], xv),
                                acc[r * BATCH + b]);
                        }
                    }
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
        for (var h = LANES / 2u; h > 0u; h /= 2u) {
            if (lane < h) {
                for (var i = 0u; i < ROWS * BATCH; i++) {
                    partial[i * WG + lid] += partial[i * WG + lid + h];
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
