//! `cargo xtask bench --kdump`: saving a dump, kboot vs makedumpfile on the same genuine
//! /proc/vmcore copy of each kernel's kdump fixture (time, MB/s of input, size, peak RSS),
//! the save time inside the capture kernel under QEMU, and the smallest crashkernel=
//! reservation with which the capture still works.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::bench::timed_runs;
use crate::bench_kernels::{self, KernelFixture, VmcoreFacts};
use crate::report::{human_size, print_table, stage};
use crate::Workspace;

/// Reservations tried, smallest first; the first that captures is the answer.
const CRASHKERNEL_SIZES: &[&str] = &["32M", "40M", "48M", "64M", "96M", "128M"];
const CAPTURE_TEST: &str = "crash_is_captured_reported_saved_and_rebooted";

pub fn kdump_figures(ws: &Workspace, kboot: &Path) -> crate::Result<()> {
    host_save(ws, kboot)?;
    capture_in_qemu(ws)
}

/// Saving each kernel's genuine /proc/vmcore copy on the host: kboot with every CPU and
/// with one, makedumpfile where it knows the kernel; then the other page compressions
/// on /boot's kernel. Output files go to a scratch directory under target/.
pub fn host_save(ws: &Workspace, kboot: &Path) -> crate::Result<()> {
    println!(
        "\nSaving a dump on the host, per kernel: genuine /proc/vmcore copy, -c -d 31, median \
         of 3; MB/s = vmcore size / time (input rate, for scaling to a big machine)"
    );
    let (found, absent) = bench_kernels::discover(&ws.target().join("fixtures"));
    for note in &absent {
        println!("  (skipped {note})");
    }
    if found.is_empty() {
        return Ok(());
    }
    let scratch = Scratch::new(&ws.target())?;
    let out = scratch.0.join("dump");
    let mut rows = Vec::new();
    for k in &found {
        rows.extend(save_rows(kboot, k, &out)?);
    }
    print_table(
        &[
            "kernel",
            "saver",
            "time",
            "MB/s",
            "size",
            "bytes",
            "peak RSS",
            "pages saved",
            "time vs mdf",
            "size vs mdf",
        ],
        &rows,
    );
    match found.iter().find(|k| k.dir_name == "kdump") {
        Some(k) => other_compressions(kboot, k, &out),
        None => Ok(()),
    }
}

/// A directory under target/ for the dumps written, removed with everything in it.
struct Scratch(PathBuf);

