//! Issue #17 in the capture kernel: a check script the build put in /etc/kboot/checks/
//! runs after the built-in report on a real kdump capture, and its output is in the
//! saved triage.txt and under `checks` in triage.json. A second, runaway check is
//! stopped by its time limit and the capture still saves and reboots.
//! The crashed system has two raw sockets open (busybox ping and ping6 on loopback):
//! xportshow.py -w on the saved dump lists the ones its own /proc/net/raw{,6} showed.

use qemu_tests::kdump::{
    crash_and_capture, files_in, read_crash_dir, work_dir, Production, WORKERS,
};
use qemu_tests::machine::{kboot_binary, workspace_root};

/// Walks the crashed kernel's tasks and names the test's two workers, which only the
/// dump (not the capture kernel's own /proc) can show.
const WORKERS_CHECK: &str = r#"names = sorted([str(t.comm) for t in for_each_task() if str(t.comm).startswith("kb-worker")])
print("WORKERS-SEEN " + " ".join(names))
"#;

/// Never ends: the 10 s default limit must stop it.
const RUNAWAY_CHECK: &str = "n = 0\nwhile True:\n    n += 1\n";

/// The production system opens raw sockets (busybox ping: socket(AF_INET, SOCK_RAW,
/// IPPROTO_ICMP), ping6: AF_INET6/IPPROTO_ICMPV6) and prints its own view of them.
const RAW_SOCKETS: &str = "ip link set lo up\n\
    ping -q 127.0.0.1 >/dev/null 2>&1 &\n\
    ping6 -q ::1 >/dev/null 2>&1 &\n\
    sleep 1\n\
    echo PROC-NET-RAW-BEGIN; cat /proc/net/raw /proc/net/raw6; echo PROC-NET-RAW-END";

/// (proto, IP protocol number) of each raw socket in the guest's /proc/net/raw and raw6
/// text: `sl local_address …` lines whose local port (hex after ':') is the protocol.
fn proc_net_raw(console: &str) -> Vec<(String, u64)> {
    let block = console
        .rsplit("PROC-NET-RAW-BEGIN")
        .next()
        .filter(|rest| rest.contains("PROC-NET-RAW-END"))
        .and_then(|rest| rest.split("PROC-NET-RAW-END").next())
        .unwrap_or_else(|| panic!("no /proc/net/raw listing on the console"));
    let mut found = Vec::new();
    for line in block.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(slot), Some(local)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        if !slot.ends_with(':') || slot == &"sl" {
            continue;
        }
        let (addr, port) = local.split_once(':').expect("addr:port");
        let proto = if addr.len() == 32 { "raw6" } else { "raw" };
        found.push((
            proto.to_string(),
            u64::from_str_radix(port, 16).expect("hex port"),
        ));
    }
    found.sort();
    found
}

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
        before_crash: RAW_SOCKETS,
        netns: None,
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

    // The guest's own view of its raw sockets against xportshow.py -w on the saved dump.
    let guest = proc_net_raw(&console);
    assert_eq!(
        guest,
        [("raw".to_string(), 1), ("raw6".to_string(), 58)],
        "the guest's /proc/net/raw{{,6}} (log: {log})"
    );
    let dump = dirs[0].join(
        files
            .iter()
            .find(|f| f.starts_with("dump."))
            .expect("a saved dump"),
    );
    let script = workspace_root().join("image/scripts/xportshow.py");
    let host = std::process::Command::new(kboot_binary())
        .arg("triage")
        .arg(&dump)
        .arg("--script")
        .arg(&script)
        .args(["--", "-w"])
        .output()
        .expect("kboot triage on the host");
    let shown = String::from_utf8_lossy(&host.stdout);
    assert!(host.status.success(), "xportshow.py -w failed: {shown}");
    let mut listed: Vec<(String, u64)> = Vec::new();
    for line in shown.lines().filter(|l| !l.starts_with("Proto ")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 5, "a raw line has 5 fields: {line:?}");
        let port = fields[1].rsplit(':').next().unwrap_or("");
        let number: u64 = port.parse().unwrap_or_else(|_| panic!("port in {line:?}"));
        let name = if number == 1 { "icmp" } else { "icmpv6" };
        assert_eq!(fields[3], "UNCONN", "{line}");
        assert_eq!(fields[4], name, "the protocol of {line:?}");
        listed.push((fields[0].to_string(), number));
    }
    listed.sort();
    assert_eq!(listed, guest, "xportshow.py -w:\n{shown}");
    // The capture kernel's own report (its net section) lists them too.
    assert!(
        report.contains("raw    0.0.0.0:1 ") && report.contains("raw6   [::]:58 "),
        "triage.txt's net section lacks the raw sockets"
    );
}
