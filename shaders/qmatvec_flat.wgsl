// Block-quantised matrix-vector product for decode: y[b, r] = sum_c x[b, c] * W[r, c] for up to
// 8 rows b of x at once (BATCH; the CFG pair, or a chunk of a prompt), W in the packed form of
// crate/janus-model/src/quant/pack.rs (32 weights per block, one f16 scale each). Every 16-byte
// load of codes is dequantised in registers and used for every batch row, so the weights are
// read once per launch; accumulation in f32. Workgroups beyond 65,535 spill into the grid's y
// dimension (WebGPU's per-dimension limit).
// The walk is written so that a lane's loads are issued together: a group of LANES invocations
// owns one output row (or ROWS, below); each invocation takes UNROLL of the row's 16-byte loads
// per trip (LANES apart), and for each the vectors of x it meets, all in straight-line code with
// no arrays indexed at run time, so the compiler can issue every load of a trip before it waits
// for the first. The lanes' partial sums meet in workgroup memory. The GPUs' layout before this
// one walked the same loads through loops over arrays (`shared`, since removed): on an H200 its
// products took twice as long, several waits for memory in a row (BENCHMARKS.md).
// A load past the row's end (the last trip) reads the row's last load again and weighs it 0.
// ROWS (1 | 2 | 4; with ROWS > 1, UNROLL is 1) rows per group of lanes: each invocation loads
// the same columns of every row it owns, so each vector of x it loads serves ROWS rows (with
// one row, x's vectors are 4 times the bytes of the weights they meet in f16, 8 in f32), and
// ROWS loads of weights are in flight per trip instead of one.
// Three steps of decode can ride along, each saving the launch of a kernel of their own
// (kernels/qmatvec.rs, `Epilogue`):
// - NORM: x is the residual stream, and the product is of its RMSNorm, x * g / rms(x). Every
//   row's lanes together load all of x anyway, so they sum its squares as they go; the norm
//   weight g is read alongside x; the row's sum is scaled by 1 / rms(x) at the end.
// - RESIDUAL: y = r + x W^T, the residual connection after the product.
// - ROPE (decode's joint q/k/v product, W = q, k and v one under another, [(heads + 2 kv) D,
//   cols]): the rotary embedding and KV-cache write of rope_kv.wgsl, at the position the decode
//   state holds. The rows are taken in an order that puts the two rows of a rotation pair (j and
//   j + D/2 of one head) in adjacent row slots of a workgroup, so each row's lane 0 finds its
//   partner's sum in workgroup memory once the lanes have reduced. y holds the rotated queries,
//   [B, heads, D]; the rotated key and the value go into the caches.
// Template values ({{ name }}, filled by kernels/qmatvec.rs): elem, enable_f16, wg, lanes,
// unroll (1 | 2 | 4), rows (1 | 2 | 4), batch (1..=8), bits (8 | 4), quant (shaders/quant.wgsl),
// norm, residual and rope (0 | 1), epilogue_bindings, gain_body, residual_body and rope_body
// (their bindings and code), params_binding.
// Every tensor binding is declared read_write although only y (and with ROPE the caches) is
// written: burn's memory pool places several tensors in one wgpu buffer, and a buffer bound both
// read-only and read-write in one dispatch is a usage conflict (burn's own kernels declare all
// bindings read_write too). `params`, the launch's info words (kernels/launch.rs `info`), is a
// uniform here, not a read-only storage buffer as in the other kernels: with ROPE the kernel
// binds eight storage buffers, the most a baseline WebGPU adapter allows per stage
// (maxStorageBuffersPerShaderStage).
{{ enable_f16 }}

