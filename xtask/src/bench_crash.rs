//! `cargo xtask bench --triage`, side by side with `crash`: kboot's full report and
//! `crash -s vmlinux vmcore` running what a support engineer types first, on the same
//! genuine 6.1 vmcore, timed the same way (median of 3, peak RSS via /usr/bin/time); then
//! kboot's `bt` of every task against crash's (bt_compare.rs).
//!
//! crash needs the kernel's debuginfo, kboot does not: Debian's -dbg vmlinux for the
//! fixture's release is fetched once into target/debug-kernels (debug_kernel.rs). Without
//! it (no network, no such package, no crash) the crash row is skipped with the reason.
//!
//! Caveat measured on the 6.1.0-57 fixture: Debian 12's crash 8.0.2 sees only the idle
//! and the active tasks there ("active task … not found in PID hash"): 6.1.192 has the
//! backported `struct pid` flex array (kernel b69f0aeb0689) and crash reads
//! `pid.numbers[0].ns` past `sizeof(struct pid)` (fixed in crash 8.0.4, 88580068b7dd), so
//! `foreach bt` shows no sleeping task and only those few stacks can be compared.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::bench::{timed_runs, Timed};
use crate::bt_compare::{self, Stack};
use crate::debug_kernel;
use crate::process;
use crate::report::{print_table, stage};
use crate::Workspace;

/// What crash runs: issue 16's first look (`sys; bt -a; foreach bt; ps; log; kmem -i;
/// runq; net`), then `exit`.
pub const CRASH_COMMANDS: &[&str] = &[
    "sys",
    "bt -a",
    "foreach bt",
    "ps",
    "log",
    "kmem -i",
    "runq",
    "net",
];
const RUNS: usize = 3;
/// Issue 16's budget: kboot's report at least this many times faster than crash's.
const SPEEDUP_BUDGET: f64 = 20.0;

pub fn crash_figures(ws: &Workspace, kboot: &Path, vmcore: &Path) -> crate::Result<()> {
    println!(
        "\nTriage vs crash on the genuine vmcore (median of {RUNS}; budget: kboot >= {SPEEDUP_BUDGET:.0}x faster)"
    );
    let peer = match crash_setup(ws) {
        Ok(peer) => peer,
        Err(reason) => {
            // kboot's own row is in the table above.
            println!("  crash row skipped: {}", first_line(&reason));
            return Ok(());
        }
    };
    let ours = timed_runs(
        kboot.as_os_str(),
        &["triage".as_ref(), vmcore.as_os_str()],
        RUNS,
        false,
    )?;
    let mut rows = vec![row("kboot triage (full report)", &ours)];
    let cmds = std::env::temp_dir().join("kboot-bench-crash.cmds");
    std::fs::write(&cmds, command_file())
        .with_context(|| format!("failed to write {}", cmds.display()))?;
    let args: [&OsStr; 6] = [
        "-s".as_ref(),
        "--no_crashrc".as_ref(),
        peer.vmlinux.as_os_str(),
        vmcore.as_os_str(),
        "-i".as_ref(),
        cmds.as_os_str(),
    ];
    let label = format!("peer: {} -s ({})", peer.version, CRASH_COMMANDS.join("; "));
    let result = stage(&format!("{RUNS} x {label}"), || {
        timed_runs(peer.crash.as_os_str(), &args, RUNS, true)
    });
    let _ = std::fs::remove_file(&cmds);
    let theirs = match result {
        Ok(t) => {
            rows.push(row(&label, &t));
            Some(t)
        }
        Err(e) => {
            rows.push(vec![
                label,
                format!("failed: {}", first_line(&e)),
                "".into(),
            ]);
            None
        }
    };
    print_table(&["", "time", "peak RSS"], &rows);
    let Some(theirs) = theirs else {
        return Ok(());
    };
    println!("  {}", ratio_line(&ours, &theirs));
    let output = String::from_utf8_lossy(&theirs.stdout);
    // crash writes its warnings to stdout when that is a pipe.
    let pid_hash = "not found in PID hash";
    if output.contains(pid_hash) || theirs.stderr.contains(pid_hash) {
        println!(
            "  note: crash's task table is incomplete on this kernel (struct pid's flex array, \
             fixed in crash 8.0.4): its `foreach bt` shows only the idle and active tasks"
        );
    }
    bt_figures(kboot, vmcore, &output);
    Ok(())
}

/// crash, its version and the debug vmlinux, or why the row cannot be had.
struct Peer {
    crash: std::path::PathBuf,
    version: String,
    vmlinux: std::path::PathBuf,
}

fn crash_setup(ws: &Workspace) -> crate::Result<Peer> {
    let crash = process::find("crash")?;
    let version = process::tool("crash")?
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("crash "))
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "crash".into());
    let release = debug_kernel::fixture_release(ws)?;
    let vmlinux = stage(
        &format!(
            "Debian's debug vmlinux ({})",
            debug_kernel::package_name(&release)
        ),
        || debug_kernel::vmlinux(ws, &release),
    )?;
    Ok(Peer {
        crash,
        version,
        vmlinux,
    })
}

