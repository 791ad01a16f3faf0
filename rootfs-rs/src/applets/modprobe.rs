//! modprobe: load modules by name or alias with their dependencies (kmod's semantics, see
//! kmod::load), remove them with `-r`, or rerun the boot's device coldplug with
//! `--coldplug`. `-d ROOT` and `-S VERSION` choose the module tree, as in kmod, which is
//! also how the tests point it at a fake one.
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kmod::coldplug::{self, Deferral};
use crate::kmod::index::{ModuleIndex, Target};
use crate::kmod::load::{Kernel, Modprobe, ModuleOptions, Outcome};
use crate::kmod::modules_dir;
use crate::util::Parser;

const USAGE: &str = "usage: modprobe [-nvqr] [-d ROOT] [-S VERSION] NAME|ALIAS [PARAM=VALUE...]
       modprobe -a [-nvqr] NAME|ALIAS...
       modprobe --coldplug [-nv] [--sysfs DIR]
Load kernel modules with their dependencies (modules.dep, modules.alias, modules.softdep).
  -a, --all          every operand is a module (no parameters)
  -n, --dry-run      print what would be loaded (insmod PATH PARAMS), load nothing
  -v, --verbose      print each module as it is loaded
  -q, --quiet        no message for a module that is not found
  -r, --remove       unload the modules, then their unused dependencies
  -d, --dirname ROOT the module tree is ROOT/lib/modules/VERSION
  -S, --set-version VERSION   instead of the running kernel's
  --coldplug         load the drivers of every device in /sys/bus/*/devices (as at boot) and report
  --sysfs DIR        the sysfs tree --coldplug reads (default /sys)";

/// Options shared with modinfo: which module tree.
#[derive(Default)]
pub struct TreeChoice {
    pub root: Option<PathBuf>,
    pub version: Option<String>,
}

impl TreeChoice {
    pub fn dir(&self) -> PathBuf {
        modules_dir(self.root.as_deref(), self.version.as_deref())
    }

    /// The index, or the exit status after saying why not.
    pub fn open(&self, applet: &str) -> Result<ModuleIndex, i32> {
        let dir = self.dir();
        ModuleIndex::load(&dir).map_err(|e| {
            crate::util::warn_err(applet, format!("FATAL: {}", dir.display()), &e);
            1
        })
    }
}

#[derive(Default)]
struct Flags {
    all: bool,
    dry_run: bool,
    verbose: bool,
    quiet: bool,
    remove: bool,
    coldplug: bool,
    sysfs: Option<PathBuf>,
    tree: TreeChoice,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut f = Flags::default();
    let parsed = Parser::new("modprobe", USAGE, args)
        .longs(&[
            ("all", 'a'),
            ("dry-run", 'n'),
            ("show", 'n'),
            ("verbose", 'v'),
            ("quiet", 'q'),
            ("remove", 'r'),
            ("dirname", 'd'),
            ("set-version", 'S'),
            ("coldplug", 'C'),
            ("sysfs", 'Y'),
        ])
        .parse(|p, c| {
            match c {
                'a' => f.all = true,
                'n' => f.dry_run = true,
                'v' => f.verbose = true,
                'q' => f.quiet = true,
                'r' => f.remove = true,
                'b' | 's' | 'i' => {} // kmod's blacklist/syslog/ignore-install: no-ops here
                'd' => f.tree.root = Some(PathBuf::from(p.value()?)),
                'S' => f.tree.version = Some(p.value()?),
                'C' => f.coldplug = true,
                'Y' => f.sysfs = Some(PathBuf::from(p.value()?)),
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        });
    let ops = match parsed {
        Ok(ops) => crate::util::args::strings(&ops),
        Err(code) => return code,
    };
    let index = match f.tree.open("modprobe") {
        Ok(index) => index,
        Err(code) => return code,
    };
    if f.coldplug {
        return run_coldplug(&f, &index);
    }
    let Some((first, rest)) = ops.split_first() else {
        return Parser::usage_error("modprobe", USAGE, "missing module name", 1);
    };
    let (names, params) = match f.all {
        true => (ops.clone(), String::new()),
        false => (vec![first.clone()], rest.join(" ")),
    };
    // One prober for all the names: with -a, a dependency they share loads (or prints) once.
    let mut probe = Modprobe::new(&index, options());
    let mut status = 0;
    for name in &names {
        let ok = match f.remove {
            true => remove(&f, &index, name),
            false => load(&f, &mut probe, name, &params),
        };
        if !ok {
            status = 1;
        }
    }
    status
}

fn options() -> ModuleOptions {
    ModuleOptions::from_kernel_cmdline(
        &std::fs::read_to_string("/proc/cmdline").unwrap_or_default(),
    )
}

/// `insmod PATH PARAMS`: what -n and -v print for each module, as kmod does.
fn insmod_line(path: &Path, params: &str) -> String {
    format!("insmod {} {params}", path.display())
        .trim_end()
        .to_string()
}

fn load(f: &Flags, probe: &mut Modprobe<'_>, name: &str, params: &str) -> bool {
    let mut out = std::io::stdout();
    let result = if f.dry_run {
        let mut show = |_: &str, path: &Path, params: &str| {
            let _ = writeln!(out, "{}", insmod_line(path, params));
            Ok(())
        };
        probe.probe(name, params, &mut show)
    } else if f.verbose {
        let mut verbose = |module: &str, path: &Path, params: &str| {
            let _ = writeln!(out, "{}", insmod_line(path, params));
            crate::kmod::load::Inserter::insert(&mut Kernel, module, path, params)
        };
        probe.probe(name, params, &mut verbose)
    } else {
        probe.probe(name, params, &mut Kernel)
    };
    match result {
        Ok(outcome) => report(f, &outcome),
        Err(failure) => {
            if !f.quiet {
                crate::warn!(
                    "modprobe: FATAL: Module {} not found in directory {}",
                    failure.module,
                    probe.index.dir.display()
                );
            }
            false
        }
    }
}

/// Print the outcome's builtin lines (with -n/-v) and errors; true when nothing required failed.
fn report(f: &Flags, outcome: &Outcome) -> bool {
    if f.dry_run || f.verbose {
        for name in &outcome.builtin {
            let _ = writeln!(std::io::stdout(), "builtin {name}");
        }
    }
    for failure in &outcome.failures {
        crate::warn!(
            "modprobe: ERROR: could not insert '{}': {}",
            failure.module,
            failure.reason
        );
    }
    outcome.failures.is_empty()
}

/// `-r`: unload the module, then each dependency no other module still uses (the kernel
/// refuses those in use, which is the test kmod makes too).
fn remove(f: &Flags, index: &ModuleIndex, name: &str) -> bool {
    let targets = index.resolve(name);
    if targets.is_empty() {
        if !f.quiet {
            crate::warn!(
                "modprobe: FATAL: Module {name} not found in directory {}",
                index.dir.display()
            );
        }
        return false;
    }
    let probe = Modprobe::new(index, ModuleOptions::default());
    let mut ok = true;
    for target in targets {
        let module = match target {
            Target::Builtin(name) => {
                crate::warn!("modprobe: FATAL: Module {name} is builtin.");
                ok = false;
                continue;
            }
            Target::Loadable(module) => module,
        };
        if !probe.is_loaded(&module.name) {
            if !f.quiet {
                crate::warn!(
                    "modprobe: FATAL: Module {} is not currently loaded",
                    module.name
                );
            }
            ok = false;
            continue;
        }
        ok &= unload(f, &module.name, true);
        for dep in &module.deps {
            if probe.is_loaded(dep) {
                unload(f, dep, false);
            }
        }
    }
    ok
}

fn unload(f: &Flags, name: &str, required: bool) -> bool {
    if f.verbose || f.dry_run {
        let _ = writeln!(std::io::stdout(), "rmmod {name}");
    }
    if f.dry_run {
        return true;
    }
    let Ok(cname) = std::ffi::CString::new(name) else {
        return false;
    };
    match crate::sys::delete_module(&cname, false) {
        Ok(()) => true,
        Err(e) if required => {
            crate::warn!(
                "modprobe: FATAL: could not remove '{name}': {}",
                crate::util::reason(&e.into())
            );
            false
        }
        Err(_) => false, // a dependency still in use stays, silently, as with kmod
    }
}

/// `--coldplug`: the boot's walk, run by hand, with its report.
fn run_coldplug(f: &Flags, index: &ModuleIndex) -> i32 {
    let devices = f.sysfs.clone().unwrap_or_else(|| PathBuf::from("/sys"));
    let mut probe = Modprobe::new(index, options());
    let mut out = std::io::stdout();
    // By hand, there is no menu waiting: a longer deadline than the boot's.
    let deadline = Duration::from_secs(30);
    let report = if f.dry_run {
        let mut show = |_: &str, path: &Path, params: &str| {
            let _ = writeln!(out, "{}", insmod_line(path, params));
            Ok(())
        };
        coldplug::run(&devices, &mut probe, &mut show, deadline, Deferral::NOTHING)
    } else {
        coldplug::run(
            &devices,
            &mut probe,
            &mut Kernel,
            deadline,
            Deferral::NOTHING,
        )
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "modules: {}", report.summary());
    if f.verbose {
        let _ = writeln!(out, "loaded: {}", report.loaded.join(" "));
        for alias in &report.unmatched {
            let _ = writeln!(out, "no driver: {alias}");
        }
    }
    for failure in &report.failures {
        crate::warn!("modprobe: ERROR: {failure}");
    }
    i32::from(!report.failures.is_empty())
}