// The packed codes, row-major, four words per load; each row is a whole number of loads
// because rows are whole blocks.
@group(0) @binding(0) var<storage, read_write> codes: array<vec4<u32>>;
// f16 scale bits, two per word.
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
// [batch, cols] activations (cols a multiple of 32, so rows are whole vectors).
@group(0) @binding(2) var<storage, read_write> x: array<vec4<{{ elem }}>>;
// [batch, rows] output (with ROPE the rotated queries, [batch, heads * D]).
@group(0) @binding(3) var<storage, read_write> y: array<{{ elem }}>;
{{ epilogue_bindings }}
// batch, rows, cols, workgroups per grid row (the grid's x size), the norm's epsilon (f32 bits,
// NORM), then with ROPE heads, kv_heads, D and the caches' capacity; zeros after (kernels/
// qmatvec.rs `PARAMS`: a uniform's size is fixed).
@group(0) @binding({{ params_binding }}) var<uniform> params: array<vec4<u32>, 3>;

const WG: u32 = {{ wg }}u;
const LANES: u32 = {{ lanes }}u;
const UNROLL: u32 = {{ unroll }}u;
const ROWS: u32 = {{ rows }}u;
// Loads per row per trip: UNROLL with one row, else 1.
const TRIP: u32 = select(UNROLL, 1u, ROWS > 1u);
const BITS: u32 = {{ bits }}u;
const BATCH: u32 = {{ batch }}u;
const NORM: bool = {{ norm }}u == 1u;
const RESIDUAL: bool = {{ residual }}u == 1u;
const ROPE: bool = {{ rope }}u == 1u;

{{ quant }}

// Weights per 16-byte load.
const PER_LOAD: u32 = 4u * PER_WORD;

// The lanes' sums, [ROWS, BATCH, WG].
var<workgroup> partial: array<f32, WG * BATCH * ROWS>;
// With NORM: the lanes' sums of squares of x.
var<workgroup> partial_sq: array<f32, WG * BATCH>;

// The norm weight's vector v at load l's columns (NORM), else 1.
fn gain(l: u32, v: u32) -> vec4<f32> {
    {{ gain_body }}
}

// The residual stream's value i (RESIDUAL), else 0.
fn residual(i: u32) -> f32 {
    {{ residual_body }}
}

// Launch parameter i.
fn param(i: u32) -> u32 {
    return params[i / 4u][i % 4u];
}

// With ROPE: matrix row `row`'s sum of batch row b (normed), rotated with its partner's where
// it is a query or key dimension, stored where it belongs (else nothing).
fn rope_store(b: u32, row: u32, value: f32, partner: f32) {
    {{ rope_body }}
}
// (With ROPE, shaders/qmatvec_rope.wgsl follows this file: its bindings and `rope_write`.)

// The matrix row that row slot `slot` computes: itself, or with ROPE the order that makes slots
// 2i and 2i + 1 a rotation pair: slot h D + w takes row h D + w / 2 (w even) or h D + D/2 +
// w / 2 (w odd). Every row is taken once, and a slot past the matrix maps past it.
fn matrix_row(slot: u32) -> u32 {
    if (!ROPE) {
        return slot;
    }
    let d = param(7u);
    let w = slot % d;
    return slot - w + w / 2u + (w % 2u) * (d / 2u);
}

// One 16-byte load of each of the group's rows (w0..w3, load l of each; those past ROWS
// ignored) against batch row b, unscaled: each vector of x loaded once for every row.
fn rows_dot(w0: vec4<u32>, w1: vec4<u32>, w2: vec4<u32>, w3: vec4<u32>, b: u32, cols: u32,
            l: u32) -> vec4<f32> {
    let kx = vec4<u32>(w0.x, w1.x, w2.x, w3.x);
    let ky = vec4<u32>(w0.y, w1.y, w2.y, w3.y);
    let kz = vec4<u32>(w0.z, w1.z, w2.z, w3.z);
    let kw = vec4<u32>(w0.w, w1.w, w2.w, w3.w);
    if (BITS == 4u) {
        return rows_vec(ROWS, kx, 0u, xv(b, cols, l, 0u))
            + rows_vec(ROWS, kx, 4u, xv(b, cols, l, 1u))
            + rows_vec(ROWS, ky, 0u, xv(b, cols, l, 2u))
            + rows_vec(ROWS, ky, 4u, xv(b, cols, l, 3u))
            + rows_vec(ROWS, kz, 0u, xv(b, cols, l, 4u))
            + rows_vec(ROWS, kz, 4u, xv(b, cols, l, 5u))
            + rows_vec(ROWS, kw, 0u, xv(b, cols, l, 6u))
            + rows_vec(ROWS, kw, 4u, xv(b, cols, l, 7u));
    }
    return rows_vec(ROWS, kx, 0u, xv(b, cols, l, 0u)) + rows_vec(ROWS, ky, 0u, xv(b, cols, l, 1u))
        + rows_vec(ROWS, kz, 0u, xv(b, cols, l, 2u)) + rows_vec(ROWS, kw, 0u, xv(b, cols, l, 3u));
}

