// Block-quantised matrix-vector product: y[b, r] = sum_c x[b, c] * W[r, c], W in the packed form
// of crate/janus-model/src/quant/pack.rs (32 weights per block, one f16 scale each).
//
// One workgroup per output row (and batch row): its invocations stride over the row's code
// words, dequantise in registers, accumulate in f32, and reduce in workgroup memory. Rows beyond
// 65,535 spill into the grid's y dimension (WebGPU's per-dimension limit); batch rows are z.
// Template values ({{ name }}, filled by kernels/qmatvec.rs): elem (f32 | f16), enable_f16,
// wg (invocations per workgroup, a power of two), bits (8 | 4).
//
// Every binding is declared read_write although only y is written: burn's memory pool places
// several tensors in one wgpu buffer, and a buffer bound both read-only and read-write in one
// dispatch is a usage conflict (burn's own kernels declare all bindings read_write too).
{{ enable_f16 }}

// Two's-complement bytes (Q8) or `q + 8` nibbles (Q4), row-major, low bits first.
@group(0) @binding(0) var<storage, read_write> codes: array<u32>;
// f16 scale bits, two per word (block 2i in the low half), read with unpack2x16float: no
// shader-f16 needed.
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
// [batch, cols] activations.
@group(0) @binding(2) var<storage, read_write> x: array<{{ elem }}>;
// [batch, rows] output.
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// batch, rows, cols, rows per grid row (the grid's x size).
@group(0) @binding(4) var<storage, read_write> params: array<u32>;

const WG: u32 = {{ wg }}u;
const BITS: u32 = {{ bits }}u;
const PER_WORD: u32 = 32u / BITS;
const WORDS_PER_BLOCK: u32 = 32u / PER_WORD;

var<workgroup> partial: array<f32, WG>;

fn scale(block: u32) -> f32 {
    let pair = unpack2x16float(scales[block / 2u]);
    return select(pair.x, pair.y, (block & 1u) == 1u);
}

fn code(word: u32, j: u32) -> f32 {
    if (BITS == 4u) {
        return f32(i32((word >> (4u * j)) & 0xFu) - 8);
    }
    // Move byte j to the top, then shift back arithmetically: its sign extends.
    return f32(bitcast<i32>(word << (24u - 8u * j)) >> 24u);
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[1];
    let cols = params[2];
    let row = wid.y * params[3] + wid.x;
    let b = wid.z;
    let words_per_row = cols / PER_WORD;
    var acc = 0.0;
    if (row < rows) {
        for (var w = lid; w < words_per_row; w += WG) {
            let index = row * words_per_row + w;
            let word = codes[index];
            let xs = b * cols + w * PER_WORD;
            var dot = 0.0;
            for (var j = 0u; j < PER_WORD; j++) {
                dot += code(word, j) * f32(x[xs + j]);
            }
            acc += scale(index / WORDS_PER_BLOCK) * dot;
        }
    }
    // Every invocation reaches the barriers (uniform control flow).
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u && row < rows) {
        y[b * rows + row] = {{ elem }}(partial[0]);
    }
}
