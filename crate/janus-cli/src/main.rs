//! `janus`: run a Janus checkpoint from a model folder (Hugging Face layout) natively.
//!
//! Every failure ends with one line on stderr and a non-zero exit status; nothing prints a
//! backtrace.

mod args;
mod bench;
mod chat;
mod commands;
mod device;
mod output;
mod pack;
mod random_model;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!(
            "error: internal error: {}",
            msg.lines().next().unwrap_or("")
        );
    }));
    let cli = args::Cli::parse();
    match std::panic::catch_unwind(|| commands::run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(70),
    }
}
