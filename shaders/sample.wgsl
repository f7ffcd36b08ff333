// Choose the next token of every sequence on the GPU, so a generation loop reads back at most
// one id per step (text) or nothing per step (images): classifier-free guidance, temperature,
// top-k, top-p and a seeded draw, one workgroup per sequence.
//
// Rows of `logits` are [rows, K]. With guidance (`paired`), rows 2i and 2i+1 are the
// conditional and unconditional logits of sequence i, mixed as g = u + w (c - u), and both rows
// of the pair receive the chosen id (they continue with the same token). Without it every row is
// its own sequence and g = c.
//
// The draw is the Gumbel-max trick: argmax over the kept tokens of g/T + G with G = -log(-log U)
// exactly samples softmax(g/T) restricted to them. U comes from a counter-based hash of (seed,
// step, sequence, token): the same seed gives the same tokens on any adapter, with no state
// carried between steps. Top-k and top-p become thresholds on g/T found by bisection (a sort of
// the 102,400-token vocabulary is not needed): top-k keeps s >= the k-th largest s; top-p then
// keeps the smallest set of most likely tokens whose probability reaches p. T = 0 is greedy
// (argmax of g, lowest index on ties, as the host sampler).
//
// Every loop that holds a barrier has a constant trip count, so control flow at barriers is
// uniform whatever the parameters say (parameters live in a storage buffer, which WGSL does not
// treat as uniform). Template values (kernels/sample.rs): elem, enable_f16, wg.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> logits: array<{{ elem }}>;
// [rows] chosen ids (i32).
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
// [sequences, K] scratch: s = g / T, then reused by every pass.
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
// [rows, columns] every id chosen so far (i32): this step's go to column `step`.
@group(0) @binding(3) var<storage, read_write> history: array<i32>;
// The decode state (i32, model/cursor.rs): position, then `step`, the index of the token being
// chosen, which keys the draw. On the device so that one launch serves every step of a
// captured graph (kernels/graph.rs).
@group(0) @binding(4) var<storage, read_write> state: array<i32>;
// K, paired (0 | 1), history columns, seed low, seed high, greedy (0 | 1), top_k (0: all),
// then f32 bits: w, 1 / T, top_p.
@group(0) @binding(5) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
// What the step does, a template constant so that a loop's choice runs only the passes it
// needs: 0 greedy (pass 1 only), 1 a draw from every token (pass 1 and the draw), 2 a draw
// with top-k or top-p (every pass: the thresholds' bisections cost ~100 sweeps of the logits).
const MODE: u32 = {{ mode }}u;
// Bisection steps: the f32 interval between min and max shrinks below one ulp well before.
const STEPS: u32 = 48u;
const NEG: f32 = -3.4e38;

var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;
var<workgroup> red_w: array<f32, WG>;

fn hash(x: u32) -> u32 {
    // lowbias32 (Wellons): a good 32-bit integer mix.
    var v = x;
    v ^= v >> 16u;
    v *= 0x7feb352du;
    v ^= v >> 15u;
    v *= 0x846ca68bu;
    v ^= v >> 16u;
    return v;
}

// Sum of red_v and red_w over the workgroup, into red_v[0] and red_w[0].
fn reduce_sums(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            red_v[lid] += red_v[lid + s];
            red_w[lid] += red_w[lid + s];
        }
        workgroupBarrier();
    }
}

