// The SwiGLU MLP's first half for decode in one launch, the word walk of qmatvec_words.wgsl:
// y[b, r] = silu(x[b] . G[r]) * (x[b] . U[r]) with G (gate) and U (up) packed alike
// (crate/janus-model/src/quant/pack.rs). Lane i takes both matrices' words i, i + LANES, ...,
// UNROLL per trip, all loaded before any is used; each vector of x serves both matrices' ROWS
// rows. Template values (kernels/qmatvec.rs): elem, enable_f16, wg, lanes, rows, batch, unroll,
// bits, quant. All bindings read_write (see qmatvec.wgsl).
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> codes: array<u32>;
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// The up matrix: codes and scales laid out as the gate's.
@group(0) @binding(4) var<storage, read_write> codes_up: array<u32>;
@group(0) @binding(5) var<storage, read_write> scales_up: array<u32>;
// batch, rows, cols, workgroups per grid row (the launch's info words, always bound last).
@group(0) @binding(6) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const LANES: u32 = {{ lanes }}u;
const ROWS: u32 = {{ rows }}u;
const BATCH: u32 = {{ batch }}u;
const UNROLL: u32 = {{ unroll }}u;
const BITS: u32 = {{ bits }}u;

{{ quant }}

const XV: u32 = PER_WORD / 4u;
// Rows per invocation across both matrices (the gate's ROWS, then the up matrix's), and
// accumulators: acc[m * BATCH + b] for row m of those.
const PAIR: u32 = 2u * ROWS;
const ACC: u32 = PAIR * BATCH;

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
    let words_per_row = cols / PER_WORD;
    var acc: array<f32, ACC>;
    for (var i = 0u; i < ACC; i++) {
        acc[i] = 0.0;
    }
    if (first < rows) {
        for (var base = lane; base < words_per_row; base += LANES * UNROLL) {
            // As in qmatvec_words.wgsl: every load first, the ends clamped, a dead word's
            // scale zero.
            var words: array<u32, UNROLL * PAIR>;
            var s: array<f32, UNROLL * PAIR>;
            for (var k = 0u; k < UNROLL; k++) {
                let w = base + k * LANES;
                let live = select(0.0, 1.0, w < words_per_row);
                let wc = min(w, words_per_row - 1u);
                for (var r = 0u; r < ROWS; r++) {
                    let index = min(first + r, rows - 1u) * words_per_row + wc;
                    let block = index / WORDS_PER_BLOCK;
                    words[k * PAIR + r] = codes[index];
                    words[k * PAIR + ROWS + r] = codes_up[index];
                    s[k * PAIR + r] = live * scale(block);
                    s[k * PAIR + ROWS + r] = live * scale_up(block);
                }
            }
            for (var k = 0u; k < UNROLL; k++) {
                let wc = min(base + k * LANES, words_per_row - 1u);
                var w: array<vec4<f32>, PAIR * XV>;
                for (var m = 0u; m < PAIR; m++) {
                    for (var v = 0u; v < XV; v++) {
                        w[m * XV + v] = codes4(words[k * PAIR + m], v * 4u);
                    }
                }
                for (var b = 0u; b < BATCH; b++) {
                    for (var v = 0u; v < XV; v++) {
                        let xv = vec4<f32>(x[(b * cols) / 4u + wc * XV + v]);
                        for (var m = 0u; m < PAIR; m++) {
                            acc[m * BATCH + b] = fma(s[k * PAIR + m], dot(w[m * XV + v], xv),
                                acc[m * BATCH + b]);
                        }
                    }
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
        for (var h = LANES / 2u; h > 0u; h /= 2u) {
            if (lane < h) {
                for (var i = 0u; i < ACC; i++) {
                    partial[i * WG + lid] += partial[i * WG + lid + h];
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
