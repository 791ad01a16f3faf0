//! Triage scripts (docs/scripting.md) on the genuine kdump captures of every kernel
//! fixture: a task walk agrees with the ps section, a version fallback gives one answer on
//! 5.10 (`state`) and 6.x (`__state`), the limits stop runaway scripts, and the shipped
//! scripts agree with the report's own data.

#[path = "triage_common/mod.rs"]
mod common;

use common::{kdump_fixture, suite_fixture, SUITES};
use rootfs_rs::dump::report::{build, Options, Report};
use rootfs_rs::dump::script::run::{run_collected, ScriptOutcome};
use rootfs_rs::dump::script::{Limits, DEFAULT_LIMITS};
use rootfs_rs::dump::Dump;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// (name, dump) of the 6.1 capture and of each suite's (5.10, 6.12, 7.x) that exists.
fn dumps() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Some(dir) = kdump_fixture() {
        out.push(("6.1".to_string(), dir.join("vmcore.proc.elf")));
    }
    for suite in SUITES {
        // A capture already in the cache is used as it is: a worktree sees the cache through
        // a symlink, whose path differs from the one in the fixture's inputs stamp, and the
        // script would otherwise boot the guest again to remake an identical dump.
        let cached = common::root().join(format!("../target/fixtures/kdump-{suite}"));
        let dir = if cached.join("vmcore.proc.elf").exists() {
            Some(cached)
        } else {
            suite_fixture("kdump", suite)
        };
        if let Some(dir) = dir {
            out.push((suite.to_string(), dir.join("vmcore.proc.elf")));
        }
    }
    out.retain(|(_, p)| p.exists());
    out
}

fn report(path: &Path, section: &str) -> Report {
    build(
        path,
        &Options {
            sections: vec![section.to_string()],
            ..Options::default()
        },
    )
}

fn run(dump: &Dump, src: &str, args: &[&str]) -> ScriptOutcome {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_collected(dump, "test.py", src, &args, DEFAULT_LIMITS)
}

fn ok(dump: &Dump, name: &str, src: &str, args: &[&str]) -> String {
    let r = run(dump, src, args);
    assert_eq!(
        r.error, None,
        "{name}: script failed; output:\n{}",
        r.output
    );
    r.output
}

