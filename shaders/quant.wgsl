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

// The CPU adapters' kernels (qmatvec_cpu.wgsl, qmatvec_swiglu_cpu.wgsl) work on four rows at a
// time as the four components of a vector: no arrays indexed at run time, which SwiftShader keeps
// in memory rather than registers.

// Word k of four rows (one per component, c) times x at the word's columns (xa: the first four,
// xb: the next four, Q4 only) -> the four rows' partial dot products.
fn word_dot(c: vec4<u32>, xa: vec4<f32>, xb: vec4<f32>) -> vec4<f32> {
    if (BITS == 4u) {
        let m = vec4<u32>(0xFu);
        var a = (vec4<f32>(c & m) - 8.0) * xa.x;
        a += (vec4<f32>((c >> vec4<u32>(4u)) & m) - 8.0) * xa.y;
        a += (vec4<f32>((c >> vec4<u32>(8u)) & m) - 8.0) * xa.z;
        a += (vec4<f32>((c >> vec4<u32>(12u)) & m) - 8.0) * xa.w;
        a += (vec4<f32>((c >> vec4<u32>(16u)) & m) - 8.0) * xb.x;
        a += (vec4<f32>((c >> vec4<u32>(20u)) & m) - 8.0) * xb.y;
        a += (vec4<f32>((c >> vec4<u32>(24u)) & m) - 8.0) * xb.z;
        a += (vec4<f32>(c >> vec4<u32>(28u)) - 8.0) * xb.w;
        return a;
    }
    let i = bitcast<vec4<i32>>(c);
    var a = vec4<f32>((i << vec4<u32>(24u)) >> vec4<u32>(24u)) * xa.x;
    a += vec4<f32>((i << vec4<u32>(16u)) >> vec4<u32>(24u)) * xa.y;
    a += vec4<f32>((i << vec4<u32>(8u)) >> vec4<u32>(24u)) * xa.z;
    a += vec4<f32>(i >> vec4<u32>(24u)) * xa.w;
    return a;
}

// One 16-byte load of each of four rows (w0..w3: words 0..3 of the load) against x at the
// load's columns (xs: 8 vectors for Q4, the first 4 for Q8) -> the four rows' dot products.
fn load_dot(w0: vec4<u32>, w1: vec4<u32>, w2: vec4<u32>, w3: vec4<u32>,
            xs: array<vec4<f32>, 8>) -> vec4<f32> {
    let k0 = vec4<u32>(w0.x, w1.x, w2.x, w3.x);
    let k1 = vec4<u32>(w0.y, w1.y, w2.y, w3.y);
    let k2 = vec4<u32>(w0.z, w1.z, w2.z, w3.z);
    let k3 = vec4<u32>(w0.w, w1.w, w2.w, w3.w);
    if (BITS == 4u) {
        return word_dot(k0, xs[0], xs[1]) + word_dot(k1, xs[2], xs[3])
            + word_dot(k2, xs[4], xs[5]) + word_dot(k3, xs[6], xs[7]);
    }
    return word_dot(k0, xs[0], xs[0]) + word_dot(k1, xs[1], xs[1])
        + word_dot(k2, xs[2], xs[2]) + word_dot(k3, xs[3], xs[3]);
}
