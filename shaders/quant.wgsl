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

// How codes4 makes codes floats (kernels/launch.rs `Dequant`): by the exponent trick (1) or by
// integer-to-float conversion (0). Both give the same values exactly.
const EXPONENT: bool = {{ exponent }}u == 1u;

// Codes j..j+3 of a word (j a multiple of 4) as one vector. With EXPONENT each code becomes a
// float without a conversion: the bits 0x4B000000 | n are the float 2^23 + n exactly (n below
// 2^23), so subtracting 2^23 + 8 (Q4's offset) or 2^23 + 128 (Q8's, its byte's sign bit flipped
// first: the XOR with 0x4B000080 does both) leaves the code's value exactly. That is a shift, one
// logic op and a float subtraction; a conversion runs at an eighth of the float rate on NVIDIA
// GPUs (16 per clock per SM), once per weight.
fn codes4(word: u32, j: u32) -> vec4<f32> {
    let w = vec4<u32>(word);
    if (BITS == 4u) {
        let nibbles = (w >> (vec4<u32>(0u, 4u, 8u, 12u) + 4u * j)) & vec4<u32>(0xFu);
        if (EXPONENT) {
            return bitcast<vec4<f32>>(nibbles | vec4<u32>(0x4B000000u)) - 8388616.0;
        }
        return vec4<f32>(vec4<i32>(nibbles) - vec4<i32>(8));
    }
    if (EXPONENT) {
        let bytes = (w >> (vec4<u32>(0u, 8u, 16u, 24u) + 8u * j)) & vec4<u32>(0xFFu);
        return bitcast<vec4<f32>>(bytes ^ vec4<u32>(0x4B000080u)) - 8388736.0;
    }
    let top = bitcast<vec4<i32>>(w << (vec4<u32>(24u, 16u, 8u, 0u) - 8u * j));
    return vec4<f32>(top >> vec4<u32>(24u));
}

