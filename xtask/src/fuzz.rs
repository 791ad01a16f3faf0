//! `cargo xtask fuzz [TARGET] [--minutes N] [--runs N] [--jobs N]`: the parsers of outside
//! input (rootfs_rs::fuzz::TARGETS) under libFuzzer, with this machine's stable toolchain.
//!
//! - cargo-fuzz is installed once into target/tools/cargo-fuzz (a pinned version; not a
//!   dependency of xtask, which would build it into every run).
//! - Built with `--sanitizer none`: AddressSanitizer needs `-Zsanitizer`, i.e. nightly or
//!   RUSTC_BOOTSTRAP=1, and would find nothing here that Rust's own bounds checks do not
//!   (every target is safe Rust; `unsafe` lives only in sys.rs, which no parser reaches)
//!   while halving the speed. libFuzzer's coverage instrumentation (`-Cpasses=sancov-module`
//!   and `-Cllvm-args`) is stable. `--debug-assertions` keeps overflow checks on, so an
//!   arithmetic overflow on hostile input is a crash, as it is in `cargo test`.
//! - Seeds are written at run time to target/fuzz/seeds/TARGET (from rootfs_rs::fuzz::seeds:
//!   the distro trees, the vmcore fixtures), the growing corpus stays in
//!   target/fuzz/corpus/TARGET, crashes land in target/fuzz/artifacts/TARGET, and every
//!   run updates the campaign table target/fuzz/campaign.{tsv,md}.
//! - One libFuzzer process at a time, in-process (no fork) unless `--jobs` says otherwise;
//!   run it under `nice -n 19` on a shared machine (the children inherit the niceness).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use crate::fuzz_results::{Campaign, RunResult};
use crate::process;
use crate::report::stage;
use crate::Workspace;

/// The cargo-fuzz release used (`cargo info cargo-fuzz`, December 2026).
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// An input running longer than this is reported as a hang (libFuzzer's -timeout, wall
/// time): generous, because under `nice -n 19` on a busy machine the fuzzer was seen
/// descheduled for 100 and 193 s on inputs that take 0.07 s (replay a `timeout-*`
/// artifact alone before believing it).
const HANG_SECS: u32 = 60;
/// A run whose resident memory passes this is reported as out of memory.
const RSS_LIMIT_MB: u32 = 1024;

#[derive(Debug, Args)]
pub struct FuzzOptions {
    /// One registry target (default: every target, one after another)
    pub target: Option<String>,
    /// Run time per target, in minutes (default 2 unless --runs is given)
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Executions per target (whichever of --minutes and --runs comes first ends it)
    #[arg(long)]
    pub runs: Option<u64>,
    /// libFuzzer worker processes (1: in-process, no fork)
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
}

pub fn run(ws: &Workspace, options: &FuzzOptions) -> crate::Result<()> {
    let targets = selected(options.target.as_deref())?;
    let cargo_fuzz = stage(
        "cargo-fuzz (installed once into target/tools/cargo-fuzz)",
        || ensure_cargo_fuzz(ws),
    )?;
    let binaries = stage(
        "fuzz targets (rootfs-rs/fuzz, stable, --sanitizer none)",
        || build(ws, &cargo_fuzz, options.target.as_deref()),
    )?;
    let table = fuzz_dir(ws).join("campaign.tsv");
    let mut campaign = Campaign::load(&table)?;
    let mut crashed = Vec::new();
    for name in targets {
        let result = stage(&format!("fuzz {name}"), || {
            fuzz_one(ws, &binaries, name, options)
        })?;
        if !result.artifacts.is_empty() {
            crashed.push((name, result.artifacts.clone()));
        }
        // Read again just before the write: a run of another target that ended
        // meanwhile (one per core) keeps its row.
        campaign = Campaign::load(&table)?;
        campaign.record(name, &result);
        campaign.save(&fuzz_dir(ws))?;
    }
    campaign.print();
    println!("    table: {}", fuzz_dir(ws).join("campaign.md").display());
    if !crashed.is_empty() {
        for (name, artifacts) in &crashed {
            for a in artifacts {
                println!("    {name}: {}", a.display());
            }
        }
        bail!(
            "{} target(s) crashed: fix the parser, then add the input under \
             rootfs-rs/fuzz/regressions/TARGET/ (replayed by `cargo test -p rootfs-rs`)",
            crashed.len()
        );
    }
    Ok(())
}

/// The targets to run; a name not in the registry is an error listing the valid ones.
fn selected(target: Option<&str>) -> crate::Result<Vec<&'static str>> {
    let all = rootfs_rs::fuzz::TARGETS.iter().map(|t| t.name);
    match target {
        None => Ok(all.collect()),
        Some(name) => match rootfs_rs::fuzz::find(name) {
            Some(t) => Ok(vec![t.name]),
            None => bail!(
                "no fuzz target '{name}'; the targets are: {}",
                all.collect::<Vec<_>>().join(", ")
            ),
        },
    }
}

fn fuzz_dir(ws: &Workspace) -> PathBuf {
    ws.target().join("fuzz")
}

