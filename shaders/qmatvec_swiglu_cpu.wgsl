// qmatvec_swiglu_flat.wgsl's product (silu(x . G[r]) * (x . U[r]), same bindings and result)
// laid out for CPU adapters as qmatvec_cpu.wgsl: one invocation per ROWS = 4 x GROUPS output
// rows of both matrices, four rows as a vector's components, each vector of x serving 2 x ROWS
// rows.
// Template values (kernels/qmatvec.rs): elem, enable_f16, wg, rows (4 or 8), batch, bits,
// quant. All bindings read_write except params (see qmatvec_flat.wgsl).
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> codes: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// The up matrix: codes and scales laid out as the gate's.
@group(0) @binding(4) var<storage, read_write> codes_up: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> scales_up: array<u32>;
// batch, rows, cols, workgroups per grid row.
@group(0) @binding(6) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const BITS: u32 = {{ bits }}u;
const BATCH: u32 = {{ batch }}u;
const GROUPS: u32 = {{ rows }}u / 4u;

{{ quant }}

const PER_LOAD: u32 = 4u * PER_WORD;

fn scale_up(block: u32) -> f32 {
    let pair = unpack2x16float(scales_up[block / 2u]);
    return select(pair.x, pair.y, (block & 1u) == 1u);
}

// Load l of four gate rows (as qmatvec_cpu.wgsl `rows4`).
fn gate4(r: vec4<u32>, l: u32, xs: array<vec4<f32>, 8>) -> vec4<f32> {
    let i = r + vec4<u32>(l);
    let b = i * 4u / WORDS_PER_BLOCK;
    let s = vec4<f32>(scale(b.x), scale(b.y), scale(b.z), scale(b.w));
    return s * load_dot(codes[i.x], codes[i.y], codes[i.z], codes[i.w], xs);
}

// Load l of the same four rows of the up matrix.
fn up4(r: vec4<u32>, l: u32, xs: array<vec4<f32>, 8>) -> vec4<f32> {
    let i = r + vec4<u32>(l);
    let b = i * 4u / WORDS_PER_BLOCK;
    let s = vec4<f32>(scale_up(b.x), scale_up(b.y), scale_up(b.z), scale_up(b.w));
    return s * load_dot(codes_up[i.x], codes_up[i.y], codes_up[i.z], codes_up[i.w], xs);
}

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

fn store4(b: u32, row: u32, rows: u32, gate: vec4<f32>, up: vec4<f32>) {
    let o = b * rows + row;
    for (var k = 0u; k < 4u; k++) {
        if (row + k < rows) {
            y[o + k] = swiglu(gate[k], up[k]);
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
    let last = vec4<u32>(rows - 1u);
    let base = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    let r0 = min(base, last) * loads;
    let r1 = min(base + vec4<u32>(4u), last) * loads;
    for (var b = 0u; b < BATCH; b++) {
        var g0 = vec4<f32>(0.0);
        var u0 = vec4<f32>(0.0);
        var g1 = vec4<f32>(0.0);
        var u1 = vec4<f32>(0.0);
        for (var l = 0u; l < loads; l++) {
            let xs = x_at(b * cols / 4u, l);
            g0 += gate4(r0, l, xs);
            u0 += up4(r0, l, xs);
            if (GROUPS > 1u) {
                g1 += gate4(r1, l, xs);
                u1 += up4(r1, l, xs);
            }
        }
        store4(b, first, rows, g0, u0);
        if (GROUPS > 1u) { store4(b, first + 4u, rows, g1, u1); }
    }
}

// As the reference: each product rounded to the working type, silu(gate) too.
fn swiglu(gate: f32, up: f32) -> {{ elem }} {
    let g = f32({{ elem }}(gate));
    return {{ elem }}(g / (1.0 + exp(-g))) * {{ elem }}(up);
}
