// Unpack a block-quantised matrix (crate/janus-model/src/quant/pack.rs) into dense values:
// out[i] = scale(block of i) * code(i). Used before a prefill's matrix product, where many rows
// of x share each weight and burn's tiled matmul beats a matrix-vector kernel; the dense copy
// lives only for that product.
// One invocation per 16-byte load of codes (16 or 32 weights); the grid is 2-D because big
// matrices need more than 65,535 workgroups. Template values (kernels/dequant.rs): elem,
// enable_f16, wg, bits, quant (shaders/quant.wgsl). All bindings read_write (see
// qmatvec_flat.wgsl).
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> codes: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<{{ elem }}>>;
// loads (vec4 words in codes), workgroups per grid row.
@group(0) @binding(3) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const BITS: u32 = {{ bits }}u;

{{ quant }}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let index = (wid.y * params[1] + wid.x) * WG + lid;
    if (index >= params[0]) {
        return;
    }
    let words = codes[index];
    let s = scale(index * 4u / WORDS_PER_BLOCK);
    // This load's first output vector: PER_WORD codes per word, four per vector.
    let first = index * PER_WORD;
    for (var k = 0u; k < 4u; k++) {
        for (var j = 0u; j < PER_WORD; j += 4u) {
            out[first + (k * PER_WORD + j) / 4u] = vec4<{{ elem }}>(s * codes4(words[k], j));
        }
    }
}
