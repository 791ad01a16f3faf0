//! Capture mode: what kboot does as a kdump capture kernel. Triage /proc/vmcore and show the
//! summary on every console (panic first), save the report, the log and a filtered,
//! compressed dump to the first target that works (a local filesystem here, NFS or a web
//! server in `remote`), POST the report to a collector if one is set, then reboot (or what
//! `action` says). Runs once per boot: a marker under /run stops a respawned front end from
//! capturing again.

pub mod files;
pub mod remote;
pub mod settings;

use crate::blockdev::spec::{self as target, Found, TargetSpec};
use crate::config::toml::Document;
use crate::console::announce;
use crate::dump::report::json::report_json;
use crate::dump::report::{build, render_sections, render_text, Options, Report, Section};
use crate::dump::save::cli::{progress_parts, summary};
use crate::dump::save::{save_kdump, DumpSink, Progress, SaveError, SaveOptions, SaveStats};
use crate::dump::script::run::{run_checks, CHECKS_DIR};
use crate::dump::script::DEFAULT_LIMITS;
use settings::{Action, DumpSettings};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The label that marks a filesystem as meant for dumps.
pub const DUMP_LABEL: &str = "KBOOT-DUMP";

const VMCORE: &str = "/proc/vmcore";
/// The capture's text report, kept in RAM to be read over SSH while the kernel holds.
pub const REPORT_IN_RAM: &str = "/run/kboot/triage.txt";
/// Created over SSH (`touch`) to end a hold before its time.
pub const RELEASE_HOLD: &str = "/run/kboot/release";
const ATTEMPT_MARKER: &str = "/run/kboot/capture.attempted";
const MOUNT_POINT: &str = "/run/kboot/dump-target";

/// Set by `run`: in the capture kernel every console gets the messages; anywhere else
/// (tests, a workstation) they go to stderr only.
static ON_ALL_CONSOLES: AtomicBool = AtomicBool::new(false);

fn show(text: &str) {
    if ON_ALL_CONSOLES.load(Ordering::Relaxed) {
        announce(text);
    } else {
        eprint!("{text}");
    }
}

pub(crate) fn say(text: &str) {
    show(&format!("kboot: dump: {text}\n"));
}

/// What runs after a capture when the action is the menu or the shell (or a reboot failed).
pub struct FrontEnds {
    pub menu: fn(&[OsString]) -> i32,
    pub shell: fn(&[OsString]) -> i32,
}

/// The front end in dump mode; returns only when the action is the shell or the menu (or a
/// reboot failed), with the status of what ran last. `ui` holds the menu front end and the
/// shell (passed in: both sit above capture, which must not import them back).
pub fn run(ui: &FrontEnds) -> i32 {
    ON_ALL_CONSOLES.store(true, Ordering::Relaxed);
    // Read and parsed once; a missing file is an empty one.
    let toml = crate::config::load(Path::new(crate::config::CONFIG_PATH))
        .unwrap_or_else(|_| Document::parse(""));
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let (settings, warnings) =
        DumpSettings::from_document(&toml, crate::config::CONFIG_PATH, &cmdline);
    // kboot.mode=dump on a machine that did not crash: nothing to save, and rebooting
    // would only come back here.
    if !Path::new(VMCORE).exists() {
        say("no /proc/vmcore: this is not a capture kernel; starting a shell");
        return (ui.shell)(&[]);
    }
    // Decided once: it also decides whether the capture brings the network up.
    let hold = holds_for_ssh(&settings);
    // The marker is written before the attempt: a capture killed half way (out of memory
    // in a small crashkernel= reservation) must not be retried by the respawning init
    // for ever; the next start goes straight to the action.
    if Path::new(ATTEMPT_MARKER).exists() {
        say("an earlier capture attempt in this boot did not finish (killed? out of memory?); not retrying");
    } else {
        let _ = std::fs::create_dir_all("/run/kboot");
        let _ = std::fs::write(ATTEMPT_MARKER, b"");
        for w in &warnings {
            say(&format!("warning: {w}"));
        }
        capture(Path::new(VMCORE), &settings, &cmdline, hold);
    }
    if hold {
        hold_for_ssh(&settings);
    }
    finish(settings.action, ui)
}

/// Whether the machine waits before its reboot or power-off for the report to be read
/// over SSH: a hold is set and the image has keys that can log in.
fn holds_for_ssh(settings: &DumpSettings) -> bool {
    let leaves = matches!(settings.action, Action::Reboot | Action::Poweroff);
    if settings.ssh_hold == 0 || !leaves {
        return false;
    }
    let keys = crate::net::ssh::keys::AUTHORIZED_KEYS;
    if !Path::new(keys).exists() {
        say(&format!(
            "warning: ssh_hold is set but the image has no {keys} ([ssh] authorized_keys): not waiting"
        ));
        return false;
    }
    true
}

