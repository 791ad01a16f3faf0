//! `cargo xtask bench --kdump`: saving a dump, kboot vs makedumpfile on the same genuine
//! /proc/vmcore copy (time, size, peak RSS), the save time inside the capture kernel under
//! QEMU, and the smallest crashkernel= reservation with which the capture still works.

use std::path::Path;

use anyhow::Context;

use crate::bench::timed_median;
use crate::report::{human_size, print_table, stage};
use crate::Workspace;

/// Reservations tried, smallest first; the first that captures is the answer.
const CRASHKERNEL_SIZES: &[&str] = &["32M", "40M", "48M", "64M", "96M", "128M"];
const CAPTURE_TEST: &str = "crash_is_captured_reported_saved_and_rebooted";

pub fn kdump_figures(ws: &Workspace, kboot: &Path) -> crate::Result<()> {
    let vmcore = ws.target().join("fixtures/kdump/vmcore.proc.elf");
    if !vmcore.exists() {
        println!(
            "\nSaving a dump: no fixture {} (`cargo xtask test` makes it)",
            vmcore.display()
        );
    } else {
        host_save(kboot, &vmcore)?;
    }
    capture_in_qemu(ws)
}

/// Both tools write the same filtered dump (-d 31) from the same ELF vmcore.
fn host_save(kboot: &Path, vmcore: &Path) -> crate::Result<()> {
    let out = std::env::temp_dir().join("kboot-bench-dump");
    let (o, v, k) = (
        out.display().to_string(),
        vmcore.display().to_string(),
        kboot.display().to_string(),
    );
    let tools = [
        (
            "kboot savedump -c -d 31 (zlib)",
            format!("'{k}' savedump --quiet -c -d 31 '{v}' '{o}'"),
        ),
        (
            "peer: makedumpfile -c -d 31 (zlib)",
            format!("makedumpfile -c -d 31 '{v}' '{o}' > /dev/null"),
        ),
        (
            "kboot savedump -l -d 31 (lzo)",
            format!("'{k}' savedump --quiet -l -d 31 '{v}' '{o}'"),
        ),
        (
            "peer: makedumpfile -l -d 31 (lzo)",
            format!("makedumpfile -l -d 31 '{v}' '{o}' > /dev/null"),
        ),
        (
            "kboot savedump -z -d 31 (zstd)",
            format!("'{k}' savedump --quiet -z -d 31 '{v}' '{o}'"),
        ),
    ];
    println!(
        "\nSaving a dump on the host: genuine /proc/vmcore copy ({}), median of 3",
        human_size(std::fs::metadata(vmcore).map(|m| m.len()).unwrap_or(0))
    );
    let mut rows = Vec::new();
    for (label, command) in tools {
        // Both refuse an existing output: remove it inside the timed shell, as for both.
        let script = format!("rm -f '{o}'; {command}");
        let (secs, rss) = timed_median("sh".as_ref(), &["-c".as_ref(), script.as_ref()], 3)?;
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        rows.push(vec![
            label.to_string(),
            format!("{secs:.2} s"),
            human_size(size),
            size.to_string(),
            format!("{:.1} MiB", rss as f64 / 1024.0),
        ]);
    }
    let _ = std::fs::remove_file(&out);
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
