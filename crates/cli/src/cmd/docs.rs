//! `camtrace completions SHELL` and `camtrace man`: shell completions and manual pages generated
//! from the command-line definitions themselves, so they cannot drift from `--help`. Hidden:
//! they are for packagers (see `docs/packaging.md` and `packaging/build-deb.sh`).

use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print the completion script of a shell.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell (bash, zsh, fish, elvish, powershell).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Write the manual pages: camtrace(1) and one page per command (camtrace-scan(1) ...).
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing); without it, camtrace(1) is
    /// printed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn completions(a: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "camtrace", &mut out);
    std::io::stdout().lock().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(a: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = crate::Cli::command();
    match &a.out {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            std::io::stdout().lock().write_all(&buf)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            // camtrace.1, and one page per visible command (camtrace-scan.1, camtrace-kb-list.1 ...).
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("writing the pages into {}", dir.display()))?;
            let written = std::fs::read_dir(dir)?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
                .count();
            eprintln!("camtrace man: {written} pages in {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
