// The SwiGLU MLP's first half for decode in one launch, y[b, r] = silu(x[b] . G[r]) * (x[b] .
// U[r]), with G (gate) and U (up) packed alike (crate/janus-model/src/quant/pack.rs), in
// qmatvec_flat.wgsl's walk: a group of LANES invocations owns one output row of both matrices;
// each invocation takes UNROLL 16-byte loads of each per trip, in straight-line code, and each
// vector of x, loaded once, serves both; up to BATCH rows of x, f32 accumulation. Replaces
// three launches (two products and the gate) per layer. Bindings (all read_write but params, see
// qmatvec_flat.wgsl) and template values as qmatvec_flat.wgsl's, with the up matrix's codes and
// scales after the gate's and without RESIDUAL or ROPE; rows (1 | 2 | 4) as its ROWS (with
// ROWS > 1, UNROLL is 1); a load past the row's end is weighed 0.
// With NORM (template values norm, epilogue_bindings, gain_body, residual_body and
// params_binding, as qmatvec_flat.wgsl's) x is the residual stream and both products are of its
// RMSNorm, x * g / rms(x), saving the norm's own launch in decode.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> codes: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
// The up matrix: codes and scales laid out as the gate's.
@group(0) @binding(4) var<storage, read_write> codes_up: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> scales_up: array<u32>;
{{ epilogue_bindings }}
// batch, rows, cols, workgroups per grid row, then with NORM the norm's epsilon (f32 bits).
@group(0) @binding({{ params_binding }}) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
const LANES: u32 = {{ lanes }}u;
const UNROLL: u32 = {{ unroll }}u;
const ROWS: u32 = {{ rows }}u;
// Loads per row per trip: UNROLL with one row, else 1.
const TRIP: u32 = select(UNROLL, 1u, ROWS > 1u);
const BITS: u32 = {{ bits }}u;
const BATCH: u32 = {{ batch }}u;
const NORM: bool = {{ norm }}u == 1u;

{{ quant }}

const PER_LOAD: u32 = 4u * PER_WORD;

// Gate sums in .x, up sums in .y: [ROWS, BATCH, WG].
var<workgroup> partial: array<vec2<f32>, WG * BATCH * ROWS>;
// With NORM: the lanes' sums of squares of x.
var<workgroup> partial_sq: array<f32, WG * BATCH>;

fn scale_up(block: u32) -> f32 {
    let pair = unpack2x16float(scales_up[block / 2u]);
    return select(pair.x, pair.y, (block & 1u) == 1u);
}

// The norm weight's vector v at load l's columns (NORM), else 1.
fn gain(l: u32, v: u32) -> vec4<f32> {
    {{ gain_body }}
}

// Unused here (no residual connection after the SwiGLU pair); its template value fills it.
fn residual(i: u32) -> f32 {
    {{ residual_body }}
}

// Vector v of x's batch row b at load l's columns, as stored.
fn xr(b: u32, cols: u32, l: u32, v: u32) -> vec4<f32> {
    return vec4<f32>(x[(b * cols + l * PER_LOAD) / 4u + v]);
}

// The same vector as the products take it: times the norm weight with NORM.
fn xv(b: u32, cols: u32, l: u32, v: u32) -> vec4<f32> {
    return xr(b, cols, l, v) * gain(l, v);
}

// The squares of x over load l's columns, batch row b (NORM).
fn squares(b: u32, cols: u32, l: u32) -> f32 {
    var q = 0.0;
    for (var v = 0u; v < PER_LOAD / 4u; v++) {
        let e = xr(b, cols, l, v);
        q += dot(e, e);
    }
    return q;
}

// Vector v of a load: its codes (w: gate, u: up) against x's vector, both products.
fn pair_vec(w: u32, u: u32, j: u32, xs: vec4<f32>) -> vec2<f32> {
    return vec2<f32>(dot(codes4(w, j), xs), dot(codes4(u, j), xs));
}

// Load l of the gate's row (w) and the up matrix's (u) against batch row b, unscaled.
fn pair_dot(w: vec4<u32>, u: vec4<u32>, b: u32, cols: u32, l: u32) -> vec2<f32> {
    if (BITS == 4u) {
        return pair_vec(w.x, u.x, 0u, xv(b, cols, l, 0u)) + pair_vec(w.x, u.x, 4u, xv(b, cols, l, 1u))
            + pair_vec(w.y, u.y, 0u, xv(b, cols, l, 2u)) + pair_vec(w.y, u.y, 4u, xv(b, cols, l, 3u))
            + pair_vec(w.z, u.z, 0u, xv(b, cols, l, 4u)) + pair_vec(w.z, u.z, 4u, xv(b, cols, l, 5u))
            + pair_vec(w.w, u.w, 0u, xv(b, cols, l, 6u)) + pair_vec(w.w, u.w, 4u, xv(b, cols, l, 7u));
    }
    return pair_vec(w.x, u.x, 0u, xv(b, cols, l, 0u)) + pair_vec(w.y, u.y, 0u, xv(b, cols, l, 1u))
        + pair_vec(w.z, u.z, 0u, xv(b, cols, l, 2u)) + pair_vec(w.w, u.w, 0u, xv(b, cols, l, 3u));
}

