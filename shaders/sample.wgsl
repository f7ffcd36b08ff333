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
// carried between steps. Top-k and top-p become thresholds on s = g/T found by searching the
// interval [min s, max s] (a sort of the 102,400-token vocabulary is not needed): top-k keeps
// s >= the k-th largest s; top-p then keeps the smallest set of most likely tokens whose
// probability reaches p. T = 0 is greedy (argmax of g, lowest index on ties, as the host
// sampler).
//
// A search sweeps the scores once per step, and one workgroup does it alone, so its cost is a
// chain of waits for memory (on a GPU) or of barriers (on a CPU adapter): each sweep tries 7
// thresholds at once, narrowing the interval 8 times where a bisection's midpoint halves it,
// and each invocation takes four consecutive tokens per load. 16 sweeps find the thresholds of
// 48 halvings. On lavapipe the chat's defaults (T 0.7, top-p 0.95, 102,400 tokens) took 117 ms
// per choice with a bisection of one token per load, 45 with four tokens per load, 18.8 with
// 7 thresholds per sweep (BENCHMARKS.md).
//
// A JSON reply (crate/janus-model/src/generate/json) restricts the choice to the tokens its
// grammar allows next (MASKED, `allowed`): the others are treated as past the vocabulary's end
// (never chosen, not counted by top-k, no mass for top-p), so the draw is softmax(g / T) over
// the allowed tokens, as on the host.
//
// Every loop that holds a barrier has a constant trip count, so control flow at barriers is
// uniform whatever the parameters say (parameters live in a storage buffer, which WGSL does not
// treat as uniform). Template values (kernels/sample.rs): elem, enable_f16, wg, mode, top_k,
// top_p, masked.
{{ enable_f16 }}

@group(0) @binding(0) var<storage, read_write> logits: array<{{ elem }}>;
// [rows] chosen ids (i32).
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
// [sequences, ceil(K / 4)] scratch, four tokens per vector: s = g / T (NEG past the end), then
// read by every later pass.
@group(0) @binding(2) var<storage, read_write> scores: array<vec4<f32>>;
// [rows, columns] every id chosen so far (i32): this step's go to column `step`.
@group(0) @binding(3) var<storage, read_write> history: array<i32>;
// The decode state (i32, model/cursor.rs): position, then `step`, the index of the token being
// chosen, which keys the draw. On the device so that one launch serves every step of a
// captured graph (kernels/graph.rs).
@group(0) @binding(4) var<storage, read_write> state: array<i32>;
// [ceil(K / 32)] (MASKED only; one unread word otherwise): token k may be chosen where bit
// k % 32 of word k / 32 is set. Shared by every sequence; the host rewrites it between steps.
@group(0) @binding(5) var<storage, read_write> allowed: array<u32>;
// K, paired (0 | 1), history columns, seed low, seed high, greedy (0 | 1), top_k (0: all),
// then f32 bits: w, 1 / T, top_p.
@group(0) @binding(6) var<storage, read> params: array<u32>;

const WG: u32 = {{ wg }}u;
// What the step does, template constants so that a loop's choice runs only the passes it
// needs: MODE 0 greedy (pass 1 only), 1 a draw from every token (pass 1 and the draw), 2 a draw
// from the tokens top-k (TOP_K) and top-p (TOP_P) keep, each a search of SWEEPS sweeps.
const MODE: u32 = {{ mode }}u;
const TOP_K: bool = {{ top_k }}u == 1u;
const TOP_P: bool = {{ top_p }}u == 1u;
const MASKED: bool = {{ masked }}u == 1u;
// Sweeps per search, each narrowing the interval 8 times: 48 halvings in all, and the f32
// interval between min and max shrinks below one ulp well before.
const SWEEPS: u32 = 16u;
// Below every score a token can have: the scratch's padding past K, never counted or drawn.
const NEG: f32 = -3.4e38;

var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;
var<workgroup> red_w: array<f32, WG>;
// A sweep's counts (or masses) at its thresholds 1-4 and 5-8 (8: the interval's top).
var<workgroup> red_a: array<vec4<f32>, WG>;
var<workgroup> red_b: array<vec4<f32>, WG>;

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

