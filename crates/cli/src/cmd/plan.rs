use crate::common::Global;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_g: &Global, _a: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`camtrace plan` is not available in this build yet")
}