// With ROWS > 1: up to four rows' sums (one row per component) of both products.
struct Sums {
    gate: vec4<f32>,
    up: vec4<f32>,
}

// Vector j of word i of the gate's and the up matrix's loads (w0..w3, u0..u3: one row per
// component) with x's vector xs.
fn rows_pair(w0: vec4<u32>, w1: vec4<u32>, w2: vec4<u32>, w3: vec4<u32>, u0: vec4<u32>,
             u1: vec4<u32>, u2: vec4<u32>, u3: vec4<u32>, i: u32, j: u32, xs: vec4<f32>) -> Sums {
    let kg = vec4<u32>(w0[i], w1[i], w2[i], w3[i]);
    let ku = vec4<u32>(u0[i], u1[i], u2[i], u3[i]);
    return Sums(rows_vec(ROWS, kg, j, xs), rows_vec(ROWS, ku, j, xs));
}

fn add(a: Sums, b: Sums) -> Sums {
    return Sums(a.gate + b.gate, a.up + b.up);
}

// Load l of the group's gate rows (w0..w3) and up rows (u0..u3; those past ROWS ignored)
// against batch row b, unscaled: each vector of x loaded once for every row of both. Written
// out, as pair_dot: no loop, no index known only at run time.
fn rows_dot(w0: vec4<u32>, w1: vec4<u32>, w2: vec4<u32>, w3: vec4<u32>, u0: vec4<u32>,
            u1: vec4<u32>, u2: vec4<u32>, u3: vec4<u32>, b: u32, cols: u32, l: u32) -> Sums {
    if (BITS == 4u) {
        var s = add(rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 0u, 0u, xv(b, cols, l, 0u)),
                    rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 0u, 4u, xv(b, cols, l, 1u)));
        s = add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 1u, 0u, xv(b, cols, l, 2u)));
        s = add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 1u, 4u, xv(b, cols, l, 3u)));
        s = add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 2u, 0u, xv(b, cols, l, 4u)));
        s = add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 2u, 4u, xv(b, cols, l, 5u)));
        s = add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 3u, 0u, xv(b, cols, l, 6u)));
        return add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 3u, 4u, xv(b, cols, l, 7u)));
    }
    var s = add(rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 0u, 0u, xv(b, cols, l, 0u)),
                rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 1u, 0u, xv(b, cols, l, 1u)));
    s = add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 2u, 0u, xv(b, cols, l, 2u)));
    return add(s, rows_pair(w0, w1, w2, w3, u0, u1, u2, u3, 3u, 0u, xv(b, cols, l, 3u)));
}