/// The file crash reads with -i: one command a line, then `exit`.
fn command_file() -> String {
    let mut text = CRASH_COMMANDS.join("\n");
    text.push_str("\nexit\n");
    text
}

fn row(label: &str, t: &Timed) -> Vec<String> {
    vec![
        label.to_string(),
        format!("{:.2} s", t.secs),
        format!("{:.1} MiB", t.peak_rss_kib as f64 / 1024.0),
    ]
}

/// `kboot is 35x faster than crash (budget >= 20x), 28x less memory`.
fn ratio_line(ours: &Timed, theirs: &Timed) -> String {
    // /usr/bin/time counts in 10 ms steps: a 0.00 s report is below its resolution.
    let speed = theirs.secs / ours.secs.max(0.01);
    let memory = theirs.peak_rss_kib as f64 / ours.peak_rss_kib.max(1) as f64;
    let verdict = if speed >= SPEEDUP_BUDGET {
        "ok"
    } else {
        "UNDER BUDGET"
    };
    format!(
        "kboot is {speed:.0}x faster than crash (budget >= {SPEEDUP_BUDGET:.0}x: {verdict}), \
         {memory:.0}x less peak RSS"
    )
}

/// What `kboot triage --section bt --all --json` gave.
enum KbootBt {
    Stacks(Vec<Stack>),
    /// This kboot has no bt section yet: its words.
    Missing(String),
}

fn kboot_bt(kboot: &Path, vmcore: &Path) -> crate::Result<KbootBt> {
    // kboot is our own binary, not a host tool: spawned by path.
    let out = Command::new(kboot)
        .arg("triage")
        .arg(vmcore)
        .args(["--section", "bt", "--all", "--json"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {}", kboot.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if no_bt_yet(out.status.code(), &stderr) {
            return Ok(KbootBt::Missing(
                stderr.lines().next().unwrap_or("").trim().to_string(),
            ));
        }
        anyhow::bail!(
            "kboot triage --section bt failed ({}): {}",
            out.status,
            stderr.trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    match bt_compare::parse_kboot_json(&text) {
        Ok(Some(stacks)) => Ok(KbootBt::Stacks(stacks)),
        // A kboot that ignores the section: no "bt", or a null one.
        Ok(None) => Ok(KbootBt::Missing("no \"bt\" in its JSON report".into())),
        Err(e) => Err(anyhow::anyhow!(e)),
    }
}

/// kboot refuses `--section bt` / `--all` as a usage error (status 2) until it has them.
fn no_bt_yet(code: Option<i32>, stderr: &str) -> bool {
    code == Some(2) && (stderr.contains("unknown section") || stderr.contains("unknown option"))
}

/// Per task agree/differ, then the figure; or why there is nothing to compare.
fn bt_figures(kboot: &Path, vmcore: &Path, crash_output: &str) {
    let crash = bt_compare::parse_crash_bt(crash_output);
    println!("\nbt: kboot against crash, task by task (function names, innermost first)");
    match kboot_bt(kboot, vmcore) {
        Ok(KbootBt::Missing(words)) => {
            println!("  bt agreement: kboot has no bt yet ({words})");
            println!("  (crash showed {} task stacks)", crash.len());
        }
        Ok(KbootBt::Stacks(ours)) => {
            println!(
                "  crash shows {} task stacks, kboot {}",
                crash.len(),
                ours.len()
            );
            let agreement = bt_compare::compare(&crash, &ours);
            for line in agreement.report_lines() {
                println!("  {line}");
            }
            println!("  {}", agreement.figure());
        }
        Err(e) => println!("  bt agreement: not measured: {}", first_line(&e)),
    }
}

fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_gets_the_issues_commands_then_exit() {
        assert_eq!(
            command_file(),
            "sys\nbt -a\nforeach bt\nps\nlog\nkmem -i\nrunq\nnet\nexit\n"
        );
    }

    #[test]
    fn a_kboot_without_bt_is_told_from_a_failing_one() {
        let usage = "triage: unknown section bt (one of: sys panic log ps mem runq net warnings)\n\
                     usage: triage [DUMP] [--json] [--dmesg] [--section NAME]...";
        assert!(no_bt_yet(Some(2), usage));
        assert!(no_bt_yet(Some(2), "triage: unknown option --all\nusage: …"));
        assert!(!no_bt_yet(
            Some(1),
            "triage: vmcore: No such file or directory"
        ));
        assert!(!no_bt_yet(None, usage));
    }

    #[test]
    fn the_ratio_line_gives_speed_memory_and_the_verdict() {
        let t = |secs, rss| Timed {
            secs,
            peak_rss_kib: rss,
            stdout: Vec::new(),
            stderr: String::new(),
        };
        assert_eq!(
            ratio_line(&t(0.33, 15_932), &t(11.59, 446_672)),
            "kboot is 35x faster than crash (budget >= 20x: ok), 28x less peak RSS"
        );
        assert!(ratio_line(&t(1.0, 1), &t(10.0, 1)).contains("UNDER BUDGET"));
        assert!(ratio_line(&t(0.0, 0), &t(10.0, 1)).contains("1000x"));
    }
}
