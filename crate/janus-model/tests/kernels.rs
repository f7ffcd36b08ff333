//! The WGSL kernels against their plain-burn references on a native wgpu device (lavapipe in
//! CI: `.ci/run` sets `JANUS_WGPU_TESTS=1`); the cases live in the conformance suite, which the
//! browser tests run on SwiftShader too.
#![cfg(feature = "wgpu-kernels")]

use burn::tensor::Device;
use janus_model::quant::QuantFormat;
use janus_model::quant::device::QuantMatrix;
use janus_model::quant::quantize;

#[test]
fn qmatvec_matches_the_reference_on_awkward_sizes() {
    if std::env::var("JANUS_WGPU_TESTS").as_deref() != Ok("1") {
        eprintln!("kernel test skipped: set JANUS_WGPU_TESTS=1 where a wgpu adapter exists");
        return;
    }
    let device = Device::wgpu_options().init().expect("a wgpu adapter");
    let report = pollster::block_on(janus_conformance::kernels::qmatvec_matches_reference(
        &device,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    for line in report {
        println!("{line}");
    }
    // upload() picks the kernel on wgpu.
    let packed = quantize(&[0.5; 64], 32, QuantFormat::Q4);
    assert!(QuantMatrix::upload(&packed, &device).uses_kernel());
}
