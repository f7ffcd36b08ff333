//! A decode step recorded once and replayed (cubecl's software graph for wgpu): every launch's
//! pipeline, bindings, parameters and bind group are resolved while recording, so a replay only
//! re-encodes the recorded dispatches into one pass. A step's launches cost the host ~0.1 ms
//! each through the ordinary path (burn's dispatch, cubecl's binding resolution, a bind group
//! per launch); a decode step has a few hundred, which bounds it on a real GPU.
//!
//! What a recorded step may do (cubecl's capture contract): launch kernels, allocate from what
//! the pools already hold (a warm-up run of the same step fills them), nothing else: no
//! uploads, no reads, no parameter buffers (hence parameters as info words,
//! `launch::info`, and the position on the device, `model::cursor`). Between replays the host
//! writes the step's inputs in place, always from this thread, so they order with the replays.

use std::cell::{Cell, RefCell};

use burn::cubecl::client::{Client, Graph};
use burn::tensor::{Int, Tensor};

use super::launch::int_handle;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
    static RECORDED: Cell<usize> = const { Cell::new(0) };
    static FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Steps recorded on this thread so far, and why the last recording that failed did (the
/// benchmarks report both; tests check that the recorded path is the one taken).
pub fn recorded() -> (usize, Option<String>) {
    (
        RECORDED.with(Cell::get),
        FAILURE.with(|f| f.borrow().clone()),
    )
}

/// Record and replay decode steps on this thread (the default), or launch every step anew
/// (benchmarks compare the two; a failed recording falls back on its own).
pub fn set_enabled(on: bool) {
    ENABLED.with(|e| e.set(on));
}

/// Whether decode steps are recorded on this thread.
pub fn enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// A recorded step.
pub struct StepGraph {
    graph: Graph,
}

impl std::fmt::Debug for StepGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepGraph")
    }
}

impl StepGraph {
    /// Run `step` once for real (the warm-up: it fills the pools the recording allocates from),
    /// then record it. `step` must launch the same kernels on the same buffers whatever the
    /// state, and running it twice at one state must equal running it once (the recording is
    /// replayed for the next step, not this one). `anchor` is any tensor on the device.
    pub fn capture(anchor: &Tensor<1, Int>, step: &mut dyn FnMut()) -> Result<Self, String> {
        let client = int_handle(anchor).client.clone();
        client.graph_prepare().map_err(|e| e.to_string())?;
        step();
        let recorded = client.start_capture().and_then(|()| {
            step();
            client.stop_capture()
        });
        match recorded {
            Ok(graph) => {
                RECORDED.with(|n| n.set(n.get() + 1));
                Ok(Self { graph })
            }
            Err(e) => {
                // Close whatever is still open, so the stream is usable again.
                let _ = unwind(&client);
                FAILURE.with(|f| *f.borrow_mut() = Some(e.to_string()));
                Err(e.to_string())
            }
        }
    }

    /// Run the recorded step again (inputs written in place before).
    pub fn replay(&self) -> Result<(), String> {
        // SAFETY: cubecl's contract for a replay: (1) every buffer the recording touched is
        // still allocated: the weights and caches outlive the graph (the generation loop owns
        // all three and drops the graph first), the step's intermediates sit on pages the
        // graph guards, and the cursor, history and output tensors are the loop's; (2) nothing
        // else uses them concurrently: the loop is single-threaded; (3) the host's input
        // writes and output reads go through the same thread's stream as the replay.
        #[allow(unsafe_code)]
        let done = unsafe { self.graph.replay() };
        done.map_err(|e| e.to_string())
    }
}

/// End a capture left open by a failure (an error if none was open, which is fine).
fn unwind(client: &Client) -> Result<(), String> {
    client.stop_capture().map(|_| ()).map_err(|e| e.to_string())
}
