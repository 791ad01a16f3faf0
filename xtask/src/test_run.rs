//! `cargo xtask test`: every test binary runs even when one fails (`--no-fail-fast`), the
//! QEMU suite runs even when a host test failed, and the run ends with ONE summary of
//! what failed, so a single run on a fresh machine shows everything that is wrong.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail};
use sha2::{Digest, Sha256};

use crate::image_cmd::{self, ImageOptions};
use crate::process::{self, Stream};
use crate::report::stage;
use crate::Workspace;

/// What the cargo test runs printed, added up over the stages.
#[derive(Default, Debug, PartialEq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    /// Failing tests by name, and failed stages or binaries, in the order seen.
    pub failures: Vec<String>,
}

impl Tally {
    /// Reads one line of `cargo test` output (stdout or stderr).
    pub fn observe(&mut self, line: &str) {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("test result: ") {
            self.passed += count_before(rest, " passed");
            self.failed += count_before(rest, " failed");
            self.ignored += count_before(rest, " ignored");
        } else if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            self.failures.push(format!("test {name}"));
        } else if let Some(hint) = line.strip_prefix("error: test failed, to rerun pass ") {
            self.failures.push(format!("binary {hint}"));
        }
    }
}

/// "3 passed; 1 failed; …" → the number before `label`.
fn count_before(text: &str, label: &str) -> u64 {
    text.split(';')
        .find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label.trim())
                .map(str::trim)
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Unit and host tests, then the media (built twice: the second build must give the
/// same bytes), then the QEMU boot tests one at a time (2 cores, TCG).
pub fn test_command(ws: &Workspace, run_qemu: bool) -> crate::Result<()> {
    stage("host dependencies", crate::deps::ensure)?;
    // Dump fixtures are made at test time by QEMU runs; here a fixture that cannot be
    // made fails the run instead of skipping the tests that need it.
    std::env::set_var("KBOOT_REQUIRE_FIXTURES", "1");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut failed_stages = Vec::new();
    if let Err(e) = stage("unit and host tests", || {
        cargo_test(
            ws,
            &[
                "test",
                "--workspace",
                "--exclude",
                "qemu-tests",
                "--no-fail-fast",
            ],
            &tally,
        )
    }) {
        failed_stages.push(format!("unit and host tests: {e:#}"));
    }
    if run_qemu {
        let media = stage("reproducible media", || build_twice_and_compare(ws)).and_then(|()| {
            stage("media with Debian's kernel and its modules", || {
                build_distro_media(ws).map(|_| ())
            })
        });
        match media {
            Ok(()) => {
                if let Err(e) = stage("QEMU boot tests", || {
                    cargo_test(
                        ws,
                        &[
                            "test",
                            "--package",
                            "qemu-tests",
                            "--no-fail-fast",
                            "--",
                            "--test-threads=1",
                        ],
                        &tally,
                    )
                }) {
                    failed_stages.push(format!("QEMU boot tests: {e:#}"));
                }
            }
            Err(e) => failed_stages.push(format!("media (the QEMU tests did not run): {e:#}")),
        }
    }
    let tally = tally
        .lock()
        .map_err(|_| anyhow!("test output reader panicked"))?;
    print_summary(&tally, &failed_stages);
    if failed_stages.is_empty() && tally.failed == 0 {
        Ok(())
    } else {
        bail!(
            "{} test(s) failed, {} stage(s) failed (summary above)",
            tally.failed,
            failed_stages.len()
        )
    }
}

/// The hardware matrix again with Debian's kernel (`--kernel`) and its modules
/// (`--modules`), in target/kboot-distro (qemu-tests' hardware.rs boots both).
fn build_distro_media(ws: &Workspace) -> crate::Result<image_cmd::Outputs> {
    let kernel = qemu_tests::machine::find_debian_kernel()
        .ok_or_else(|| anyhow!("no Debian kernel in /boot (cargo xtask deps installs it)"))?;
    let release = kernel
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_start_matches("vmlinuz-")
                .to_string()
        })
        .unwrap_or_default();
    let options = ImageOptions {
        kernel: Some(kernel),
        modules: Some(std::path::Path::new("/lib/modules").join(release)),
        out: Some(ws.target().join("kboot-distro")),
        ..ImageOptions::default()
    };
    image_cmd::run_image(ws, &options)
}

fn print_summary(tally: &Tally, failed_stages: &[String]) {
    println!("\n==> summary");
    for stage in failed_stages {
        println!("    FAILED stage: {stage}");
    }
    for failure in &tally.failures {
        println!("    FAILED {failure}");
    }
    // The plain closing line CI reads.
    println!(
        "summary: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.ignored
    );
}

fn build_twice_and_compare(ws: &Workspace) -> crate::Result<()> {
    let first = image_cmd::run_image(ws, &ImageOptions::default())?;
    let digests = |o: &image_cmd::Outputs| -> crate::Result<Vec<(String, String)>> {
        [&o.initramfs, &o.disk_img, &o.kboot_efi]
            .iter()
            .map(|p| {
                Ok((
                    p.display().to_string(),
                    format!("{:x}", Sha256::digest(image_cmd::read(p)?)),
                ))
            })
            .collect()
    };
    let before = digests(&first)?;
    let second = stage("rebuild for the reproducibility check", || {
        image_cmd::run_image(ws, &ImageOptions::default())
    })?;
    let after = digests(&second)?;
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        if a != b {
            bail!("{path} is not reproducible: sha256 {a} then {b}");
        }
        println!("    reproducible: {path} sha256 {}", &a[..16]);
    }
    Ok(())
}

/// Runs cargo, passing its output through while the tally reads it.
fn cargo_test(ws: &Workspace, args: &[&str], tally: &Arc<Mutex<Tally>>) -> crate::Result<()> {
    let mut out = std::io::stdout();
    let status = process::for_each_line(
        process::cargo().current_dir(&ws.root).args(args),
        true,
        |stream, line| {
            match stream {
                Stream::Stdout => {
                    let _ = writeln!(out, "{line}");
                }
                Stream::Stderr => eprintln!("{line}"),
            }
            if let Ok(mut t) = tally.lock() {
                t.observe(line);
            }
        },
    )?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_adds_up_results_and_names_failures() {
        let mut t = Tally::default();
        for line in [
            "test dmesg_reads_kmsg_when_allowed ... ok",
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.09s",
            "test tests::crash_opens_it ... FAILED",
            "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
            "error: test failed, to rerun pass `-p rootfs-rs --test triage_save`",
        ] {
            t.observe(line);
        }
        assert_eq!(
            t,
            Tally {
                passed: 15,
                failed: 1,
                ignored: 1,
                failures: vec![
                    "test tests::crash_opens_it".into(),
                    "binary `-p rootfs-rs --test triage_save`".into()
                ],
            }
        );
    }
}
