//! Running a script against a dump: `kboot triage DUMP --script FILE [-- ARGS]`, and the
//! capture mode's checks (their output and failure collected into the report).

use super::host::DumpHost;
use super::{run_source, Limits, ScriptError};
use crate::dump::kernel::Dump;

/// What one script did: its printed output, and why it stopped early (None: it finished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutcome {
    pub output: String,
    pub error: Option<String>,
    pub exit_status: i64,
}

/// Runs `source` (named `name` in messages) on an opened dump, collecting what it prints.
pub fn run_collected(
    dump: &Dump,
    name: &str,
    source: &str,
    args: &[String],
    limits: Limits,
) -> ScriptOutcome {
    let mut out: Vec<u8> = Vec::new();
    let mut host = DumpHost::new(dump);
    let mut argv = vec![name.to_string()];
    argv.extend(args.iter().cloned());
    let r = run_source(source, &argv, Some(&mut host), &mut out, limits);
    let (error, exit_status) = match r {
        Ok(()) | Err(ScriptError::Exit(0)) => (None, 0),
        Err(ScriptError::Exit(code)) => (None, code),
        Err(e) => (Some(e.describe(name)), 1),
    };
    ScriptOutcome {
        output: String::from_utf8_lossy(&out).into_owned(),
        error,
        exit_status,
    }
}

/// Runs a script with its output going straight to `out` (the command line); returns the
/// exit status: the script's own, 1 for an error (message on stderr), 2 for a bad script
/// file.
pub fn run_streaming(
    dump: &Dump,
    script: &std::path::Path,
    args: &[String],
    limits: Limits,
    out: &mut dyn std::io::Write,
) -> i32 {
    let name = script.display().to_string();
    let source = match std::fs::read_to_string(script) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("triage: {name}: {e}");
            return 2;
        }
    };
    let mut host = DumpHost::new(dump);
    let mut argv = vec![name.clone()];
    argv.extend(args.iter().cloned());
    let r = run_source(&source, &argv, Some(&mut host), out, limits);
    let _ = out.flush();
    match r {
        Ok(()) => 0,
        Err(ScriptError::Exit(code)) => code.clamp(0, 255) as i32,
        Err(e) => {
            eprintln!("{}", e.describe(&name));
            1
        }
    }
}

/// Where the capture mode finds its checks (put there by the build's config).
pub const CHECKS_DIR: &str = "/etc/kboot/checks";

/// Runs every `*.py` in `dir` (name order) on the dump, each with `limits`; the dump is
/// opened once, and only when there is a check to run.
pub fn run_checks(
    vmcore: &std::path::Path,
    dir: &std::path::Path,
    limits: Limits,
) -> Vec<crate::dump::report::checks::CheckOutput> {
    use crate::dump::report::checks::CheckOutput;
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "py"))
            .collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    if files.is_empty() {
        return Vec::new();
    }
    let failed = |name: String, error: String| CheckOutput {
        name,
        output: String::new(),
        error: Some(error),
    };
    let dump = match Dump::open(vmcore) {
        Ok(d) => d,
        Err(e) => {
            return files
                .iter()
                .map(|f| failed(file_name(f), format!("{}: {e}", vmcore.display())))
                .collect()
        }
    };
    files
        .iter()
        .map(|f| {
            let name = file_name(f);
            match std::fs::read_to_string(f) {
                Ok(source) => {
                    let r = run_collected(&dump, &name, &source, &[], limits);
                    CheckOutput {
                        name,
                        output: r.output,
                        error: r.error,
                    }
                }
                Err(e) => failed(name, format!("{}: {e}", f.display())),
            }
        })
        .collect()
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