// Vector v of x's batch row b at load l's columns, as stored.
fn xr(b: u32, cols: u32, l: u32, v: u32) -> vec4<f32> {
    return vec4<f32>(x[(b * cols + l * PER_LOAD) / 4u + v]);
}

// The same vector as the product takes it: times the norm weight with NORM.
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

// One 16-byte load w (load l of its row) against batch row b, unscaled.
fn flat_dot(w: vec4<u32>, b: u32, cols: u32, l: u32) -> f32 {
    if (BITS == 4u) {
        return dot(codes4(w.x, 0u), xv(b, cols, l, 0u)) + dot(codes4(w.x, 4u), xv(b, cols, l, 1u))
            + dot(codes4(w.y, 0u), xv(b, cols, l, 2u)) + dot(codes4(w.y, 4u), xv(b, cols, l, 3u))
            + dot(codes4(w.z, 0u), xv(b, cols, l, 4u)) + dot(codes4(w.z, 4u), xv(b, cols, l, 5u))
            + dot(codes4(w.w, 0u), xv(b, cols, l, 6u)) + dot(codes4(w.w, 4u), xv(b, cols, l, 7u));
    }
    return dot(codes4(w.x, 0u), xv(b, cols, l, 0u)) + dot(codes4(w.y, 0u), xv(b, cols, l, 1u))
        + dot(codes4(w.z, 0u), xv(b, cols, l, 2u)) + dot(codes4(w.w, 0u), xv(b, cols, l, 3u));
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = param(1u);
    let cols = param(2u);
    let lane = lid % LANES;
    // This group of lanes owns row slots first_slot .. first_slot + ROWS - 1.
    let first_slot = ((wid.y * param(3u) + wid.x) * (WG / LANES) + lid / LANES) * ROWS;
    let n = cols / PER_LOAD;
    // A row past the end computes the last row's sum (never written): no branch around the
    // barriers below.
    let base = min(matrix_row(first_slot), rows - 1u) * n;
    // With ROWS > 1, the other rows' (a row past ROWS repeats the first, unused).
    var bases = vec4<u32>(base);
    if (ROWS >= 2u) {
        bases.y = min(matrix_row(first_slot + 1u), rows - 1u) * n;
    }
    if (ROWS >= 4u) {
        bases.z = min(matrix_row(first_slot + 2u), rows - 1u) * n;
        bases.w = min(matrix_row(first_slot + 3u), rows - 1u) * n;
    }
    // Row k's sum of batch row b in component k.
    var acc: array<vec4<f32>, BATCH>;
    var sq: array<f32, BATCH>;
    for (var l0 = lane; l0 < n; l0 += LANES * TRIP) {
        if (ROWS > 1u) {
            // One load of each row at the same columns (UNROLL is 1).
            let w0 = codes[bases.x + l0];
            let w1 = codes[bases.y + l0];
            var w2 = w0;
            var w3 = w0;
            var sc = vec4<f32>(scale((bases.x + l0) * 4u / WORDS_PER_BLOCK),
                               scale((bases.y + l0) * 4u / WORDS_PER_BLOCK), 0.0, 0.0);
            if (ROWS >= 4u) {
                w2 = codes[bases.z + l0];
                w3 = codes[bases.w + l0];
                sc.z = scale((bases.z + l0) * 4u / WORDS_PER_BLOCK);
                sc.w = scale((bases.w + l0) * 4u / WORDS_PER_BLOCK);
            }
            for (var b = 0u; b < BATCH; b++) {
                acc[b] += sc * rows_dot(w0, w1, w2, w3, b, cols, l0);
                if (NORM) {
                    sq[b] += squares(b, cols, l0);
                }
            }
            continue;
        }
        // This trip's loads: l0, then (UNROLL > 1) l0 + LANES, ..., clamped into the row and
        // weighed 0 past its end.
        let l1 = min(l0 + LANES, n - 1u);
        let l2 = min(l0 + 2u * LANES, n - 1u);
        let l3 = min(l0 + 3u * LANES, n - 1u);
        let w0 = codes[base + l0];
        let s0 = scale((base + l0) * 4u / WORDS_PER_BLOCK);
        var w1 = w0;
        var w2 = w0;
        var w3 = w0;
        var s1 = 0.0;
        var s2 = 0.0;
        var s3 = 0.0;
        if (UNROLL >= 2u) {
            w1 = codes[base + l1];
            s1 = select(0.0, scale((base + l1) * 4u / WORDS_PER_BLOCK), l0 + LANES < n);
        }
        if (UNROLL >= 4u) {
            w2 = codes[base + l2];
            w3 = codes[base + l3];
            s2 = select(0.0, scale((base + l2) * 4u / WORDS_PER_BLOCK), l0 + 2u * LANES < n);
            s3 = select(0.0, scale((base + l3) * 4u / WORDS_PER_BLOCK), l0 + 3u * LANES < n);
        }
        for (var b = 0u; b < BATCH; b++) {
            var d = s0 * flat_dot(w0, b, cols, l0);
            if (UNROLL >= 2u) {
                d += s1 * flat_dot(w1, b, cols, l1);
            }
            if (UNROLL >= 4u) {
                d += s2 * flat_dot(w2, b, cols, l2) + s3 * flat_dot(w3, b, cols, l3);
            }
            acc[b].x += d;
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
                partial[(k * BATCH + b) * WG + lid] = acc[b][k];
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
                acc[b][k] = partial[(k * BATCH + b) * WG + lid];
            }
        }
        if (NORM) {
            for (var b = 0u; b < BATCH; b++) {
                sq[b] = partial_sq[b * WG + lid];
            }
        }
    }
    for (var k = 0u; k < ROWS; k++) {
        let row = matrix_row(first_slot + k);
        if (row >= rows) {
            continue;
        }
        for (var b = 0u; b < BATCH; b++) {
            var norm = 1.0;
            if (NORM) {
                // 1 / rms(x) = 1 / sqrt(mean(x^2) + eps), in f32 as rms_norm.wgsl.
                norm = inverseSqrt(sq[b] / f32(cols) + bitcast<f32>(param(4u)));
            }
            if (ROPE) {
                // The partner row sits in the neighbouring row slot (slot ^ 1): with ROWS > 1
                // this group's row k ^ 1; with one row the neighbouring group's, its lane 0's
                // sum in `partial` since the reduction's last barrier (LANES > 1, two or more
                // groups per workgroup: kernels/qmatvec.rs declines other layouts). Both rows
                // are of the same x: one norm.
                var partner = 0.0;
                if (ROWS > 1u) {
                    partner = acc[b][k ^ 1u];
                } else {
                    partner = partial[b * WG + (lid ^ LANES)];
                }
                rope_store(b, row, acc[b][k] * norm, partner * norm);
            } else {
                y[b * rows + row] = {{ elem }}(acc[b][k] * norm + residual(b * rows + row));
            }
        }
    }
}