// The flat kernels with several rows per group of lanes (qmatvec_flat.wgsl,
// qmatvec_swiglu_flat.wgsl, `rows` their ROWS: 1, 2 or 4): the dot products of vector j of word k
// of up to four rows' loads (one row per component) with x's vector xs; components past `rows`
// are 0.
fn rows_vec(rows: u32, k: vec4<u32>, j: u32, xs: vec4<f32>) -> vec4<f32> {
    var r = vec4<f32>(dot(codes4(k.x, j), xs), 0.0, 0.0, 0.0);
    if (rows >= 2u) {
        r.y = dot(codes4(k.y, j), xs);
    }
    if (rows >= 4u) {
        r.z = dot(codes4(k.z, j), xs);
        r.w = dot(codes4(k.w, j), xs);
    }
    return r;
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


// Prefill on CPU adapters (qmatvec_cpu.wgsl): four batch rows at once, each code decoded once
// for all four. The four rows' dot products (one row per component) with batch rows 0..3.
struct Dots4 {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

// word_dot for four batch rows: x, y, z and w at the word's columns (xa, xb; ya, yb; ...).
fn word_dot4(c: vec4<u32>, xa: vec4<f32>, xb: vec4<f32>, ya: vec4<f32>, yb: vec4<f32>,
             za: vec4<f32>, zb: vec4<f32>, wa: vec4<f32>, wb: vec4<f32>) -> Dots4 {
    if (BITS == 4u) {
        let m = vec4<u32>(0xFu);
        let q0 = vec4<f32>(c & m) - 8.0;
        let q1 = vec4<f32>((c >> vec4<u32>(4u)) & m) - 8.0;
        let q2 = vec4<f32>((c >> vec4<u32>(8u)) & m) - 8.0;
        let q3 = vec4<f32>((c >> vec4<u32>(12u)) & m) - 8.0;
        let q4 = vec4<f32>((c >> vec4<u32>(16u)) & m) - 8.0;
        let q5 = vec4<f32>((c >> vec4<u32>(20u)) & m) - 8.0;
        let q6 = vec4<f32>((c >> vec4<u32>(24u)) & m) - 8.0;
        let q7 = vec4<f32>(c >> vec4<u32>(28u)) - 8.0;
        return Dots4(
            q0 * xa.x + q1 * xa.y + q2 * xa.z + q3 * xa.w
                + q4 * xb.x + q5 * xb.y + q6 * xb.z + q7 * xb.w,
            q0 * ya.x + q1 * ya.y + q2 * ya.z + q3 * ya.w
                + q4 * yb.x + q5 * yb.y + q6 * yb.z + q7 * yb.w,
            q0 * za.x + q1 * za.y + q2 * za.z + q3 * za.w
                + q4 * zb.x + q5 * zb.y + q6 * zb.z + q7 * zb.w,
            q0 * wa.x + q1 * wa.y + q2 * wa.z + q3 * wa.w
                + q4 * wb.x + q5 * wb.y + q6 * wb.z + q7 * wb.w,
        );
    }
    let i = bitcast<vec4<i32>>(c);
    let q0 = vec4<f32>((i << vec4<u32>(24u)) >> vec4<u32>(24u));
    let q1 = vec4<f32>((i << vec4<u32>(16u)) >> vec4<u32>(24u));
    let q2 = vec4<f32>((i << vec4<u32>(8u)) >> vec4<u32>(24u));
    let q3 = vec4<f32>(i >> vec4<u32>(24u));
    return Dots4(
        q0 * xa.x + q1 * xa.y + q2 * xa.z + q3 * xa.w,
        q0 * ya.x + q1 * ya.y + q2 * ya.z + q3 * ya.w,
        q0 * za.x + q1 * za.y + q2 * za.z + q3 * za.w,
        q0 * wa.x + q1 * wa.y + q2 * wa.z + q3 * wa.w,
    );
}

fn add4(a: Dots4, b: Dots4) -> Dots4 {
    return Dots4(a.r0 + b.r0, a.r1 + b.r1, a.r2 + b.r2, a.r3 + b.r3);
}

// load_dot for four batch rows (xs, ys, zs, ws as load_dot's xs).
fn load_dot4(w0: vec4<u32>, w1: vec4<u32>, w2: vec4<u32>, w3: vec4<u32>,
             xs: array<vec4<f32>, 8>, ys: array<vec4<f32>, 8>, zs: array<vec4<f32>, 8>,
             ws: array<vec4<f32>, 8>) -> Dots4 {
    let k0 = vec4<u32>(w0.x, w1.x, w2.x, w3.x);
    let k1 = vec4<u32>(w0.y, w1.y, w2.y, w3.y);
    let k2 = vec4<u32>(w0.z, w1.z, w2.z, w3.z);
    let k3 = vec4<u32>(w0.w, w1.w, w2.w, w3.w);
    if (BITS == 4u) {
        return add4(add4(word_dot4(k0, xs[0], xs[1], ys[0], ys[1], zs[0], zs[1], ws[0], ws[1]),
                         word_dot4(k1, xs[2], xs[3], ys[2], ys[3], zs[2], zs[3], ws[2], ws[3])),
                    add4(word_dot4(k2, xs[4], xs[5], ys[4], ys[5], zs[4], zs[5], ws[4], ws[5]),
                         word_dot4(k3, xs[6], xs[7], ys[6], ys[7], zs[6], zs[7], ws[6], ws[7])));
    }
    return add4(add4(word_dot4(k0, xs[0], xs[0], ys[0], ys[0], zs[0], zs[0], ws[0], ws[0]),
                     word_dot4(k1, xs[1], xs[1], ys[1], ys[1], zs[1], zs[1], ws[1], ws[1])),
                add4(word_dot4(k2, xs[2], xs[2], ys[2], ys[2], zs[2], zs[2], ws[2], ws[2]),
                     word_dot4(k3, xs[3], xs[3], ys[3], ys[3], zs[3], zs[3], ws[3], ws[3])));
}