/// target/tools/cargo-fuzz/bin/cargo-fuzz at CARGO_FUZZ_VERSION.
fn ensure_cargo_fuzz(ws: &Workspace) -> crate::Result<PathBuf> {
    let root = ws.target().join("tools/cargo-fuzz");
    let binary = root.join("bin/cargo-fuzz");
    if binary.exists() {
        let version = process::output(Command::new(&binary).arg("--version"))?;
        // `cargo-fuzz 0.13.2`
        let version = String::from_utf8_lossy(&version.stdout);
        if version.trim().trim_start_matches("cargo-fuzz ") == CARGO_FUZZ_VERSION {
            println!("    cached: {} {}", binary.display(), version.trim());
            return Ok(binary);
        }
    }
    println!("    cargo install cargo-fuzz {CARGO_FUZZ_VERSION} (once; a few minutes)");
    process::run(
        process::cargo()
            .args(["install", "cargo-fuzz", "--locked", "--version"])
            .arg(CARGO_FUZZ_VERSION)
            .arg("--root")
            .arg(&root),
    )
    .context("failed to install cargo-fuzz")?;
    Ok(binary)
}

/// Builds the target (or all) and returns the directory holding the binaries.
fn build(ws: &Workspace, cargo_fuzz: &Path, target: Option<&str>) -> crate::Result<PathBuf> {
    let build_dir = fuzz_dir(ws).join("build");
    let mut cmd = Command::new(cargo_fuzz);
    cmd.current_dir(ws.root.join("rootfs-rs"))
        .args(["build", "--sanitizer", "none", "--debug-assertions"])
        .arg("--target-dir")
        .arg(&build_dir)
        .args(target);
    process::run(&mut cmd)?;
    Ok(build_dir.join("x86_64-unknown-linux-gnu/release"))
}

/// Writes the target's seeds afresh (the fixtures may have changed since the last run).
fn write_seeds(ws: &Workspace, name: &str) -> crate::Result<(PathBuf, usize)> {
    let dir = fuzz_dir(ws).join("seeds").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let seeds = rootfs_rs::fuzz::seeds::seeds(name, &ws.root);
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:03}")), seed)?;
    }
    Ok((dir, seeds.len()))
}

fn fuzz_one(
    ws: &Workspace,
    binaries: &Path,
    name: &str,
    options: &FuzzOptions,
) -> crate::Result<RunResult> {
    let (seeds, count) = write_seeds(ws, name)?;
    let corpus = fuzz_dir(ws).join("corpus").join(name);
    let artifacts = fuzz_dir(ws).join("artifacts").join(name);
    let regressions = ws.root.join("rootfs-rs/fuzz/regressions").join(name);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    println!("    {count} seeds in {}", seeds.display());
    let minutes = match (options.minutes, options.runs) {
        (Some(m), _) => Some(m),
        (None, Some(_)) => None,
        (None, None) => Some(2.0),
    };
    let mut cmd = Command::new(binaries.join(name));
    // New inputs go to the first directory: the corpus, never the seeds or regressions.
    cmd.arg(&corpus).arg(&seeds);
    if regressions.is_dir() {
        cmd.arg(&regressions);
    }
    cmd.arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(format!("-timeout={HANG_SECS}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg("-print_final_stats=1");
    if let Some(m) = minutes {
        cmd.arg(format!(
            "-max_total_time={}",
            (m * 60.0).ceil().max(1.0) as u64
        ));
    }
    if let Some(runs) = options.runs {
        cmd.arg(format!("-runs={runs}"));
    }
    if options.jobs > 1 {
        cmd.arg(format!("-fork={}", options.jobs));
    }
    let before = list(&artifacts);
    let log_path = fuzz_dir(ws).join(format!("{name}.log"));
    let mut log = String::new();
    let start = Instant::now();
    let status = process::for_each_line(&mut cmd, true, |_, line| {
        if line.starts_with('#') && (line.contains("DONE") || line.contains("pulse")) {
            println!("    {line}");
        }
        log.push_str(line);
        log.push('\n');
    })?;
    let seconds = start.elapsed().as_secs_f64();
    std::fs::write(&log_path, &log)?;
    let artifacts: Vec<PathBuf> = list(&artifacts)
        .into_iter()
        .filter(|a| !before.contains(a))
        .collect();
    if !status.success() && artifacts.is_empty() {
        bail!(
            "{name}: libFuzzer failed ({status}); see {}",
            log_path.display()
        );
    }
    Ok(RunResult::from_log(&log, seconds, artifacts))
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_target_lists_the_valid_ones() {
        let err = selected(Some("gopher")).expect_err("not a target");
        let text = err.to_string();
        assert!(text.contains("no fuzz target 'gopher'"), "{text}");
        assert!(
            text.contains("grub") && text.contains("orc_unwind"),
            "{text}"
        );
        assert_eq!(selected(Some("dhcp")).expect("a target"), ["dhcp"]);
        assert_eq!(
            selected(None).expect("all").len(),
            rootfs_rs::fuzz::TARGETS.len()
        );
    }
}
