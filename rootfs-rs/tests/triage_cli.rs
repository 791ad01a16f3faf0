//! The triage applet as a program: usage errors, missing files, text and JSON output on a
//! real dump (the JSON checked by Python's json module and the documented key types).

#[path = "triage_common/mod.rs"]
mod common;

use common::{guest_view, qemu_fixture};
use std::process::Command;

fn triage(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kboot"))
        .arg("triage")
        .args(args)
        .output()
        .expect("run triage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn usage_help_and_missing_files() {
    let (code, out, _) = triage(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("usage: triage [DUMP]"));
    let (code, _, err) = triage(&["/x"]);
    assert_eq!(
        (code, err.trim()),
        (1, "triage: /x: No such file or directory")
    );
    let (code, _, err) = triage(&["--section", "nope"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("triage: unknown section nope"), "{err}");
    let (code, _, err) = triage(&["/tmp"]);
    assert_eq!((code, err.trim()), (1, "triage: /tmp: Is a directory"));
    // Not a dump at all: a partial report that says why, exit 0.
    let (code, out, _) = triage(&["/proc/self/status", "--section", "sys"]);
    assert_eq!(code, 0);
    assert!(out.contains("WARNING [section:dump]"), "{out}");
}

const CHECK_JSON: &str = r#"
import json, sys
d = json.load(sys.stdin)
assert list(d) == ["dump", "system", "panic", "log_tail", "tasks", "memory", "runqueues", "network", "modules", "mounts", "slab", "bt", "hung_tasks", "stack_groups", "warnings", "checks", "problems"], list(d)
s = d["system"]
assert isinstance(s["release"], str) and isinstance(s["cpus"], int) and isinstance(s["memory_total_kib"], int)
assert len(s["load_avg"]) == 3 and all(isinstance(x, float) for x in s["load_avg"])
for t in d["tasks"]:
    for k, ty in [("pid", int), ("ppid", int), ("state", str), ("comm", str), ("cpu", int), ("policy", str), ("rt_priority", int), ("rss_kib", int)]:
        assert isinstance(t[k], ty), (k, t)
for so in d["network"]["sockets"]:
    for k in ("proto", "local", "remote", "state"):
        assert isinstance(so[k], str), so
    assert ("path" in so) == (so["proto"] == "unix"), so
assert isinstance(d["network"]["interfaces"], list) and isinstance(d["log_tail"], list)
counts = d["network"]["counts_by_state"]
assert sum(counts.values()) == len(d["network"]["sockets"]) and counts["tcp LISTEN"] == 1, counts
assert all(isinstance(w["check"], str) and isinstance(w["message"], str) for w in d["warnings"])
ranks = ["critical", "high", "medium", "low"]
assert all(p["severity"] in ranks and isinstance(p["section"], str) and isinstance(p["message"], str) for p in d["problems"])
assert [ranks.index(p["severity"]) for p in d["problems"]] == sorted(ranks.index(p["severity"]) for p in d["problems"])
assert len(d["problems"]) == len(d["warnings"]) + (1 if d["panic"] and d["panic"]["message"] else 0)
assert isinstance(s["tainted"], str) and isinstance(s["cmdline"], str)
for m in d["modules"]:
    for k, ty in [("name", str), ("module", str), ("base", str), ("size", int), ("refcount", int), ("state", str), ("taints", str)]:
        assert isinstance(m[k], ty), (k, m)
assert [m["name"] for m in d["modules"]] == ["qemu_fw_cfg"], d["modules"]
for m in d["mounts"]:
    for k in ("mount", "superblock", "type", "devname", "path"):
        assert isinstance(m[k], str), (k, m)
assert {"path": "/proc", "type": "proc"}.items() <= next(m for m in d["mounts"] if m["path"] == "/proc").items()
sl = d["slab"]
assert len(sl["caches"]) == 20 and sl["total_caches"] > 20 and sl["counts_unavailable"] is None, sl
for c in sl["caches"]:
    for k in ("object_size", "size", "objects_per_slab", "order", "slab_bytes", "slabs", "objects", "active_objects", "memory_kib"):
        assert isinstance(c[k], int), (k, c)
    assert isinstance(c["name"], str) and c["cache"].startswith("0x"), c
assert sl["total_kib"] >= sum(c["memory_kib"] for c in sl["caches"])
for b in d["bt"] + [h["backtrace"] for h in d["hung_tasks"]]:
    assert isinstance(b["pid"], int) and isinstance(b["comm"], str) and b["unwinder"] in ("orc", "frame pointer", "guessed", "none"), b
    assert b["cpu"] is None or isinstance(b["cpu"], int)
    for f in b["frames"]:
        assert isinstance(f["address"], int) and isinstance(f["guessed"], bool) and (f["function"] is None or isinstance(f["function"], str)), f
assert len(d["bt"]) == s["cpus_online"] and all(isinstance(b["cpu"], int) for b in d["bt"])
assert all(isinstance(h["waited_secs"], float) for h in d["hung_tasks"])
assert sum(g["count"] for g in d["stack_groups"]) == len(d["tasks"]), (len(d["tasks"]), d["stack_groups"])
print(s["release"], len(d["tasks"]), len(d["log_tail"]))
"#;

#[test]
fn json_report_is_valid_and_typed_as_documented() {
    let Some(dir) = qemu_fixture() else { return };
    let dump = dir.join("vmcore.elf");
    let (code, json, err) = triage(&[dump.to_str().expect("utf-8 path"), "--json"]);
    assert_eq!(code, 0, "{err}");
    let mut py = qemu_tests::host_tools::command("python3")
        .args(["-c", CHECK_JSON])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(py.stdin.as_mut().expect("stdin"), json.as_bytes())
        .expect("feed json");
    let out = py.wait_with_output().expect("python3 result");
    assert!(
        out.status.success(),
        "JSON check failed on: {}",
        &json[..json.len().min(2000)]
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    let release = guest_view(&dir).release;
    assert!(summary.starts_with(&release), "{summary}");
    assert!(
        summary.trim().ends_with(" 40"),
        "log_tail holds the last 40 lines: {summary}"
    );
}

#[test]
fn text_sections_and_the_api_example() {
    let Some(dir) = qemu_fixture() else { return };
    let dump = dir.join("vmcore.elf");
    let path = dump.to_str().expect("utf-8 path");
    let (code, out, _) = triage(&[path, "--section", "ps", "--section", "net"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("== PS ==") && out.contains("== NETWORK ==") && !out.contains("== MEMORY ==")
    );
    assert!(
        out.lines()
            .any(|l| l.contains("kb-fifo") && l.contains("FIFO") && l.contains(" 50 ")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("tcp ") && l.contains(":7777") && l.ends_with("LISTEN")),
        "{out}"
    );
    let (_, dmesg, _) = triage(&[path, "--section", "log", "--dmesg"]);
    assert!(dmesg.lines().filter(|l| l.starts_with('[')).count() > 40);
    assert!(dmesg.contains("Linux version "));

    // examples/walk_tasks.rs prints what the guest listed.
    let status = Command::new(env!("CARGO"))
        .args([
            "run",
            "-q",
            "-p",
            "rootfs-rs",
            "--example",
            "walk_tasks",
            "--",
            path,
        ])
        .env("CARGO_BUILD_JOBS", "1")
        .output()
        .expect("cargo run --example");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = String::from_utf8_lossy(&status.stdout);
    for (pid, comm) in &guest_view(&dir).tasks {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{pid} "))
                    && common::comm_matches(
                        l.trim_start().split_once(' ').map_or("", |p| p.1),
                        comm
                    )),
            "pid {pid} {comm}"
        );
    }
}