pub fn shipped(name: &str) -> String {
    let path = common::root().join("../image/scripts").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const TASKS: &str = r#"
for t in for_each_task():
    print(t.pid, t.tgid, t.comm)
"#;

#[test]
fn a_task_walk_agrees_with_the_ps_section() {
    for (name, path) in dumps() {
        let dump = Dump::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = ok(&dump, &name, TASKS, &[]);
        let r = report(&path, "ps");
        let tasks = r.tasks.as_deref().expect("ps section");
        let expected: Vec<String> = tasks
            .iter()
            .map(|t| format!("{} {} {}", t.pid, t.tgid, t.comm))
            .collect();
        let got: Vec<&str> = out.lines().collect();
        assert!(expected.len() > 20, "{name}: {} tasks", expected.len());
        assert_eq!(got, expected, "{name}");
    }
}

/// Counts tasks by state letter reading the raw field through a fallback: 5.10 calls it
/// `state`, 5.14+ `__state`.
const STATES: &str = r#"
task_state = alias("struct task_struct", ["__state", "state"])
LETTERS = "RSDTtXZPI"
counts = {}
for t in for_each_task():
    raw = member(t, task_state)
    reported = 0x80 if raw == 0x402 else (raw | t.exit_state) & 0x7f
    index = 0
    while reported:
        index += 1
        reported >>= 1
    letter = LETTERS[index]
    counts[letter] = counts.get(letter, 0) + 1
print(task_state)
for k in sorted(counts):
    print(k, counts[k])
"#;

#[test]
fn a_version_fallback_reads_state_on_every_kernel() {
    let mut fields = Vec::new();
    for (name, path) in dumps() {
        let dump = Dump::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = ok(&dump, &name, STATES, &[]);
        let mut lines = out.lines();
        let field = lines.next().unwrap_or_default().to_string();
        let r = report(&path, "ps");
        let expected: Vec<String> = r
            .task_states
            .iter()
            .map(|(letter, n)| format!("{letter} {n}"))
            .collect();
        assert_eq!(lines.collect::<Vec<_>>(), expected, "{name}");
        fields.push((name, field));
    }
    for (name, field) in &fields {
        let want = if name == "bullseye" {
            "state"
        } else {
            "__state"
        };
        assert_eq!(field, want, "{name}: the alias picked the wrong field");
    }
}

#[test]
fn limits_stop_a_runaway_script_and_name_the_limit() {
    let Some((name, path)) = dumps().into_iter().next() else {
        return;
    };
    let dump = Dump::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let limits = Limits {
        time: Duration::from_millis(500),
        memory: 16 << 20,
    };
    let started = Instant::now();
    let endless = "n = 0\nwhile True:\n    n += readU32(sym2addr('jiffies'))\n";
    let r = run_collected(&dump, "loop.py", endless, &[], limits);
    let e = r.error.expect("the endless loop stopped");
    assert!(e.contains("time limit of 0.5 s exceeded"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let huge = "print('start')\ntry:\n    b = readmem(sym2addr('jiffies'), 15 << 20) * 100\nexcept Exception:\n    print('caught')\n";
    let r = run_collected(&dump, "huge.py", huge, &[], limits);
    let e = r.error.expect("the allocation stopped");
    assert!(e.contains("memory limit of 16 MiB exceeded"), "{e}");
    assert_eq!(
        r.output, "start\n",
        "a limit is not an exception a script can catch"
    );
}

#[test]
fn dump_errors_are_exceptions_naming_type_and_address() {
    let Some((name, path)) = dumps().into_iter().next() else {
        return;
    };
    let dump = Dump::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let src = r#"
t = readSymbol("init_task")
try:
    t.no_such_field
except AttributeError as e:
    print(e)
try:
    readU64(0xffff800000000000 - 0x1000)
except DumpError as e:
    print(type(e).__name__)
try:
    readSU("struct task_struct", 0).pid
except PageMissing as e:
    print("missing", e)
except DumpError as e:
    print("other", type(e).__name__)
print(Addr(t) == sym2addr("init_task"), addr2sym(sym2addr("init_task")), t.comm)
"#;
    let out = ok(&dump, &name, src, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("struct task_struct at 0xffffffff")
            && lines[0].ends_with("has no member 'no_such_field'"),
        "{out}"
    );
    assert_eq!(lines[1], "DumpError", "{out}");
    assert!(
        lines[2].starts_with("missing ") || lines[2].starts_with("other "),
        "{out}"
    );
    assert_eq!(lines[3], "True init_task swapper/0", "{out}");
}

/// The fenced block after `<!-- tutorial-script -->` in docs/scripting.md.
fn tutorial_script() -> String {
    let doc = std::fs::read_to_string(common::root().join("../docs/scripting.md"))
        .expect("docs/scripting.md");
    let after = doc
        .split("<!-- tutorial-script -->")
        .nth(1)
        .expect("tutorial marker");
    let body = after.split("```python\n").nth(1).expect("python block");
    body.split("```").next().expect("end of block").to_string()
}

#[test]
fn the_tutorials_script_counts_threads_like_ps() {
    let src = tutorial_script();
    for (name, path) in dumps() {
        let dump = Dump::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = ok(&dump, &name, &src, &["8"]);
        let r = report(&path, "ps");
        let tasks = r.tasks.as_deref().expect("ps section");
        let mut groups: std::collections::BTreeMap<i32, (String, usize, usize)> =
            Default::default();
        for t in tasks.iter().filter(|t| t.pid != 0) {
            let g = groups.entry(t.tgid).or_default();
            g.1 += 1;
            g.2 += usize::from(t.state == 'D');
        }
        for t in tasks.iter().filter(|t| t.pid == t.tgid) {
            if let Some(g) = groups.get_mut(&t.tgid) {
                g.0 = t.comm.clone();
            }
        }
        let mut top: Vec<_> = groups.into_iter().collect();
        top.sort_by_key(|(tgid, g)| (std::cmp::Reverse(g.1), *tgid));
        let mut expected = vec![format!(
            "{:>7} {:>7} {:>7}  COMM",
            "TGID", "THREADS", "BLOCKED"
        )];
        expected.extend(
            top.iter()
                .take(8)
                .map(|(tgid, g)| format!("{tgid:>7} {:>7} {:>7}  {}", g.1, g.2, g.0)),
        );
        assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{name}");
    }
}

#[test]
fn xportshow_lists_the_net_sections_sockets() {
    let src = shipped("xportshow.py");
    for (name, path) in dumps() {
        let dump = Dump::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = report(&path, "net");
        let socks = r.sockets.as_deref().expect("net section");
        let started = Instant::now();
        let out = ok(&dump, &name, &src, &["-a"]);
        eprintln!(
            "{name}: xportshow.py -a took {:?} (unoptimised test build)",
            started.elapsed()
        );
        let mut got: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with("Proto "))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let mut expected: Vec<String> = socks
            .iter()
            .map(|s| {
                let fields = if s.proto == "unix" {
                    vec![
                        "unix",
                        s.kind.as_deref().unwrap_or("?"),
                        &s.state,
                        s.path.as_deref().unwrap_or(""),
                    ]
                } else {
                    // A raw socket's line ends with its IP protocol (None otherwise).
                    vec![
                        &s.proto[..],
                        &s.local,
                        &s.remote,
                        &s.state,
                        s.kind.as_deref().unwrap_or(""),
                    ]
                };
                fields.join(" ").trim_end().to_string()
            })
            .collect();
        got.sort();
        expected.sort();
        assert!(expected.len() >= 3, "{name}: {} sockets", expected.len());
        assert_eq!(got, expected, "{name}");
        // --summary's counts are the report's counts by state.
        let summary = ok(&dump, &name, &src, &["--summary"]);
        for (key, n) in rootfs_rs::dump::report::socket_counts(socks) {
            let line = format!("  {key:<24} {n}");
            assert!(
                summary.lines().any(|l| l == line),
                "{name}: no {line:?} in\n{summary}"
            );
        }
        let listening = ok(&dump, &name, &src, &["-l", "-t"]);
        let listen_count = socks
            .iter()
            .filter(|s| s.proto.starts_with("tcp") && s.state == "LISTEN")
            .count();
        assert_eq!(
            listening.lines().filter(|l| l.contains(" LISTEN")).count(),
            listen_count,
            "{name}"
        );
    }
}

#[test]
fn crashinfo_summarises_every_fixture() {
    let src = shipped("crashinfo.py");
    for (name, path) in dumps() {
        let dump = Dump::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = ok(&dump, &name, &src, &[]);
        let r = report(&path, "ps");
        let release = rootfs_rs::dump::helpers::tasks::release(&dump).expect("release");
        assert!(out.contains(&format!("({release})")), "{name}:\n{out}");
        let tasks = r.tasks.as_deref().expect("ps").len();
        assert!(
            out.contains(&format!("TASKS     {tasks}: ")),
            "{name}:\n{out}"
        );
        assert!(
            out.contains("PANIC     ") && out.contains("WARNINGS  "),
            "{name}:\n{out}"
        );
    }
}

#[test]
fn capture_checks_run_after_the_report_and_land_in_text_and_json() {
    let Some((name, path)) = dumps().into_iter().next() else {
        return;
    };
    let dir = common::root().join("../target/test-checks");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("checks dir");
    std::fs::write(
        dir.join("10-release.py"),
        "print('release', kernel_release())\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("20-spin.py"),
        "print('spinning')\nwhile True:\n    pass\n",
    )
    .expect("write");
    std::fs::write(dir.join("notes.txt"), "not a check\n").expect("write");
    let limits = Limits {
        time: Duration::from_millis(300),
        memory: 16 << 20,
    };
    let mut r = report(&path, "sys");
    r.checks = rootfs_rs::dump::script::run::run_checks(&path, &dir, limits);
    assert_eq!(r.checks.len(), 2, "{name}: {:?}", r.checks);
    let release = r.system.as_ref().expect("sys").release.clone();
    assert_eq!(r.checks[0].output, format!("release {release}\n"));
    assert_eq!(r.checks[0].error, None);
    assert_eq!(r.checks[1].output, "spinning\n");
    assert!(
        r.checks[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("time limit")),
        "{:?}",
        r.checks[1]
    );
    let text = rootfs_rs::dump::report::render_text(&r);
    assert!(
        text.contains("== CHECK 10-release.py ==\nrelease "),
        "{text}"
    );
    assert!(
        text.contains("CHECK FAILED: 20-spin.py: stopped: time limit"),
        "{text}"
    );
    let json = rootfs_rs::dump::report::json::report_json(&r).to_text();
    assert!(
        json.contains(r#""checks":[{"name":"10-release.py","output":"release "#),
        "{json}"
    );
}

/// `kboot triage DUMP ARGS` with `input` on stdin: (status, stdout, stderr).
fn kboot_triage(dump: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_kboot"))
        .arg("triage")
        .arg(dump)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kboot");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("kboot output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_runs_scripts_and_the_prompt() {
    let Some((name, path)) = dumps().into_iter().next() else {
        return;
    };
    let dir = common::root().join("../target/test-checks");
    std::fs::create_dir_all(&dir).expect("dir");
    let script = dir.join("args.py");
    std::fs::write(
        &script,
        "print(argv[1:], kernel_release())\nexit(int(argv[1]))\n",
    )
    .expect("write");
    let (status, out, err) = kboot_triage(
        &path,
        &["--script", script.to_str().unwrap_or(""), "--", "3", "x"],
        "",
    );
    assert_eq!(status, 3, "{name}: {err}");
    assert!(out.starts_with("['3', 'x'] "), "{out}");
    let (status, _, err) = kboot_triage(
        &path,
        &[
            "--script",
            script.to_str().unwrap_or(""),
            "--script-time",
            "0.2",
            "--",
            "nope",
        ],
        "",
    );
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("ValueError: invalid literal for int()"),
        "{err}"
    );
    let input = "sym init_task\npy 6 * 7\nstruct task_struct sym2addr('init_task')\nfor t in for_each_task()[:2]:\n    print('task', t.pid)\n\nps\nquit\n";
    let (status, out, err) = kboot_triage(&path, &["-i"], input);
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("\n42\n") || out.starts_with("0x") && out.contains("42\n"),
        "{out}"
    );
    assert!(out.contains("  comm = 'swapper/0'"), "{out}");
    assert!(out.contains("task 0\ntask "), "{out}");
    assert!(out.contains("== PS =="), "{out}");
}
