// The quantised matrix-vector product of qmatvec_flat.wgsl (same bindings, packing and result)
// laid out for CPU adapters (SwiftShader, lavapipe): one invocation per ROWS = 4 x GROUPS output
// rows, no barriers. Four rows are the four components of a vector (quant.wgsl `load_dot`), so no
// array is indexed at run time (SwiftShader keeps such arrays in memory), and each vector of x,
// once loaded, serves all ROWS rows: on a CPU a load of x costs as much as a load of weights.
// Batch rows are walked four at a time (prefill), each code decoded once for all four, then one
// at a time; the group's rows are re-read from cache for each pass.
// Template values (kernels/qmatvec.rs): elem, enable_f16, wg, rows (4, 8, 12 or 16), batch, bits,
// quant. All bindings read_write except params (see qmatvec_flat.wgsl).
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> codes: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
// [batch, cols] activations.
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
// [batch, rows] output.
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// batch, rows, cols, workgroups per grid row.
@group(0) @binding(4) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const BITS: u32 = {{ bits }}u;
const BATCH: u32 = {{ batch }}u;
// Groups of four rows per invocation.
const GROUPS: u32 = {{ rows }}u / 4u;
// Batch rows taken four at a time.
const QUADS: u32 = BATCH / 4u;

{{ quant }}

const PER_LOAD: u32 = 4u * PER_WORD;

// Load l of the four rows starting at the load indices `r` -> scale x dot product per row.
fn rows4(r: vec4<u32>, l: u32, xs: array<vec4<f32>, 8>) -> vec4<f32> {
    let i = r + vec4<u32>(l);
    // A load never straddles two blocks.
    let b = i * 4u / WORDS_PER_BLOCK;
    let s = vec4<f32>(scale(b.x), scale(b.y), scale(b.z), scale(b.w));
    return s * load_dot(codes[i.x], codes[i.y], codes[i.z], codes[i.w], xs);
}

// rows4 for four batch rows (xs, ys, zs, ws), the codes decoded once for all four.
fn rows4_quad(r: vec4<u32>, l: u32, xs: array<vec4<f32>, 8>, ys: array<vec4<f32>, 8>,
              zs: array<vec4<f32>, 8>, ws: array<vec4<f32>, 8>) -> Dots4 {
    let i = r + vec4<u32>(l);
    let b = i * 4u / WORDS_PER_BLOCK;
    let s = vec4<f32>(scale(b.x), scale(b.y), scale(b.z), scale(b.w));
    let d = load_dot4(codes[i.x], codes[i.y], codes[i.z], codes[i.w], xs, ys, zs, ws);
    return Dots4(s * d.r0, s * d.r1, s * d.r2, s * d.r3);
}

// The x vectors at load l of batch row `xrow` (in vectors): 8 (Q4) or 4 (Q8).
fn x_at(xrow: u32, l: u32) -> array<vec4<f32>, 8> {
    let at = xrow + l * PER_LOAD / 4u;
    var xs: array<vec4<f32>, 8>;
    xs[0] = vec4<f32>(x[at]);
    xs[1] = vec4<f32>(x[at + 1u]);
    xs[2] = vec4<f32>(x[at + 2u]);
    xs[3] = vec4<f32>(x[at + 3u]);
    if (BITS == 4u) {
        xs[4] = vec4<f32>(x[at + 4u]);
        xs[5] = vec4<f32>(x[at + 5u]);
        xs[6] = vec4<f32>(x[at + 6u]);
        xs[7] = vec4<f32>(x[at + 7u]);
    }
    return xs;
}

// Rows row..row+3 of batch rows b..b+3 (one per field of d), those below `rows`.
fn store_quad(b: u32, row: u32, rows: u32, d: Dots4) {
    store4(b, row, rows, d.r0);
    store4(b + 1u, row, rows, d.r1);
    store4(b + 2u, row, rows, d.r2);
    store4(b + 3u, row, rows, d.r3);
}

// Rows row..row+3 of batch row b, those below `rows`.
fn store4(b: u32, row: u32, rows: u32, v: vec4<f32>) {
    let o = b * rows + row;
    for (var k = 0u; k < 4u; k++) {
        if (row + k < rows) {
            y[o + k] = {{ elem }}(v[k]);
        }
    }
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[1];
    let cols = params[2];
    let first = ((wid.y * params[3] + wid.x) * WG + lid) * 4u * GROUPS;
    if (first >= rows) {
        return;
    }
    let loads = cols / PER_LOAD;
    // Each group's first load index per row; rows past the end repeat the last row (never
    // stored), so every load stays in bounds without a branch.
    let last = vec4<u32>(rows - 1u);
    let base = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    let r0 = min(base, last) * loads;
    let r1 = min(base + vec4<u32>(4u), last) * loads;
    let r2 = min(base + vec4<u32>(8u), last) * loads;
    let r3 = min(base + vec4<u32>(12u), last) * loads;
    // Batch rows four at a time (prefill's chunks of 8): each code decoded once for all four,
    // and each load of the group's rows serves four rows of x (on SwiftShader prefill ran twice
    // as fast as with one row at a time, BENCHMARKS.md).
    for (var b = 0u; b < QUADS * 4u; b += 4u) {
        var a0 = Dots4(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
        var a1 = a0;
        var a2 = a0;
        var a3 = a0;
        for (var l = 0u; l < loads; l++) {
            let xs = x_at(b * cols / 4u, l);
            let ys = x_at((b + 1u) * cols / 4u, l);
            let zs = x_at((b + 2u) * cols / 4u, l);
            let ws = x_at((b + 3u) * cols / 4u, l);
            a0 = add4(a0, rows4_quad(r0, l, xs, ys, zs, ws));
            if (GROUPS > 1u) { a1 = add4(a1, rows4_quad(r1, l, xs, ys, zs, ws)); }
            if (GROUPS > 2u) { a2 = add4(a2, rows4_quad(r2, l, xs, ys, zs, ws)); }
            if (GROUPS > 3u) { a3 = add4(a3, rows4_quad(r3, l, xs, ys, zs, ws)); }
        }
        store_quad(b, first, rows, a0);
        if (GROUPS > 1u) { store_quad(b, first + 4u, rows, a1); }
        if (GROUPS > 2u) { store_quad(b, first + 8u, rows, a2); }
        if (GROUPS > 3u) { store_quad(b, first + 12u, rows, a3); }
    }
    // The rest one at a time (decode: one row, or an image step's CFG pair), from a constant
    // start, so that decode's loop is the one it was before the quads.
    for (var b = QUADS * 4u; b < BATCH; b++) {
        var a0 = vec4<f32>(0.0);
        var a1 = vec4<f32>(0.0);
        var a2 = vec4<f32>(0.0);
        var a3 = vec4<f32>(0.0);
        for (var l = 0u; l < loads; l++) {
            let xs = x_at(b * cols / 4u, l);
            a0 += rows4(r0, l, xs);
            if (GROUPS > 1u) { a1 += rows4(r1, l, xs); }
            if (GROUPS > 2u) { a2 += rows4(r2, l, xs); }
            if (GROUPS > 3u) { a3 += rows4(r3, l, xs); }
        }
        store4(b, first, rows, a0);
        if (GROUPS > 1u) { store4(b, first + 4u, rows, a1); }
        if (GROUPS > 2u) { store4(b, first + 8u, rows, a2); }
        if (GROUPS > 3u) { store4(b, first + 12u, rows, a3); }
    }
}
