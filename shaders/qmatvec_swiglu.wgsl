// The SwiGLU MLP's first half for decode in one launch: y[b, r] = silu(x[b] . G[r]) * (x[b] . U[r])
// with G (gate) and U (up) packed alike (crate/janus-model/src/quant/pack.rs). The same walk as
// qmatvec.wgsl over both matrices at once: LANES invocations per output row, 16-byte loads
// dequantised in registers, up to BATCH rows of x, f32 accumulation. Replaces three launches
// (two products and the gate) per layer. Template values (kernels/qmatvec.rs): elem, enable_f16,
// wg, lanes, batch, bits, quant. All bindings read_write (see qmatvec.wgsl).
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> codes: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// The up matrix: codes and scales laid out as the gate's.
@group(0) @binding(4) var<storage, read_write> codes_up: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> scales_up: array<u32>;
// batch, rows, cols, workgroups per grid row (the launch's info words, always bound last).
@group(0) @binding(6) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const LANES: u32 = {{ lanes }}u;
const BITS: u32 = {{ bits }}u;
// Rows of x, a template constant (1..=8): the accumulators stay in registers.
const BATCH: u32 = {{ batch }}u;

{{ quant }}

const PER_LOAD: u32 = 4u * PER_WORD;
const VECS: u32 = PER_LOAD / 4u;

var<workgroup> partial: array<f32, WG * BATCH * 2u>;

fn scale_up(block: u32) -> f32 {
    let pair = unpack2x16float(scales_up[block / 2u]);
    return select(pair.x, pair.y, (block & 1u) == 1u);
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let batch = BATCH;
    let rows = params[1];
    let cols = params[2];
    let lane = lid % LANES;
    let row = (wid.y * params[3] + wid.x) * (WG / LANES) + lid / LANES;
    let loads_per_row = cols / PER_LOAD;
    var acc_g: array<f32, BATCH>;
    var acc_u: array<f32, BATCH>;
    if (row < rows) {
        for (var l = lane; l < loads_per_row; l += LANES) {
            let index = row * loads_per_row + l;
            let wg_words = codes[index];
            let wu_words = codes_up[index];
            let block = index * 4u / WORDS_PER_BLOCK;
            let sg = scale(block);
            let su = scale_up(block);
            var wg_v: array<vec4<f32>, VECS>;
            var wu_v: array<vec4<f32>, VECS>;
            for (var k = 0u; k < 4u; k++) {
                for (var j = 0u; j < PER_WORD; j += 4u) {
                    wg_v[(k * PER_WORD + j) / 4u] = codes4(wg_words[k], j);
                    wu_v[(k * PER_WORD + j) / 4u] = codes4(wu_words[k], j);
                }
            }
            for (var b = 0u; b < batch; b++) {
                let xs = (b * cols + l * PER_LOAD) / 4u;
                var dg = 0.0;
                var du = 0.0;
                for (var v = 0u; v < VECS; v++) {
                    let xv = vec4<f32>(x[xs + v]);
                    dg += dot(wg_v[v], xv);
                    du += dot(wu_v[v], xv);
                }
                acc_g[b] += sg * dg;
                acc_u[b] += su * du;
            }
        }
    }
    if (LANES == 1u) {
        if (row < rows) {
            for (var b = 0u; b < batch; b++) {
                y[b * rows + row] = swiglu(acc_g[b], acc_u[b]);
            }
        }
        return;
    }
    // Every invocation reaches the barriers (LANES is a constant: uniform control flow).
    for (var b = 0u; b < BATCH; b++) {
        partial[b * WG + lid] = acc_g[b];
        partial[(BATCH + b) * WG + lid] = acc_u[b];
    }
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s /= 2u) {
        if (lane < s) {
            for (var b = 0u; b < 2u * BATCH; b++) {
                partial[b * WG + lid] += partial[b * WG + lid + s];
            }
        }
        workgroupBarrier();
    }
    if (lane == 0u && row < rows) {
        for (var b = 0u; b < batch; b++) {
            y[b * rows + row] = swiglu(partial[b * WG + lid], partial[(BATCH + b) * WG + lid]);
        }
    }
}

// As the reference: each product rounded to the working type, silu(gate) too.
fn swiglu(gate: f32, up: f32) -> {{ elem }} {
    let g = f32({{ elem }}(gate));
    return {{ elem }}(g / (1.0 + exp(-g))) * {{ elem }}(up);
}
