//! The `triage` applet: triage [DUMP] [--json] [--dmesg] [--section NAME]...

use crate::dump::kernel::Dump;
use crate::dump::report::json::report_json;
use crate::dump::report::stacks::BtScope;
use crate::dump::report::{build, render_text, Options, Section};
use crate::dump::script::run::run_streaming;
use crate::dump::script::{Limits, DEFAULT_LIMITS};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

pub const USAGE: &str =
    "usage: triage [DUMP] [--json] [--dmesg] [--section NAME]... [--pid N | --cpu N | --all]
       triage [DUMP] --script FILE.py [--script-time S] [--script-memory MIB] [-- ARGS...]
       triage -i [DUMP]
Triage a Linux crash dump without debuginfo (kallsyms and BTF from the dump).
  DUMP             vmcore file (default /proc/vmcore, else /proc/kcore)
  --json           one JSON object instead of text
  --dmesg          the whole kernel log instead of its last 40 lines
  --section NAME   only this section (repeatable):
                   sys panic log ps mem runq net mod mount slab bt hung warnings
  --pid N          bt: the stack of task N (implies --section bt if no section is named)
  --cpu N          bt: the stack of the task running on CPU N (same)
  --all            bt: every task's stack, like crash's foreach bt (same)
                   (without these, bt shows each CPU's task, the panicking one first)
  --script FILE    run a triage script (Python subset, docs/scripting.md) on the dump
                   instead of the report; ARGS after -- are its argv[1:]
  --script-time S  stop the script after S seconds (default 10)
  --script-memory MIB  stop the script past MIB MiB of memory (default 64)
  -i               an interactive prompt: crash-like commands and Python (type help)
  --help           this text
Exit status: 0 report written (possibly partial, see warnings), 1 error, 2 usage.";

#[derive(Debug, PartialEq)]
struct Args {
    dump: Option<PathBuf>,
    json: bool,
    options: Options,
    script: Option<PathBuf>,
    script_args: Vec<String>,
    limits: Limits,
    interactive: bool,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse(args: &[OsString]) -> Result<Parsed, String> {
    let mut a = Args {
        dump: None,
        json: false,
        options: Options::default(),
        script: None,
        script_args: Vec::new(),
        limits: DEFAULT_LIMITS,
        interactive: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.to_str() {
            Some("--help" | "-h") => return Ok(Parsed::Help),
            Some("--json") => a.json = true,
            Some("-i" | "--interactive") => a.interactive = true,
            Some("--dmesg") => a.options.full_log = true,
            Some("--all") => a.options.bt = BtScope::All,
            Some(flag @ ("--pid" | "--cpu")) => {
                let v = it
                    .next()
                    .and_then(|v| v.to_str())
                    .ok_or_else(|| format!("option {flag} needs a number"))?;
                a.options.bt = if flag == "--pid" {
                    BtScope::Pid(v.parse().map_err(|_| format!("--pid {v}: not a pid"))?)
                } else {
                    BtScope::Cpu(
                        v.parse()
                            .map_err(|_| format!("--cpu {v}: not a CPU number"))?,
                    )
                };
            }
            Some("--") => {
                a.script_args = it
                    .by_ref()
                    .map(|s| s.to_string_lossy().into_owned())
                    .collect();
            }
            Some("--script") => {
                let file = it.next().ok_or("option --script needs a FILE")?;
                a.script = Some(PathBuf::from(file));
            }
            Some(flag @ ("--script-time" | "--script-memory")) => {
                let v = it
                    .next()
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e6)
                    .ok_or_else(|| format!("option {flag} needs a positive number"))?;
                if flag == "--script-time" {
                    a.limits.time = std::time::Duration::from_secs_f64(v);
                } else {
                    a.limits.memory = (v * 1048576.0) as usize;
                }
            }
            Some("--section") => {
                let name = it.next().ok_or("option --section needs a NAME")?;
                let name = name
                    .to_str()
                    .filter(|n| Section::from_name(n).is_some())
                    .ok_or_else(|| {
                        format!(
                            "unknown section {} (one of: {})",
                            name.to_string_lossy(),
                            Section::ALL.map(Section::name).join(" ")
                        )
                    })?;
                a.options.sections.push(name.to_string());
            }
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {s}"))
            }
            _ if a.dump.is_none() => a.dump = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {}", arg.to_string_lossy())),
        }
    }
    if a.options.bt != BtScope::Active && a.options.sections.is_empty() {
        a.options.sections.push(Section::Bt.name().to_string());
    }
    Ok(Parsed::Run(a))
}

/// The default dump: /proc/vmcore in a capture kernel, else the live /proc/kcore.
fn default_dump() -> PathBuf {
    ["/proc/vmcore", "/proc/kcore"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/proc/vmcore"))
}

/// Runs the applet on `args` (without the program name); returns the exit status.
pub fn triage_main(args: &[OsString]) -> i32 {
    let args = match parse(args) {
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return 0;
        }
        Ok(Parsed::Run(a)) => a,
        Err(e) => {
            eprintln!("triage: {e}\n{USAGE}");
            return 2;
        }
    };
    let path = args.dump.unwrap_or_else(default_dump);
    // A missing or unreadable file is an error, not a partial report.
    if let Err(e) = std::fs::File::open(&path) {
        let msg = match e.kind() {
            std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
            _ => e.to_string(),
        };
        eprintln!("triage: {}: {msg}", path.display());
        return 1;
    }
    if path.is_dir() {
        eprintln!("triage: {}: Is a directory", path.display());
        return 1;
    }
    if args.script.is_some() || args.interactive {
        let dump = match Dump::open(&path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("triage: {}: {e}", path.display());
                return 1;
            }
        };
        let Some(script) = &args.script else {
            return crate::dump::script::repl::run(&dump);
        };
        let mut out = std::io::stdout().lock();
        return run_streaming(&dump, script, &args.script_args, args.limits, &mut out);
    }
    let report = build(&path, &args.options);
    let text = if args.json {
        report_json(&report).to_text() + "\n"
    } else {
        render_text(&report)
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("triage: write error: {e}");
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments_parse_and_bad_ones_are_usage_errors() {
        let Ok(Parsed::Run(a)) = parse(&os(&[
            "d",
            "--json",
            "--section",
            "ps",
            "--dmesg",
            "--section",
            "net",
        ])) else {
            panic!()
        };
        assert_eq!(a.dump, Some(PathBuf::from("d")));
        assert!(a.json && a.options.full_log);
        assert_eq!(a.options.sections, ["ps", "net"]);
        assert!(matches!(parse(&os(&["--help"])), Ok(Parsed::Help)));
        for bad in [
            &["--section"][..],
            &["--section", "bogus"],
            &["--frob"],
            &["a", "b"],
        ] {
            assert!(parse(&os(bad)).is_err(), "{bad:?}");
        }
        let Ok(Parsed::Run(a)) = parse(&os(&["d", "--pid", "42"])) else {
            panic!()
        };
        assert_eq!(
            (a.options.bt, &a.options.sections[..]),
            (BtScope::Pid(42), &["bt".to_string()][..])
        );
        let Ok(Parsed::Run(a)) = parse(&os(&["d", "--all", "--section", "hung"])) else {
            panic!()
        };
        assert_eq!(
            (a.options.bt, &a.options.sections[..]),
            (BtScope::All, &["hung".to_string()][..])
        );
        for bad in [&["--pid"][..], &["--pid", "x"], &["--cpu", "-1"]] {
            assert!(parse(&os(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(triage_main(&os(&["--frob"])), 2);
        assert_eq!(triage_main(&os(&["/nonexistent/vmcore"])), 1);
    }
}
