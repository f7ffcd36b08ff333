// Rows of a block-quantised lookup table (the token embedding) unpacked on the GPU: out[n, c] =
// q(codes[ids[n], c]) * scale[ids[n], c / 32], f32, one launch. The table keeps f32 scales, one
// per block of 32 (crate/janus-model/src/quant/device.rs, `Scales::F32`), and codes as in
// shaders/quant.wgsl: two's-complement bytes (Q8) or `q + 8` nibbles (Q4), low bits first.
// Only the looked-up rows are read. Replaces the plain-burn unpacking (two gathers, a shift, mask
// and subtraction per code in a word, a concatenation and a product: about thirty launches per
// lookup for Q4). One invocation per code word of the output. An id outside the table reads
// its last row (the caller's ids are in range; the clamp only keeps a bad one in bounds).
// Template values (kernels/qembed.rs, the quantised kernels' template): bits (8 | 4), wg.

// [rows, words per row] code words.
@group(0) @binding(0) var<storage, read_write> codes: array<u32>;
// [rows, blocks per row] f32 scales.
@group(0) @binding(1) var<storage, read_write> scales: array<f32>;
// [n] row ids (i32).
@group(0) @binding(2) var<storage, read_write> ids: array<i32>;
// [n, cols] f32 rows.
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// n * words per row (invocations), words per row, rows, workgroups per grid row.
@group(0) @binding(4) var<storage, read> params: array<u32>;

const BITS: u32 = {{ bits }}u;
const PER_WORD: u32 = 32u / BITS;
const WORDS_PER_BLOCK: u32 = BITS;

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * params[3] + wid.x) * {{ wg }}u + lid;
    if (i >= params[0]) {
        return;
    }
    let words = params[1];
    let n = i / words;
    let w = i % words;
    let row = u32(clamp(ids[n], 0, i32(params[2]) - 1));
    let word = codes[row * words + w];
    let blocks = words / WORDS_PER_BLOCK;
    let s = scales[row * blocks + w / WORDS_PER_BLOCK];
    for (var k = 0u; k < PER_WORD; k++) {
        var q: i32;
        if (BITS == 4u) {
            q = i32((word >> (4u * k)) & 0xFu) - 8;
        } else {
            q = bitcast<i32>(word << (24u - 8u * k)) >> 24u;
        }
        out[i * PER_WORD + k] = f32(q) * s;
    }
}
