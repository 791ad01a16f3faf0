//! Issue #17 in the capture kernel: a check script the build put in /etc/kboot/checks/
//! runs after the built-in report on a real kdump capture, and its output is in the
//! saved triage.txt and under `checks` in triage.json. A second, runaway check is
//! stopped by its time limit and the capture still saves and reboots.

use qemu_tests::kdump::{
    crash_and_capture, files_in, read_crash_dir, work_dir, Production, WORKERS,
};

/// Walks the crashed kernel's tasks and names the test's two workers, which only the
/// dump (not the capture kernel's own /proc) can show.
const WORKERS_CHECK: &str = r#"names = sorted([str(t.comm) for t in for_each_task() if str(t.comm).startswith("kb-worker")])
print("WORKERS-SEEN " + " ".join(names))
"#;

/// Never ends: the 10 s default limit must stop it.
const RUNAWAY_CHECK: &str = "n = 0\nwhile True:\n    n += 1\n";

#[test]
fn a_check_script_runs_in_the_capture_kernel_and_lands_in_the_saved_report() {
    let dir = work_dir("checks");
    let disk = dir.join("dump-disk.img");
    qemu_tests::disks::ext4_image(&disk, "KBOOT-DUMP", 256).unwrap_or_else(|e| panic!("{e}"));
    let overlay = dir.join("checks-root");
    let checks = overlay.join("etc/kboot/checks");
    std::fs::create_dir_all(&checks).unwrap();
    std::fs::write(checks.join("10-workers.py"), WORKERS_CHECK).unwrap();
    std::fs::write(checks.join("20-runaway.py"), RUNAWAY_CHECK).unwrap();
    let production = Production {
        crashkernel: None,
        extra: "",
        capture_extra: "",
        disks: vec![disk.clone()],
        extra_args: Vec::new(),
        capture_overlay: Some(
            qemu_tests::disks::cpio_newc(&overlay).unwrap_or_else(|e| panic!("{e}")),
        ),
    };
    let console = crash_and_capture("capture_checks", &dir, production).replace('\r', "");
    let log = "target/qemu-logs/capture_checks.log";
    assert!(
        console.contains("kboot: dump: check 10-workers.py: done"),
        "the check did not run (log: {log})"
    );
    assert!(
        console.contains("kboot: dump: check 20-runaway.py: "),
        "the runaway check was not reported (log: {log})"
    );
    let out = dir.join("extracted");
    std::fs::create_dir_all(&out).unwrap();
    let dirs = read_crash_dir(&disk, &out);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let files = files_in(&dirs[0]);
    assert!(files.iter().any(|f| f.starts_with("dump.")), "{files:?}");
    let report = std::fs::read_to_string(dirs[0].join("triage.txt")).unwrap();
    let seen = format!("WORKERS-SEEN {} {}", WORKERS[0], WORKERS[1]);
    let check = report
        .split("== CHECK 10-workers.py ==")
        .nth(1)
        .unwrap_or_else(|| panic!("no check section in triage.txt (log: {log})"));
    assert!(check.contains(&seen), "triage.txt's check: {check}");
    let runaway = report
        .split("== CHECK 20-runaway.py ==")
        .nth(1)
        .unwrap_or_else(|| panic!("no runaway section in triage.txt (log: {log})"));
    assert!(
        runaway.contains("CHECK FAILED:"),
        "the runaway check was not stopped: {runaway}"
    );
    let json = std::fs::read_to_string(dirs[0].join("triage.json")).unwrap();
    assert!(json.contains("\"checks\""), "no checks key in triage.json");
    assert!(
        json.contains(&seen),
        "the check's output is not in triage.json"
    );
}