// Max of red_v (lowest red_i on ties) and min of red_w, into [0].
fn reduce_best(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            let v = red_v[lid + s];
            let i = red_i[lid + s];
            if (v > red_v[lid] || (v == red_v[lid] && i < red_i[lid])) {
                red_v[lid] = v;
                red_i[lid] = i;
            }
            red_w[lid] = min(red_w[lid], red_w[lid + s]);
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let seq = wid.x;
    let k_count = params[0];
    let paired = params[1] == 1u;
    let greedy = params[5] == 1u;
    let top_k = params[6];
    let w = bitcast<f32>(params[7]);
    let inv_t = bitcast<f32>(params[8]);
    let top_p = bitcast<f32>(params[9]);
    let row = select(seq, 2u * seq, paired);
    let base = row * k_count;
    let scratch = seq * k_count;

    // Pass 1: guided logits g, scores s = g / T (kept), the best g and the range of s.
    var best_v = NEG;
    var best_i = 0u;
    var lo = -NEG;
    var hi = NEG;
    for (var k = lid; k < k_count; k += WG) {
        let c = f32(logits[base + k]);
        var g = c;
        if (paired) {
            let u = f32(logits[base + k_count + k]);
            g = u + w * (c - u);
        }
        let s = select(g * inv_t, g, greedy);
        if (MODE != 0u) {
            scores[scratch + k] = s;
        }
        // NaN never compares greater: such tokens are never chosen (as on the host).
        if (g > best_v) {
            best_v = g;
            best_i = k;
        }
        if (s == s) {
            lo = min(lo, s);
            hi = max(hi, s);
        }
    }
    red_v[lid] = best_v;
    red_i[lid] = best_i;
    red_w[lid] = lo;
    reduce_best(lid);
    let greedy_id = red_i[0];
    let s_min = red_w[0];
    workgroupBarrier();
    if (MODE == 0u) {
        if (lid == 0u) {
            emit(row, i32(greedy_id), paired);
        }
        return;
    }
    // Every token is kept unless top-k or top-p say otherwise.
    var floor_p = NEG;
    if (MODE == 2u) {
        red_v[lid] = hi;
        red_i[lid] = 0u;
        red_w[lid] = 0.0;
        reduce_best(lid);
        let s_max = red_v[0];
        workgroupBarrier();

        // Top-k: the largest t with #{s >= t} >= k (t = s_min keeps everything).
        var t_lo = s_min;
        var t_hi = s_max;
        let want = select(k_count, min(top_k, k_count), top_k > 0u);
        for (var it = 0u; it < STEPS; it++) {
            let mid = t_lo + (t_hi - t_lo) * 0.5;
            var count = 0.0;
            for (var k = lid; k < k_count; k += WG) {
                count += select(0.0, 1.0, scores[scratch + k] >= mid);
            }
            red_v[lid] = count;
            red_w[lid] = 0.0;
            reduce_sums(lid);
            if (red_v[0] >= f32(want)) {
                t_lo = mid;
            } else {
                t_hi = mid;
            }
            workgroupBarrier();
        }
        let floor_k = t_lo;

        // Top-p over the top-k set: the largest t with mass(s >= t) >= p * mass(s >= floor_k),
        // masses of exp(s - s_max) (each <= 1).
        var total = 0.0;
        for (var k = lid; k < k_count; k += WG) {
            let s = scores[scratch + k];
            total += select(0.0, exp(s - s_max), s >= floor_k);
        }
        red_v[lid] = total;
        red_w[lid] = 0.0;
        reduce_sums(lid);
        let goal = top_p * red_v[0];
        workgroupBarrier();
        t_lo = floor_k;
        t_hi = s_max;
        for (var it = 0u; it < STEPS; it++) {
            let mid = t_lo + (t_hi - t_lo) * 0.5;
            var mass = 0.0;
            for (var k = lid; k < k_count; k += WG) {
                let s = scores[scratch + k];
                mass += select(0.0, exp(s - s_max), s >= mid);
            }
            red_v[lid] = mass;
            red_w[lid] = 0.0;
            reduce_sums(lid);
            if (red_v[0] >= goal) {
                t_lo = mid;
            } else {
                t_hi = mid;
            }
            workgroupBarrier();
        }
        floor_p = select(floor_k, t_lo, top_p < 1.0);
    }

    // The draw: argmax of s + Gumbel noise over the kept tokens.
    let step = u32(state[1]);
    let key = hash(hash(hash(hash(params[3]) ^ params[4]) ^ step) ^ (seq * 0x9e3779b9u));
    var draw_v = NEG;
    var draw_i = 0u;
    for (var k = lid; k < k_count; k += WG) {
        let s = scores[scratch + k];
        if (s >= floor_p) {
            let u = (f32(hash(key ^ hash(k)) >> 8u) + 0.5) / 16777216.0;
            let v = s - log(-log(u));
            if (v > draw_v) {
                draw_v = v;
                draw_i = k;
            }
        }
    }
    red_v[lid] = draw_v;
    red_i[lid] = draw_i;
    red_w[lid] = 0.0;
    reduce_best(lid);
    if (lid == 0u) {
        emit(row, i32(select(red_i[0], greedy_id, greedy)), paired);
    }
}

// The chosen id into `out` and the history's column `step`, for the row and its pair.
fn emit(row: u32, id: i32, paired: bool) {
    let step = u32(state[1]);
    let columns = params[2];
    let rows = select(1u, 2u, paired);
    for (var r = row; r < row + rows; r++) {
        out[r] = id;
        if (step < columns) {
            history[r * columns + step] = id;
        }
    }
}