// Sum of red_v over the workgroup, into red_v[0].
fn reduce_sum(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if (lid < s) {
            red_v[lid] += red_v[lid + s];
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

// The guided logit g of token k (k < K) of the sequence whose first row starts at `base`.
fn guided(base: u32, k_count: u32, k: u32, paired: bool, w: f32) -> f32 {
    let c = f32(logits[base + k]);
    if (paired) {
        let u = f32(logits[base + k_count + k]);
        return u + w * (c - u);
    }
    return c;
}

// How many of the four tokens `s` (or how much of their weights `w`) reach each of the four
// thresholds `t`.
fn reach(s: vec4<f32>, w: vec4<f32>, t: vec4<f32>) -> vec4<f32> {
    let z = vec4<f32>(0.0);
    return select(z, vec4<f32>(w.x), vec4<f32>(s.x) >= t)
        + select(z, vec4<f32>(w.y), vec4<f32>(s.y) >= t)
        + select(z, vec4<f32>(w.z), vec4<f32>(s.z) >= t)
        + select(z, vec4<f32>(w.w), vec4<f32>(s.w) >= t);
}

// The largest threshold t in [lo0, hi0] with f(t) >= want, to 2^-48 of the interval, where
// f(t) sums over the tokens with s >= t either 1 (`mass` false: a count) or exp(s - s_max).
// Each sweep tries the 7 thresholds that split the interval in 8 and keeps the part between
// the last that reaches `want` and the first that does not (f never grows with t, so those
// that reach it come first); `lo` reaches it throughout.
fn search(lo0: f32, hi0: f32, want: f32, mass: bool, s_max: f32, row4: u32, n4: u32, lid: u32) -> f32 {
    var lo = lo0;
    var hi = hi0;
    for (var it = 0u; it < SWEEPS; it++) {
        let width = (hi - lo) / 8.0;
        let ta = lo + width * vec4<f32>(1.0, 2.0, 3.0, 4.0);
        let tb = lo + width * vec4<f32>(5.0, 6.0, 7.0, 8.0);
        var a = vec4<f32>(0.0);
        var b = vec4<f32>(0.0);
        for (var q = lid; q < n4; q += WG) {
            let s = scores[row4 + q];
            var w = vec4<f32>(1.0);
            if (mass) {
                w = exp(s - s_max);
            }
            a += reach(s, w, ta);
            b += reach(s, w, tb);
        }
        red_a[lid] = a;
        red_b[lid] = b;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s /= 2u) {
            if (lid < s) {
                red_a[lid] += red_a[lid + s];
                red_b[lid] += red_b[lid + s];
            }
            workgroupBarrier();
        }
        // m of the 7 probes reach `want` (tb.w, the interval's top, is not a probe).
        let fa = red_a[0] >= vec4<f32>(want);
        let fb = red_b[0] >= vec4<f32>(want);
        let m = dot(select(vec4<f32>(0.0), vec4<f32>(1.0), fa), vec4<f32>(1.0))
            + dot(select(vec3<f32>(0.0), vec3<f32>(1.0), fb.xyz), vec3<f32>(1.0));
        hi = select(lo + width * (m + 1.0), hi, m == 7.0);
        lo = lo + width * m;
        // Every invocation has read the sums before the next sweep writes them.
        workgroupBarrier();
    }
    return lo;
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
    // This sequence's scratch: n4 vectors of four scores.
    let n4 = (k_count + 3u) / 4u;
    let row4 = seq * n4;

    // Pass 1: guided logits g, scores s = g / T (kept), the best g and the range of s; four
    // consecutive tokens per invocation and trip, their loads issued together.
    var best_v = NEG;
    var best_i = 0u;
    var lo = vec4<f32>(-NEG);
    var hi = vec4<f32>(NEG);
    let last = k_count - 1u;
    for (var q = lid; q < n4; q += WG) {
        let k = 4u * q;
        var inside = vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(k_count);
        if (MASKED) {
            // k is a multiple of 4: its four bits share one word.
            let bits = vec4<u32>((allowed[k / 32u] >> (k % 32u)) & 15u);
            inside = inside & ((bits & vec4<u32>(1u, 2u, 4u, 8u)) != vec4<u32>(0u));
        }
        // Past the end: the last token read again and never used.
        let g = vec4<f32>(
            guided(base, k_count, k, paired, w),
            guided(base, k_count, min(k + 1u, last), paired, w),
            guided(base, k_count, min(k + 2u, last), paired, w),
            guided(base, k_count, min(k + 3u, last), paired, w),
        );
        let s = select(g * inv_t, g, greedy);
        if (MODE != 0u) {
            scores[row4 + q] = select(vec4<f32>(NEG), s, inside);
        }
        // In index order with a strict >: the lowest index on ties. NaN never compares greater:
        // such tokens are never chosen (as on the host).
        let gv = select(vec4<f32>(NEG), g, inside);
        if (gv.x > best_v) {
            best_v = gv.x;
            best_i = k;
        }
        if (gv.y > best_v) {
            best_v = gv.y;
            best_i = k + 1u;
        }
        if (gv.z > best_v) {
            best_v = gv.z;
            best_i = k + 2u;
        }
        if (gv.w > best_v) {
            best_v = gv.w;
            best_i = k + 3u;
        }
        let counted = inside & (s == s);
        lo = min(lo, select(vec4<f32>(-NEG), s, counted));
        hi = max(hi, select(vec4<f32>(NEG), s, counted));
    }
    red_v[lid] = best_v;
    red_i[lid] = best_i;
    red_w[lid] = min(min(lo.x, lo.y), min(lo.z, lo.w));
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
        red_v[lid] = max(max(hi.x, hi.y), max(hi.z, hi.w));
        red_i[lid] = 0u;
        red_w[lid] = 0.0;
        reduce_best(lid);
        let s_max = red_v[0];
        workgroupBarrier();

        // Top-k: the largest t with #{s >= t} >= k (t = s_min keeps everything).
        var floor_k = s_min;
        if (TOP_K) {
            floor_k = search(s_min, s_max, f32(min(top_k, k_count)), false, s_max, row4, n4, lid);
        }
        floor_p = floor_k;

        // Top-p over the top-k set: the largest t with mass(s >= t) >= p * mass(s >= floor_k),
        // masses of exp(s - s_max) (each <= 1).
        if (TOP_P) {
            var total = 0.0;
            for (var q = lid; q < n4; q += WG) {
                let s = scores[row4 + q];
                total += dot(select(vec4<f32>(0.0), exp(s - s_max), s >= vec4<f32>(floor_k)), vec4<f32>(1.0));
            }
            red_v[lid] = total;
            reduce_sum(lid);
            let goal = top_p * red_v[0];
            workgroupBarrier();
            floor_p = search(floor_k, s_max, goal, true, s_max, row4, n4, lid);
        }
    }

    // The draw: argmax of s + Gumbel noise over the kept tokens.
    let step = u32(state[1]);
    let key = hash(hash(hash(hash(params[3]) ^ params[4]) ^ step) ^ (seq * 0x9e3779b9u));
    var draw_v = NEG;
    var draw_i = 0u;
    for (var q = lid; q < n4; q += WG) {
        let s = scores[row4 + q];
        let ks = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
        // Past the end (and outside the mask) the score is NEG: never kept, even where nothing
        // filters (floor_p = NEG).
        let kept = (s >= vec4<f32>(floor_p)) & (s > vec4<f32>(NEG)) & (ks < vec4<u32>(k_count));
        for (var c = 0u; c < 4u; c++) {
            let k = ks[c];
            if (kept[c]) {
                let u = (f32(hash(key ^ hash(k)) >> 8u) + 0.5) / 16777216.0;
                let v = s[c] - log(-log(u));
                if (v > draw_v) {
                    draw_v = v;
                    draw_i = k;
                }
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
