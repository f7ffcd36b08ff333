//! `shaders/sample.wgsl`: the next token of every sequence chosen on the GPU (guidance,
//! temperature, top-k, top-p, a seeded Gumbel-max draw), so generation loops feed the chosen ids
//! straight into the next step and read back nothing (images) or one id (text).

use burn::backend::Cube;
use burn::backend::wgpu::{CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Int, Shape, Tensor};

use super::launch::float_handle;

const WGSL: &str = include_str!("../../../../shaders/sample.wgsl");
const WORKGROUP: u32 = 256;

#[derive(Debug)]
struct Sample {
    elem: DType,
}

impl KernelSource for Sample {
    fn source(&self) -> SourceTemplate {
        let f16 = self.elem == DType::F16;
        SourceTemplate::new(WGSL)
            .register("enable_f16", if f16 { "enable f16;" } else { "" })
            .register("elem", if f16 { "f16" } else { "f32" })
            .register("wg", WORKGROUP.to_string())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.elem == DType::F16, WORKGROUP))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// How one step chooses.
#[derive(Clone, Copy, Debug)]
pub struct SampleStep {
    /// Guidance weight: rows come in (conditional, unconditional) pairs. None: rows are
    /// sequences of their own.
    pub cfg_weight: Option<f32>,
    /// 0: greedy.
    pub temperature: f32,
    /// 0: all tokens.
    pub top_k: u32,
    /// 1: all tokens.
    pub top_p: f32,
    pub seed: u64,
    /// Distinguishes the draws of successive steps.
    pub step: u32,
}

/// `logits: [rows, K]` (f32 or f16 on wgpu) -> the chosen ids `[rows, 1]` (i32; both rows of a
/// guided pair carry their pair's id).
pub fn sample(logits: Tensor<2>, step: &SampleStep) -> Tensor<2, Int> {
    let [rows, k] = logits.dims();
    let logits = float_handle(logits);
    let client = logits.client.clone();
    let sequences = if step.cfg_weight.is_some() {
        rows / 2
    } else {
        rows
    };
    let out = CubeTensor::new_contiguous(
        client.clone(),
        logits.device.clone(),
        Shape::new([rows, 1]),
        client.empty(rows * 4),
        DType::I32,
    );
    let scores = client.empty(sequences * k * 4);
    let greedy = step.temperature <= 0.0;
    let params: Vec<u8> = [
        k as u32,
        step.cfg_weight.is_some() as u32,
        step.step,
        step.seed as u32,
        (step.seed >> 32) as u32,
        greedy as u32,
        step.top_k,
        step.cfg_weight.unwrap_or(1.0).to_bits(),
        (if greedy { 1.0 } else { 1.0 / step.temperature }).to_bits(),
        step.top_p.clamp(0.0, 1.0).to_bits(),
    ]
    .iter()
    .flat_map(|v| v.to_le_bytes())
    .collect();
    let params = client.create_from_slice(&params);
    client.launch(
        Box::new(SourceKernel::new(
            Sample { elem: logits.dtype },
            CubeDim::new_1d(WORKGROUP),
        )),
        CubeCount::Static(sequences as u32, 1, 1),
        KernelArguments::new()
            .with_buffer_io(logits.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(scores.binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(params.binding(), BufferIOAttr::ReadOnly),
    );
    Tensor::<2, Int>::from_primitive::<Cube>(out)
}
