// A K x K convolution (K = 1 or 3, stride 1, "same" padding (K - 1) / 2) of NCHW f32
// activations, optionally reading its input through a nearest-neighbour 2x upsample (UP = 2:
// the VQ decoder's `Upsample`, whose 4x larger intermediate is then never written). Each
// invocation computes a register tile of PX (4 or 8) neighbouring output pixels of one row x 8
// output channels (2 PX vec4 accumulators, every loop over them written out: SwiftShader keeps
// arrays indexed at run time in memory), so each input value it loads serves 8 channels x K
// taps and each weight vector PX pixels. No workgroup memory and no barrier: neighbouring
// invocations read overlapping inputs and the same weights, which caches serve on a GPU, and on
// CPU adapters (invocations are SIMD lanes) a barrier costs more than it saves. CPU adapters use
// PX = 8 (loads, not arithmetic, bound it there: 8 ran 1.7x faster than 4 on lavapipe), GPUs 4.
//
// Weights come packed once at load (kernels/conv2d.rs `pack`): `[Cin, K, K, Cout8]` with Cout
// padded with zeros to a multiple of 8, so a tap's 8 output channels are two aligned vec4s.
// Template values (kernels/conv2d.rs): k, up, px. All bindings read_write except params
// (docs/burn-0.22-kernels.md).

// [B, Cin, H, W] input (before the upsample).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// [Cin, K, K, Cout8 / 4] packed weights.
@group(0) @binding(1) var<storage, read_write> w: array<vec4<f32>>;
// [Cout8 / 4] bias, zero-padded.
@group(0) @binding(2) var<storage, read_write> bias: array<vec4<f32>>;
// [B, Cout, Ho, Wo] output (Ho = UP * H, Wo = UP * W).
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// cin, h, w, cout, cout8 / 4, strips per output row (ceil(Wo / PX)).
@group(0) @binding(4) var<storage, read> params: array<u32>;

const K: u32 = {{ k }}u;
const UP: u32 = {{ up }}u;
const PAD: i32 = i32(K / 2u);
const WG: u32 = 64u;
// Output pixels per invocation: 4 or 8 (kernels/conv2d.rs `set_pixels`).
const PX: u32 = {{ px }}u;

// Input value at output-space coordinates (iy, ix) of plane `plane` (offset of [b, ci]),
// zero outside the (upsampled) image: the convolution's padding.
fn at(plane: u32, row_ok: bool, row: u32, ix: i32, wo: i32, w_in: u32) -> f32 {
    let ok = row_ok && ix >= 0 && ix < wo;
    let sx = u32(clamp(ix, 0, wo - 1)) / UP;
    return select(0.0, x[plane + row * w_in + sx], ok);
}