/// Waits `ssh_hold` seconds, or until RELEASE_HOLD appears; sshd serves meanwhile.
fn hold_for_ssh(settings: &DumpSettings) {
    let _ = std::fs::remove_file(RELEASE_HOLD);
    say(&format!(
        "the report is readable over SSH for {} s (ssh root@THIS-MACHINE cat {REPORT_IN_RAM}); \
         touch {RELEASE_HOLD} to go on at once",
        settings.ssh_hold
    ));
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(settings.ssh_hold.into());
    while std::time::Instant::now() < deadline {
        if Path::new(RELEASE_HOLD).exists() {
            say("hold released over SSH");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    say("hold time over");
}

fn finish(action: Action, ui: &FrontEnds) -> i32 {
    match action {
        Action::Reboot => {
            say("rebooting");
            crate::power::reboot_main(&[]);
            say("reboot failed; starting a shell");
            (ui.shell)(&[])
        }
        Action::Poweroff => {
            say("powering off");
            crate::power::poweroff_main(&[]);
            (ui.shell)(&[])
        }
        Action::Menu => (ui.menu)(&[]),
        Action::Shell => (ui.shell)(&[]),
    }
}

/// Everything before the action. Never fails: each problem is said and the next step runs.
/// `reachable_over_ssh`: the machine will hold for SSH afterwards, so the network comes up.
pub fn capture(
    vmcore: &Path,
    settings: &DumpSettings,
    our_cmdline: &str,
    reachable_over_ssh: bool,
) {
    if !vmcore.exists() {
        say(&format!(
            "no {}: not a capture kernel, nothing to do",
            vmcore.display()
        ));
        return;
    }
    say(&format!("reading {} (triage)", vmcore.display()));
    let mut report = build(
        vmcore,
        &Options {
            full_log: true,
            ..Options::default()
        },
    );
    // The build's own checks run after the built-in report; a failing or runaway one is
    // stopped by its limits and the capture goes on.
    report.checks = run_checks(vmcore, Path::new(CHECKS_DIR), DEFAULT_LIMITS);
    for c in &report.checks {
        say(&format!(
            "check {}: {}",
            c.name,
            c.error.as_deref().unwrap_or("done")
        ));
    }
    show(&render_sections(
        &report,
        &[
            Section::Panic,
            Section::Bt,
            Section::Sys,
            Section::Ps,
            Section::Runq,
        ],
    ));
    // Kept in RAM whatever the targets do: a hold serves it over SSH, and a person at
    // the shell after `action=shell` finds it there.
    let _ = std::fs::write(REPORT_IN_RAM, render_text(&report));
    let networked = settings.targets.iter().any(|t| remote::is_remote(t));
    if networked || settings.report_url.is_some() || reachable_over_ssh {
        remote::start_network(our_cmdline);
    }
    save_to_first_target(&report, vmcore, settings, our_cmdline);
    if let Some(url) = &settings.report_url {
        remote::post_report(url, &(report_json(&report).to_text() + "\n"));
    }
}

/// Tries the targets in order until one takes the capture; says which did.
fn save_to_first_target(report: &Report, vmcore: &Path, settings: &DumpSettings, cmdline: &str) {
    if settings.targets.is_empty() {
        if let Err(e) = save_local(report, vmcore, settings, None, cmdline) {
            say(&format!("error: {e}"));
        }
        return;
    }
    let count = settings.targets.len();
    for (i, target) in settings.targets.iter().enumerate() {
        if i > 0 {
            say(&format!("trying the next target, {target}"));
        }
        let result = if remote::is_remote(target) {
            remote::save(report, vmcore, settings, target)
        } else {
            save_local(report, vmcore, settings, Some(target), cmdline)
        };
        match result {
            Ok(()) => {
                if count > 1 {
                    say(&format!("used target {} of {count}: {target}", i + 1));
                }
                return;
            }
            Err(e) => say(&format!("error: {e}")),
        }
    }
    if count > 1 {
        say(&format!("every target failed ({count} tried)"));
    }
}

/// Saves on a local filesystem: `spec` (LABEL=, UUID=, /dev/…) or, without one, the
/// KBOOT-DUMP label, else the crashed kernel's root=.
fn save_local(
    report: &Report,
    vmcore: &Path,
    settings: &DumpSettings,
    spec: Option<&str>,
    our_cmdline: &str,
) -> Result<(), String> {
    let Some(found) = find_target(spec, vmcore, our_cmdline) else {
        return Err(match spec {
            Some(spec) => format!("target {spec}: not found"),
            None => {
                "no target filesystem: nothing saved (set kboot.dump=LABEL=…|UUID=…|/dev/…)".into()
            }
        });
    };
    let at = Path::new(MOUNT_POINT);
    let mounted = target::mount_writable(&found, at)?;
    let saved = save_all(report, vmcore, settings, at);
    rustix::fs::sync();
    if let Err(e) = mounted.unmount() {
        say(&format!("warning: {e}"));
    }
    let dir = saved?;
    say(&format!(
        "saved to {}:{}",
        found.node.display(),
        Path::new("/")
            .join(dir.strip_prefix(at).unwrap_or(&dir))
            .display()
    ));
    Ok(())
}

/// The configured target, else the KBOOT-DUMP label, else the crashed kernel's root=.
fn find_target(spec: Option<&str>, vmcore: &Path, our_cmdline: &str) -> Option<Found> {
    let explicit = match spec {
        Some(t) => match TargetSpec::parse(t) {
            Some(spec) => Some(spec),
            None => {
                say(&format!("warning: target {t}: not LABEL=, UUID= or /dev/…"));
                return None;
            }
        },
        None => None,
    };
    if let Some(spec) = explicit {
        return look_for(&spec);
    }
    // The crashed kernel's root= costs a full open of the dump: only when needed.
    look_for(&TargetSpec::Label(DUMP_LABEL.into()))
        .or_else(|| look_for(&crashed_kernel_root(vmcore, our_cmdline)?))
}

/// Probes the block devices for `spec`, a few times: disks can appear late (USB, slow
/// controllers).
fn look_for(spec: &TargetSpec) -> Option<Found> {
    let (sys, dev) = (Path::new("/sys/class/block"), Path::new("/dev"));
    for attempt in 0..5 {
        if let Some(found) = target::find(spec, sys, dev) {
            say(&format!("target {spec} is {}", found.node.display()));
            return Some(found);
        }
        if attempt < 4 {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    say(&format!("target {spec} not found"));
    None
}

/// root= of the crashed kernel (its saved command line), else of our own.
fn crashed_kernel_root(vmcore: &Path, our_cmdline: &str) -> Option<TargetSpec> {
    let crashed = crate::dump::Dump::open(vmcore)
        .and_then(|d| d.var("saved_command_line")?.string())
        .ok();
    crashed
        .as_deref()
        .and_then(target::root_from_cmdline)
        .or_else(|| target::root_from_cmdline(our_cmdline))
}

/// Writes the capture directory under `mount` (the target's mount point); the small files
/// first, so they exist even when the dump does not fit. Returns the directory.
pub fn save_all(
    report: &Report,
    vmcore: &Path,
    settings: &DumpSettings,
    mount: &Path,
) -> Result<PathBuf, String> {
    let name = capture_name(report);
    let base = mount.join(settings.path.trim_start_matches('/'));
    let dir =
        files::create_unique_dir(&base, &name).map_err(|e| format!("{}: {e}", base.display()))?;
    for (file, text) in small_files(report) {
        files::write_text(&dir, file, &text)
            .map_err(|e| format!("{}: {e}", dir.join(file).display()))?;
    }
    if !settings.save_dump {
        say("action=none: dump not saved");
        return Ok(dir);
    }
    let dump_name = format!("dump.{}", &name[..15]);
    files::write_atomically(&dir, &dump_name, |f| {
        write_dump(vmcore, settings, &dump_name, f)
    })
    .map_err(|e| {
        let space = if e.out_of_space() {
            " (target full: partial dump removed, report and log kept)"
        } else {
            ""
        };
        format!("{}: {e}{space}", dir.join(&dump_name).display())
    })?;
    Ok(dir)
}

/// `<YYYYmmdd-HHMMSS>-<nodename>` of the crash (see `files::dump_dir_name`).
pub fn capture_name(report: &Report) -> String {
    let sys = report.system.clone().unwrap_or_default();
    let crash_time = sys
        .crash_time
        .map_or_else(crate::util::fmt::now, |t| t as i64);
    files::dump_dir_name(crash_time, &sys.nodename)
}

/// The files saved before the dump, small enough to exist even when the dump does not fit.
pub fn small_files(report: &Report) -> [(&'static str, String); 3] {
    [
        ("dmesg.txt", report.log_lines().join("\n") + "\n"),
        ("triage.txt", render_text(report)),
        ("triage.json", report_json(report).to_text() + "\n"),
    ]
}

/// Writes the filtered, compressed dump into `sink`, with progress on the consoles.
pub fn write_dump(
    vmcore: &Path,
    settings: &DumpSettings,
    dump_name: &str,
    sink: &dyn DumpSink,
) -> Result<SaveStats, SaveError> {
    say(&format!(
        "saving {dump_name} (level {}, {:?})",
        settings.dump_level, settings.compression
    ));
    let opts = SaveOptions {
        dump_level: settings.dump_level,
        compression: settings.compression,
        threads: 0,
    };
    // Serial consoles are slow: a line per step and 10 %.
    let mut shown = ("", u64::MAX);
    let mut progress = |p: Progress| {
        let (what, percent) = progress_parts(&p);
        if (what, percent / 10) != (shown.0, shown.1 / 10) {
            say(&format!("{what}: {percent}%"));
            shown = (what, percent);
        }
    };
    let started = std::time::Instant::now();
    let stats = save_kdump(vmcore, sink, &opts, &mut progress)?;
    if let Some(p) = &stats.filter_problem {
        say(&format!(
            "warning: page flags unusable, nothing filtered: {p}"
        ));
    }
    say(&format!(
        "{dump_name}: {}; took {:.1} s",
        summary(&stats),
        started.elapsed().as_secs_f64()
    ));
    Ok(stats)
}
