// The SwiGLU MLP's first half for decode in one launch: y[b, r] = silu(x[b] . G[r]) * (x[b] . U[r])
// with G (gate) and U (up) packed alike (crate/janus-model/src/quant/pack.rs). The same walk as
// qmatvec.wgsl over both matrices at once: a group of LANES invocations owns ROWS output rows,
// 16-byte loads dequantised in registers, each vector of x serving both matrices' ROWS rows, up
// to BATCH rows of x, f32 accumulation. Replaces three launches (two products and the gate) per
// layer. Template values (kernels/qmatvec.rs): elem, enable_f16, wg, lanes, rows, batch, bits,
// quant. All bindings read_write (see qmatvec.wgsl).
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
const ROWS: u32 = {{ rows }}u;
const BITS: u32 = {{ bits }}u;
// Rows of x, a template constant (1..=8): the accumulators stay in registers.
const BATCH: u32 = {{ batch }}u;

{{ quant }}

const PER_LOAD: u32 = 4u * PER_WORD;
const VECS: u32 = PER_LOAD / 4u;
// Accumulators per invocation: the gate's ROWS x BATCH, then the up matrix's.
const ACC: u32 = 2u * ROWS * BATCH;

var<workgroup> partial: array<f32, WG * ACC>;

fn scale_up(block: u32) -> f32 {
    let pair = unpack2x16float(scales_up[block / 2u]);
    return select(pair.x, pair.y, (block & 1u) == 1u);
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[1];
    let cols = params[2];
    let lane = lid % LANES;
    let first = ((wid.y * params[3] + wid.x) * (WG / LANES) + lid / LANES) * ROWS;
    let loads_per_row = cols / PER_LOAD;
    // acc[r * BATCH + b] (gate) and acc[(ROWS + r) * BATCH + b] (up).
    var acc: array<f32, ACC>;
    // One load's dot products before scaling, zeroed at each load (see qmatvec.wgsl).
    var d: array<f32, ACC>;
    if (first < rows) {
        for (var l = lane; l < loads_per_row; l += LANES) {
            // As in qmatvec.wgsl, a row past the end repeats the last one.
            var words: array<vec4<u32>, 2u * ROWS>;
            var s: array<f32, 2u * ROWS>;
            for (var r = 0u; r < ROWS; r++) {
                let index = min(first + r, rows - 1u) * loads_per_row + l;
                let block = index * 4u / WORDS_PER_BLOCK;
                words[r] = codes[index];
                words[ROWS + r] = codes_up[index];
                s[r] = scale(block);
                s[ROWS + r] = scale_up(block);
            }
            for (var i = 0u; i < ACC; i++) {
                d[i] = 0.0;
            }
            for (var v = 0u; v < VECS; v++) {
                var w: array<vec4<f32>, 2u * ROWS>;
                for (var r = 0u; r < 2u * ROWS; r++) {
                    w[r] = codes4(words[r][v * 4u / PER_WORD], (v * 4u) % PER_WORD);
                }
                for (var b = 0u; b < BATCH; b++) {
                    let xv = vec4<f32>(x[(b * cols + l * PER_LOAD) / 4u + v]);
                    for (var r = 0u; r < 2u * ROWS; r++) {
                        d[r * BATCH + b] += dot(w[r], xv);
                    }
                }
            }
            for (var r = 0u; r < 2u * ROWS; r++) {
                for (var b = 0u; b < BATCH; b++) {
                    acc[r * BATCH + b] += s[r] * d[r * BATCH + b];
                }
            }
        }
    }
    if (LANES > 1u) {
        // Every invocation reaches the barriers (LANES is a constant: uniform control flow).
        for (var i = 0u; i < ACC; i++) {
            partial[i * WG + lid] = acc[i];
        }
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s /= 2u) {
            if (lane < s) {
                for (var i = 0u; i < ACC; i++) {
                    partial[i * WG + lid] += partial[i * WG + lid + s];
                }
            }
            workgroupBarrier();
        }
        if (lane != 0u) {
            return;
        }
        for (var i = 0u; i < ACC; i++) {
            acc[i] = partial[i * WG + lid];
        }
    }
    for (var r = 0u; r < ROWS; r++) {
        if (first + r < rows) {
            for (var b = 0u; b < BATCH; b++) {
                y[b * rows + first + r] = swiglu(acc[r * BATCH + b], acc[(ROWS + r) * BATCH + b]);
            }
        }
    }
}

// As the reference: each product rounded to the working type, silu(gate) too.
fn swiglu(gate: f32, up: f32) -> {{ elem }} {
    let g = f32({{ elem }}(gate));
    return {{ elem }}(g / (1.0 + exp(-g))) * {{ elem }}(up);
}