// Both scales of load index i, weighed 0 when `keep` is false.
fn pair_scale(i: u32, keep: bool) -> vec2<f32> {
    let block = i * 4u / WORDS_PER_BLOCK;
    return select(vec2<f32>(0.0), vec2<f32>(scale(block), scale_up(block)), keep);
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[1];
    let cols = params[2];
    let lane = lid % LANES;
    // This group of lanes owns output rows first .. first + ROWS - 1.
    let first = ((wid.y * params[3] + wid.x) * (WG / LANES) + lid / LANES) * ROWS;
    let n = cols / PER_LOAD;
    // A row past the end computes the last row's sums (never written; see qmatvec_flat.wgsl).
    let base = min(first, rows - 1u) * n;
    // With ROWS > 1, the other rows' (a row past ROWS repeats the first, unused).
    var bases = vec4<u32>(base);
    if (ROWS >= 2u) {
        bases.y = min(first + 1u, rows - 1u) * n;
    }
    if (ROWS >= 4u) {
        bases.z = min(first + 2u, rows - 1u) * n;
        bases.w = min(first + 3u, rows - 1u) * n;
    }
    // Row k's gate and up sums of batch row b in component k.
    var gate: array<vec4<f32>, BATCH>;
    var up: array<vec4<f32>, BATCH>;
    var sq: array<f32, BATCH>;
    for (var l0 = lane; l0 < n; l0 += LANES * TRIP) {
        if (ROWS > 1u) {
            // One load of each row of both matrices at the same columns (UNROLL is 1).
            let w0 = codes[bases.x + l0];
            let u0 = codes_up[bases.x + l0];
            let w1 = codes[bases.y + l0];
            let u1 = codes_up[bases.y + l0];
            var w2 = w0;
            var w3 = w0;
            var u2 = u0;
            var u3 = u0;
            let s0 = pair_scale(bases.x + l0, true);
            let s1 = pair_scale(bases.y + l0, true);
            var s2 = vec2<f32>(0.0);
            var s3 = vec2<f32>(0.0);
            if (ROWS >= 4u) {
                w2 = codes[bases.z + l0];
                u2 = codes_up[bases.z + l0];
                w3 = codes[bases.w + l0];
                u3 = codes_up[bases.w + l0];
                s2 = pair_scale(bases.z + l0, true);
                s3 = pair_scale(bases.w + l0, true);
            }
            for (var b = 0u; b < BATCH; b++) {
                let d = rows_dot(w0, w1, w2, w3, u0, u1, u2, u3, b, cols, l0);
                gate[b] += vec4<f32>(s0.x, s1.x, s2.x, s3.x) * d.gate;
                up[b] += vec4<f32>(s0.y, s1.y, s2.y, s3.y) * d.up;
                if (NORM) {
                    sq[b] += squares(b, cols, l0);
                }
            }
            continue;
        }
        let l1 = min(l0 + LANES, n - 1u);
        let l2 = min(l0 + 2u * LANES, n - 1u);
        let l3 = min(l0 + 3u * LANES, n - 1u);
        let w0 = codes[base + l0];
        let u0 = codes_up[base + l0];
        let s0 = pair_scale(base + l0, true);
        var w1 = w0;
        var w2 = w0;
        var w3 = w0;
        var u1 = u0;
        var u2 = u0;
        var u3 = u0;
        var s1 = vec2<f32>(0.0);
        var s2 = vec2<f32>(0.0);
        var s3 = vec2<f32>(0.0);
        if (UNROLL >= 2u) {
            w1 = codes[base + l1];
            u1 = codes_up[base + l1];
            s1 = pair_scale(base + l1, l0 + LANES < n);
        }
        if (UNROLL >= 4u) {
            w2 = codes[base + l2];
            u2 = codes_up[base + l2];
            w3 = codes[base + l3];
            u3 = codes_up[base + l3];
            s2 = pair_scale(base + l2, l0 + 2u * LANES < n);
            s3 = pair_scale(base + l3, l0 + 3u * LANES < n);
        }
        for (var b = 0u; b < BATCH; b++) {
            var d = s0 * pair_dot(w0, u0, b, cols, l0);
            if (UNROLL >= 2u) {
                d += s1 * pair_dot(w1, u1, b, cols, l1);
            }
            if (UNROLL >= 4u) {
                d += s2 * pair_dot(w2, u2, b, cols, l2) + s3 * pair_dot(w3, u3, b, cols, l3);
            }
            gate[b].x += d.x;
            up[b].x += d.y;
            if (NORM) {
                // The same loads of x, each counted once: those past the row's end are not.
                var q = squares(b, cols, l0);
                if (UNROLL >= 2u && l0 + LANES < n) {
                    q += squares(b, cols, l1);
                }
                if (UNROLL >= 4u && l0 + 2u * LANES < n) {
                    q += squares(b, cols, l2);
                }
                if (UNROLL >= 4u && l0 + 3u * LANES < n) {
                    q += squares(b, cols, l3);
                }
                sq[b] += q;
            }
        }
    }
    if (LANES > 1u) {
        for (var k = 0u; k < ROWS; k++) {
            for (var b = 0u; b < BATCH; b++) {
                partial[(k * BATCH + b) * WG + lid] = vec2<f32>(gate[b][k], up[b][k]);
            }
        }
        if (NORM) {
            for (var b = 0u; b < BATCH; b++) {
                partial_sq[b * WG + lid] = sq[b];
            }
        }
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s /= 2u) {
            if (lane < s) {
                for (var i = 0u; i < ROWS * BATCH; i++) {
                    partial[i * WG + lid] += partial[i * WG + lid + s];
                }
                if (NORM) {
                    for (var b = 0u; b < BATCH; b++) {
                        partial_sq[b * WG + lid] += partial_sq[b * WG + lid + s];
                    }
                }
            }
            workgroupBarrier();
        }
        if (lane != 0u) {
            return;
        }
        for (var k = 0u; k < ROWS; k++) {
            for (var b = 0u; b < BATCH; b++) {
                let v = partial[(k * BATCH + b) * WG + lid];
                gate[b][k] = v.x;
                up[b][k] = v.y;
            }
        }
        if (NORM) {
            for (var b = 0u; b < BATCH; b++) {
                sq[b] = partial_sq[b * WG + lid];
            }
        }
    }
    for (var k = 0u; k < ROWS; k++) {
        let row = first + k;
        if (row >= rows) {
            continue;
        }
        for (var b = 0u; b < BATCH; b++) {
            var v = vec2<f32>(gate[b][k], up[b][k]);
            if (NORM) {
                // 1 / rms(x) = 1 / sqrt(mean(x^2) + eps), in f32 as rms_norm.wgsl.
                v *= inverseSqrt(sq[b] / f32(cols) + bitcast<f32>(params[4]));
            }
            y[b * rows + row] = swiglu(v.x, v.y);
        }
    }
}

// As the reference: each product rounded to the working type, silu(gate) too.
fn swiglu(gate: f32, up: f32) -> {{ elem }} {
    let g = f32({{ elem }}(gate));
    return {{ elem }}(g / (1.0 + exp(-g))) * {{ elem }}(up);
}