impl Scratch {
    fn new(target: &Path) -> crate::Result<Scratch> {
        let dir = target.join(format!("bench-save.{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One save: what it took and what it wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub secs: f64,
    pub rss_kib: u64,
    pub bytes: u64,
    /// From savedump's summary line: ("21757 of 147165", threads).
    pub summary: Option<(String, u32)>,
}

/// Runs `command` (which writes `out`) 3 times under sh, removing `out` first each time
/// (both tools refuse an existing output; the shell's start-up is in every figure).
fn save(command: &str, out: &Path) -> crate::Result<Saved> {
    let script = format!("rm -f '{}'; {command}", out.display());
    let t = timed_runs("sh".as_ref(), &["-c".as_ref(), script.as_ref()], 3, true)?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    let text = format!("{}\n{}", String::from_utf8_lossy(&t.stdout), t.stderr);
    let _ = std::fs::remove_file(out);
    Ok(Saved {
        secs: t.secs,
        rss_kib: t.peak_rss_kib,
        bytes,
        summary: text.lines().find_map(parse_summary),
    })
}

/// savedump's summary: "OUT: 21757 of 147165 pages saved (…), 18079446 bytes, 2 threads; …"
/// → ("21757 of 147165", 2).
pub fn parse_summary(line: &str) -> Option<(String, u32)> {
    let (head, rest) = line.split_once(" pages saved")?;
    let pages = head.rsplit(": ").next()?.trim().to_string();
    let threads = rest
        .split([',', ';'])
        .find_map(|f| {
            f.trim()
                .strip_suffix(" threads")
                .or(f.trim().strip_suffix(" thread"))
        })?
        .parse()
        .ok()?;
    Some((pages, threads))
}

/// The rows of one kernel: kboot on every CPU, on one, and makedumpfile (or why not).
fn save_rows(kboot: &Path, k: &KernelFixture, out: &Path) -> crate::Result<Vec<Vec<String>>> {
    let input = std::fs::metadata(&k.vmcore).map(|m| m.len()).unwrap_or(0);
    let facts = VmcoreFacts::of(&k.vmcore)?;
    let (v, o, kb) = (k.vmcore.display(), out.display(), kboot.display());
    let all_cpus = save(
        &format!("'{kb}' savedump --quiet -c -d 31 '{v}' '{o}'"),
        out,
    )?;
    let one_cpu = save(
        &format!("'{kb}' savedump --quiet -c -d 31 --threads 1 '{v}' '{o}'"),
        out,
    )?;
    let peer = if facts.pg_slab_flag {
        let mdf = crate::process::find("makedumpfile")?;
        let command = format!("'{}' -c -d 31 '{v}' '{o}' > /dev/null", mdf.display());
        Some(save(&command, out)?)
    } else {
        None
    };
    let threads = |s: &Saved| match &s.summary {
        Some((_, n)) => format!("{n} thread{}", if *n == 1 { "" } else { "s" }),
        None => "threads?".to_string(),
    };
    let mut rows = vec![
        save_row(
            &k.release,
            &format!("kboot savedump -c -d 31 ({}, default)", threads(&all_cpus)),
            &all_cpus,
            input,
            peer.as_ref(),
        ),
        save_row(
            &k.release,
            "kboot savedump -c -d 31 --threads 1",
            &one_cpu,
            input,
            peer.as_ref(),
        ),
    ];
    rows.push(match &peer {
        Some(p) => save_row(&k.release, "peer: makedumpfile -c -d 31", p, input, None),
        None => vec![
            k.release.clone(),
            "peer: makedumpfile: not run, no NUMBER(PG_slab) (page types it does not know)"
                .to_string(),
        ],
    });
    Ok(rows)
}

/// A row of the per-kernel save table; the ratios against makedumpfile when it ran.
pub fn save_row(
    kernel: &str,
    saver: &str,
    s: &Saved,
    input_bytes: u64,
    peer: Option<&Saved>,
) -> Vec<String> {
    let (time_ratio, size_ratio) = match peer {
        Some(p) => (
            ratio(s.secs, p.secs, 2),
            ratio(s.bytes as f64, p.bytes as f64, 3),
        ),
        None => (String::new(), String::new()),
    };
    vec![
        kernel.to_string(),
        saver.to_string(),
        format!("{:.2} s", s.secs),
        mb_per_s(input_bytes, s.secs),
        human_size(s.bytes),
        s.bytes.to_string(),
        format!("{:.1} MiB", s.rss_kib as f64 / 1024.0),
        s.summary.as_ref().map_or(String::new(), |(p, _)| p.clone()),
        time_ratio,
        size_ratio,
    ]
}

/// Input rate in MB/s (10^6 bytes), "-" when the time is below /usr/bin/time's resolution.
pub fn mb_per_s(bytes: u64, secs: f64) -> String {
    if secs <= 0.0 {
        return "-".to_string();
    }
    format!("{:.0}", bytes as f64 / 1e6 / secs)
}

/// ours / theirs as "0.70x"; "-" when theirs is zero.
pub fn ratio(ours: f64, theirs: f64, decimals: usize) -> String {
    if theirs <= 0.0 {
        return "-".to_string();
    }
    format!("{:.decimals$}x", ours / theirs)
}

/// The other page compressions on /boot's kernel, kboot against makedumpfile where it
/// has the same one.
fn other_compressions(kboot: &Path, k: &KernelFixture, out: &Path) -> crate::Result<()> {
    let (v, o, kb) = (k.vmcore.display(), out.display(), kboot.display());
    let mdf = crate::process::find("makedumpfile")?;
    let tools = [
        (
            "kboot savedump -l -d 31 (lzo)",
            format!("'{kb}' savedump --quiet -l -d 31 '{v}' '{o}'"),
        ),
        (
            "peer: makedumpfile -l -d 31 (lzo)",
            format!("'{}' -l -d 31 '{v}' '{o}' > /dev/null", mdf.display()),
        ),
        (
            "kboot savedump -z -d 31 (zstd)",
            format!("'{kb}' savedump --quiet -z -d 31 '{v}' '{o}'"),
        ),
    ];
    println!(
        "\nOther page compressions, {} ({}), median of 3",
        k.release,
        human_size(std::fs::metadata(&k.vmcore).map(|m| m.len()).unwrap_or(0))
    );
    let mut rows = Vec::new();
    for (label, command) in tools {
        let s = save(&command, out)?;
        rows.push(vec![
            label.to_string(),
            format!("{:.2} s", s.secs),
            human_size(s.bytes),
            s.bytes.to_string(),
            format!("{:.1} MiB", s.rss_kib as f64 / 1024.0),
        ]);
    }
    print_table(&["", "time", "size", "bytes", "peak RSS"], &rows);
    Ok(())
}

/// Runs the end-to-end capture test with growing reservations; reports the smallest that
/// works and the save time the capture kernel printed.
fn capture_in_qemu(ws: &Workspace) -> crate::Result<()> {
    println!("\nCapture under QEMU/TCG (Debian kernel, 512 MiB guest, crashes; kboot captures)");
    let log = ws.target().join("qemu-logs/capture_full.log");
    let mut rows = Vec::new();
    for size in CRASHKERNEL_SIZES {
        let ok = stage(&format!("capture with crashkernel={size}"), || {
            let status = crate::process::cargo()
                .current_dir(&ws.root)
                .args(["test", "-q", "-p", "qemu-tests", "--test", "capture", "--"])
                .args(["--exact", CAPTURE_TEST])
                .env("KBOOT_CRASHKERNEL", size)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .context("failed to run cargo test")?;
            Ok(status.success())
        })?;
        let console = std::fs::read_to_string(&log).unwrap_or_default();
        let took = console
            .lines()
            .find_map(|l| l.split("; took ").nth(1))
            .map_or("-".to_string(), |t| t.trim().to_string());
        let why = if ok {
            "captured, saved, rebooted".to_string()
        } else if console.contains("Out of memory") {
            "capture kernel out of memory".to_string()
        } else {
            "failed (see target/qemu-logs/capture_full.log)".to_string()
        };
        rows.push(vec![format!("crashkernel={size}"), why, took]);
        if ok {
            break;
        }
    }
    print_table(&["reservation", "result", "save time in capture"], &rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savedump_summaries_are_parsed() {
        let line = "savedump: target/x/o: 21757 of 147165 pages saved (5653 zero pages as one \
                    shared copy), 18079446 bytes, 2 threads; left out: 4106 cache, 0 cache \
                    private, 137 user, 121165 free";
        assert_eq!(
            parse_summary(line),
            Some(("21757 of 147165".to_string(), 2))
        );
        let one = line.replace("2 threads", "1 thread");
        assert_eq!(
            parse_summary(&one),
            Some(("21757 of 147165".to_string(), 1))
        );
        assert_eq!(parse_summary("savedump: writing pages: 75%"), None);
    }

    #[test]
    fn save_rows_show_rates_and_ratios_against_makedumpfile() {
        let ours = Saved {
            secs: 0.5,
            rss_kib: 10 * 1024,
            bytes: 1_012_000,
            summary: Some(("10 of 20".to_string(), 2)),
        };
        let peer = Saved {
            secs: 0.8,
            rss_kib: 5 * 1024,
            bytes: 1_000_000,
            summary: None,
        };
        let row = save_row("6.1", "kboot", &ours, 650_000_000, Some(&peer));
        assert_eq!(
            row,
            [
                "6.1",
                "kboot",
                "0.50 s",
                "1300",
                "988.3 KiB",
                "1012000",
                "10.0 MiB",
                "10 of 20",
                "0.62x",
                "1.012x"
            ]
        );
        let alone = save_row("6.12", "kboot", &ours, 650_000_000, None);
        assert_eq!(alone[8..], ["", ""]);
        assert_eq!(mb_per_s(1, 0.0), "-");
        assert_eq!(ratio(1.0, 0.0, 2), "-");
    }

    #[test]
    fn the_scratch_directory_is_removed_with_its_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = {
            let scratch = Scratch::new(tmp.path()).unwrap();
            std::fs::write(scratch.0.join("dump"), b"x").unwrap();
            scratch.0.clone()
        };
        assert!(dir.starts_with(tmp.path()));
        assert!(!dir.exists());
    }

    /// The per-kernel figures alone, on the fixtures in target/fixtures and a kboot binary
    /// already built (`cargo build -p rootfs-rs --profile kboot --target
    /// x86_64-unknown-linux-musl`): no image, no kernel, no QEMU.
    /// `cargo test -p xtask --bins -- --ignored --nocapture per_kernel_figures`
    #[test]
    #[ignore = "minutes of timed runs on the kdump fixtures"]
    fn per_kernel_figures() {
        let ws = Workspace::locate();
        let kboot = ws.target().join("x86_64-unknown-linux-musl/kboot/kboot");
        assert!(kboot.exists(), "build {} first", kboot.display());
        bench_kernels::triage_per_kernel(&ws.target().join("fixtures"), &kboot).unwrap();
        host_save(&ws, &kboot).unwrap();
    }
}
