// Reading the packed block-quantised form of crate/janus-model/src/quant/pack.rs, shared by the
// kernels that take packed weights (pasted in at {{ quant }}; WGSL has no includes).
// Expects a `scales` storage array of u32 and the constant BITS (8 | 4). Codes: two's-complement
// bytes (Q8) or `q + 8` nibbles (Q4), low bits first, 32 per block.

const PER_WORD: u32 = 32u / BITS;
const WORDS_PER_BLOCK: u32 = 32u / PER_WORD;

// f16 scale bits, two per word (block 2i in the low half), read with unpack2x16float: no
// shader-f16 needed.
fn scale(block: u32) -> f32 {
    let pair = unpack2x16float(scales[block / 2u]);
    return select(pair.x, pair.y, (block & 1u) == 1u);
}

// Codes j..j+3 of a word (j a multiple of 4) as one vector.
fn codes4(word: u32, j: u32) -> vec4<f32> {
    let w = vec4<u32>(word);
    if (BITS == 4u) {
        let nibbles = (w >> (vec4<u32>(0u, 4u, 8u, 12u) + 4u * j)) & vec4<u32>(0xFu);
        return vec4<f32>(vec4<i32>(nibbles) - vec4<i32>(8));
    }
    let top = bitcast<vec4<i32>>(w << (vec4<u32>(24u, 16u, 8u, 0u) - 8u * j));
    return vec4<f32>(top >> vec4<u32>(24u));
}