// Writes the 8 channels of output pixel (oy, ox) if it lies in the image.
fn store8(out_base: u32, plane: u32, ox: u32, wo: u32, co0: u32, cout: u32, a: vec4<f32>, b: vec4<f32>) {
    if (ox >= wo) {
        return;
    }
    let at = out_base + ox;
    if (co0 < cout) { y[at] = a.x; }
    if (co0 + 1u < cout) { y[at + plane] = a.y; }
    if (co0 + 2u < cout) { y[at + 2u * plane] = a.z; }
    if (co0 + 3u < cout) { y[at + 3u * plane] = a.w; }
    if (co0 + 4u < cout) { y[at + 4u * plane] = b.x; }
    if (co0 + 5u < cout) { y[at + 5u * plane] = b.y; }
    if (co0 + 6u < cout) { y[at + 6u * plane] = b.z; }
    if (co0 + 7u < cout) { y[at + 7u * plane] = b.w; }
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let cin = params[0];
    let h = params[1];
    let w_in = params[2];
    let cout = params[3];
    let c4 = params[4];
    let strips = params[5];
    let ho = h * UP;
    let wo = w_in * UP;
    // Grid: x over (strip, output row) of one image, y over groups of 8 output channels, z
    // over images.
    let g = wid.x * WG + lid;
    let oy = g / strips;
    if (oy >= ho) {
        return;
    }
    let ox0 = (g % strips) * PX;
    let group = wid.y;
    let b = wid.z;
    // The two vec4s of this group's channels within one tap's Cout8 / 4 vectors.
    let wg = group * 2u;

    var a0 = vec4<f32>(0.0);
    var b0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var b2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var b3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0);
    var b4 = vec4<f32>(0.0);
    var a5 = vec4<f32>(0.0);
    var b5 = vec4<f32>(0.0);
    var a6 = vec4<f32>(0.0);
    var b6 = vec4<f32>(0.0);
    var a7 = vec4<f32>(0.0);
    var b7 = vec4<f32>(0.0);

    let x0 = i32(ox0);
    let wo_i = i32(wo);
    for (var ci = 0u; ci < cin; ci++) {
        let plane = (b * cin + ci) * h * w_in;
        for (var ky = 0u; ky < K; ky++) {
            let iy = i32(oy) + i32(ky) - PAD;
            let row_ok = iy >= 0 && iy < i32(ho);
            let row = u32(clamp(iy, 0, i32(ho) - 1)) / UP;
            // The tap's weights: (ci, ky, kx) -> vector index ((ci * K + ky) * K + kx) * c4.
            let t = (ci * K + ky) * K * c4 + wg;
            if (K == 1u) {
                let wa = w[t];
                let wb = w[t + 1u];
                let p0 = at(plane, row_ok, row, x0 + 0, wo_i, w_in);
                a0 += wa * p0;
                b0 += wb * p0;
                let p1 = at(plane, row_ok, row, x0 + 1, wo_i, w_in);
                a1 += wa * p1;
                b1 += wb * p1;
                let p2 = at(plane, row_ok, row, x0 + 2, wo_i, w_in);
                a2 += wa * p2;
                b2 += wb * p2;
                let p3 = at(plane, row_ok, row, x0 + 3, wo_i, w_in);
                a3 += wa * p3;
                b3 += wb * p3;
                if (PX == 8u) {
                    let p4 = at(plane, row_ok, row, x0 + 4, wo_i, w_in);
                    a4 += wa * p4;
                    b4 += wb * p4;
                    let p5 = at(plane, row_ok, row, x0 + 5, wo_i, w_in);
                    a5 += wa * p5;
                    b5 += wb * p5;
                    let p6 = at(plane, row_ok, row, x0 + 6, wo_i, w_in);
                    a6 += wa * p6;
                    b6 += wb * p6;
                    let p7 = at(plane, row_ok, row, x0 + 7, wo_i, w_in);
                    a7 += wa * p7;
                    b7 += wb * p7;
                }
            } else {
                // PX + 2 inputs (x0 - 1 ..= x0 + PX) cover the three taps of PX pixels:
                // pixel i reads inputs i - 1, i, i + 1 (named q{i}, q{i + 1}, q{i + 2}).
                let la = w[t];
                let lb = w[t + 1u];
                let ma = w[t + c4];
                let mb = w[t + c4 + 1u];
                let ra = w[t + 2u * c4];
                let rb = w[t + 2u * c4 + 1u];
                let q0 = at(plane, row_ok, row, x0 + -1, wo_i, w_in);
                let q1 = at(plane, row_ok, row, x0 + 0, wo_i, w_in);
                let q2 = at(plane, row_ok, row, x0 + 1, wo_i, w_in);
                let q3 = at(plane, row_ok, row, x0 + 2, wo_i, w_in);
                let q4 = at(plane, row_ok, row, x0 + 3, wo_i, w_in);
                let q5 = at(plane, row_ok, row, x0 + 4, wo_i, w_in);
                a0 += la * q0 + ma * q1 + ra * q2;
                b0 += lb * q0 + mb * q1 + rb * q2;
                a1 += la * q1 + ma * q2 + ra * q3;
                b1 += lb * q1 + mb * q2 + rb * q3;
                a2 += la * q2 + ma * q3 + ra * q4;
                b2 += lb * q2 + mb * q3 + rb * q4;
                a3 += la * q3 + ma * q4 + ra * q5;
                b3 += lb * q3 + mb * q4 + rb * q5;
                if (PX == 8u) {
                    let q6 = at(plane, row_ok, row, x0 + 5, wo_i, w_in);
                    let q7 = at(plane, row_ok, row, x0 + 6, wo_i, w_in);
                    let q8 = at(plane, row_ok, row, x0 + 7, wo_i, w_in);
                    let q9 = at(plane, row_ok, row, x0 + 8, wo_i, w_in);
                    a4 += la * q4 + ma * q5 + ra * q6;
                    b4 += lb * q4 + mb * q5 + rb * q6;
                    a5 += la * q5 + ma * q6 + ra * q7;
                    b5 += lb * q5 + mb * q6 + rb * q7;
                    a6 += la * q6 + ma * q7 + ra * q8;
                    b6 += lb * q6 + mb * q7 + rb * q8;
                    a7 += la * q7 + ma * q8 + ra * q9;
                    b7 += lb * q7 + mb * q8 + rb * q9;
                }
            }
        }
    }

    let ba = bias[wg];
    let bb = bias[wg + 1u];
    let out_plane = ho * wo;
    let co0 = group * 8u;
    let out_base = (b * cout + co0) * out_plane + oy * wo;
    store8(out_base, out_plane, ox0 + 0u, wo, co0, cout, a0 + ba, b0 + bb);
    store8(out_base, out_plane, ox0 + 1u, wo, co0, cout, a1 + ba, b1 + bb);
    store8(out_base, out_plane, ox0 + 2u, wo, co0, cout, a2 + ba, b2 + bb);
    store8(out_base, out_plane, ox0 + 3u, wo, co0, cout, a3 + ba, b3 + bb);
    if (PX == 8u) {
        store8(out_base, out_plane, ox0 + 4u, wo, co0, cout, a4 + ba, b4 + bb);
        store8(out_base, out_plane, ox0 + 5u, wo, co0, cout, a5 + ba, b5 + bb);
        store8(out_base, out_plane, ox0 + 6u, wo, co0, cout, a6 + ba, b6 + bb);
        store8(out_base, out_plane, ox0 + 7u, wo, co0, cout, a7 + ba, b7 + bb);
    }
}
