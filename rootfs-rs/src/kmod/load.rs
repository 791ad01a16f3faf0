//! modprobe: a name or alias → the modules to load, dependencies and softdeps first, each
//! loaded once through `sys::finit_module`. The semantics are kmod's
//! (libkmod-module.c, `kmod_module_probe_insert_module`):
//! - modules.dep lists a module's whole dependency closure with the module to load first
//!   LAST; each dependency brings its own softdeps around it;
//! - `softdep` pre: modules come before, post: after; they are wanted, not needed, so a
//!   failure among them is ignored;
//! - a module already in the kernel (/proc/modules) is skipped, and `EEXIST` from the
//!   kernel (another loader won the race) is success; a built-in module is success;
//! - options for a module come from the kernel command line (`MODULE.PARAM=VALUE`), and
//!   the command's own `PARAM=VALUE` words go to the module asked for, not to its deps.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::index::{ModuleIndex, Target};
use super::modinfo::{self, Compression};
use super::normalize;

/// A module that could not be loaded, and why, in words for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub module: String,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.module, self.reason)
    }
}

/// Puts one module file into the kernel. `Kernel` is the real one; tests and `modprobe -n`
/// pass closures that record instead. `Err` is the reason in words; "already loaded" is
/// not an error.
pub trait Inserter {
    fn insert(&mut self, name: &str, path: &Path, params: &str) -> Result<(), String>;

    /// Whether devices really bind after an insert: only then may a driver be asked to
    /// probe asynchronously (`async_probe`) and its devices be waited for in sysfs.
    fn binds_devices(&self) -> bool {
        false
    }
}

impl<F: FnMut(&str, &Path, &str) -> Result<(), String>> Inserter for F {
    fn insert(&mut self, name: &str, path: &Path, params: &str) -> Result<(), String> {
        self(name, path, params)
    }
}

/// finit_module, or init_module after decompressing in userspace when the kernel cannot
/// decompress that format itself (kmod's choice too, read from /sys/module/compression).
pub struct Kernel;

impl Inserter for Kernel {
    fn insert(&mut self, _name: &str, path: &Path, params: &str) -> Result<(), String> {
        match insert_file(path, params) {
            Ok(()) => Ok(()),
            Err(InsertError::Kernel(rustix::io::Errno::EXIST)) => Ok(()),
            Err(err) => Err(err.to_string()),
        }
    }

    fn binds_devices(&self) -> bool {
        true
    }
}

/// Why a module file did not go in: the kernel's errno (insmod tells EEXIST apart), or a
/// problem before the kernel saw it.
#[derive(Debug)]
pub enum InsertError {
    Kernel(rustix::io::Errno),
    Before(String),
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::Kernel(errno) => f.write_str(&insert_error(*errno)),
            InsertError::Before(text) => f.write_str(text),
        }
    }
}

/// Load one module file with its parameters: finit_module, handing a compressed file to
/// the kernel when it decompresses that format, else decompressed here and loaded from
/// memory with init_module.
pub fn insert_file(path: &Path, params: &str) -> Result<(), InsertError> {
    let before = |text: String| InsertError::Before(text);
    let params =
        CString::new(params).map_err(|_| before("parameters contain a NUL byte".into()))?;
    let mut file = std::fs::File::open(path).map_err(|e| {
        before(format!(
            "module file {}: {}",
            path.display(),
            crate::util::reason(&e)
        ))
    })?;
    let mut head = [0u8; 6];
    let n = file
        .read(&mut head)
        .map_err(|e| before(crate::util::reason(&e)))?;
    let compression = Compression::of_bytes(head.get(..n).unwrap_or_default());
    let result = if compression == Compression::None || kernel_decompresses(compression) {
        let flags = match compression {
            Compression::None => 0,
            _ => crate::sys::MODULE_INIT_COMPRESSED_FILE,
        };
        crate::sys::finit_module(&file, &params, flags)
    } else {
        let image = modinfo::read_module(path).map_err(|e| before(e.to_string()))?;
        crate::sys::init_module(&image, &params)
    };
    result.map_err(InsertError::Kernel)
}

/// Does the running kernel decompress this format in finit_module?
fn kernel_decompresses(compression: Compression) -> bool {
    static KERNEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let name = KERNEL.get_or_init(|| {
        std::fs::read_to_string("/sys/module/compression")
            .unwrap_or_default()
            .trim()
            .to_string()
    });
    name == compression.kernel_name()
}

/// The kernel's errno from (f)init_module in the words kmod's modprobe uses.
pub fn insert_error(errno: rustix::io::Errno) -> String {
    use rustix::io::Errno;
    match errno {
        Errno::NOENT => "unknown symbol in module, or unknown parameter (see dmesg)".into(),
        Errno::NOEXEC => "invalid module format (see dmesg)".into(),
        Errno::NODEV => "no such device".into(),
        Errno::INVAL => "invalid argument: a bad parameter? (see dmesg)".into(),
        Errno::KEYREJECTED | Errno::KEYEXPIRED | Errno::KEYREVOKED | Errno::BADMSG => {
            "module signature rejected (see dmesg)".into()
        }
        Errno::OPNOTSUPP => "the kernel cannot load this module format".into(),
        Errno::PERM => "operation not permitted".into(),
        other => crate::util::reason(&other.into()),
    }
}

/// Module options and the blacklist from the kernel command line, as kmod reads them:
/// `MODULE.PARAM=VALUE` (or a bare `MODULE.PARAM` for a boolean) adds `PARAM=VALUE` to
/// MODULE's options, `modprobe.blacklist=A,B` keeps A and B from being loaded by alias.
#[derive(Debug, Clone, Default)]
pub struct ModuleOptions {
    by_module: HashMap<String, Vec<String>>,
    blacklist: HashSet<String>,
}

impl ModuleOptions {
    pub fn from_kernel_cmdline(text: &str) -> ModuleOptions {
        let mut options = ModuleOptions::default();
        for word in crate::cmdline::split_kernel_cmdline(text) {
            let Some((module, param)) = word.split_once('.') else {
                continue;
            };
            let name = param.split_once('=').map_or(param, |(n, _)| n);
            // kmod ignores a word with a second dot before '=' or an '=' in the module name.
            if module.is_empty() || module.contains('=') || name.is_empty() || name.contains('.') {
                continue;
            }
            if module == "modprobe" && name == "blacklist" {
                let list = param.split_once('=').map_or("", |(_, v)| v);
                options.blacklist.extend(list.split(',').map(normalize));
                continue;
            }
            // The splitter removed the quotes; the kernel's parse_args needs them back
            // around a value with spaces.
            let param = match param.split_once('=') {
                Some((n, v)) if v.contains(char::is_whitespace) => format!("{n}=\"{v}\""),
                _ => param.to_string(),
            };
            options
                .by_module
                .entry(normalize(module))
                .or_default()
                .push(param);
        }
        options
    }

    /// MODULE's options as one parameter string.
    pub fn for_module(&self, name: &str) -> String {
        self.by_module
            .get(&normalize(name))
            .map(|o| o.join(" "))
            .unwrap_or_default()
    }

    pub fn is_blacklisted(&self, name: &str) -> bool {
        self.blacklist.contains(&normalize(name))
    }
}

/// One module of a probe list: what to do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// None: built into the kernel, nothing to load.
    pub path: Option<PathBuf>,
    pub params: String,
    /// The module asked for and its dependencies; softdeps are not required.
    pub required: bool,
}

/// What one probe did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Inserted by this probe, in order.
    pub inserted: Vec<String>,
    /// The modules the name or alias resolved to that were inserted (the drivers, not
    /// their dependencies).
    pub drivers: Vec<String>,
    /// Asked for (or depended on) but built into the kernel.
    pub builtin: Vec<String>,
    /// Required modules that failed (the probe stopped there), and softdeps that failed.
    pub failures: Vec<Failure>,
}

pub struct Modprobe<'a> {
    pub index: &'a ModuleIndex,
    pub options: ModuleOptions,
    /// Modules in the kernel: /proc/modules when we started, plus what we loaded.
    loaded: HashSet<String>,
    /// Leave out modprobe.blacklist'ed modules from alias matches (coldplug, uevents).
    pub use_blacklist: bool,
    /// Give every module loaded the kernel's `async_probe` parameter, its dependencies
    /// too. Set by the coldplug, which then waits for the devices in sysfs; the uevent
    /// listener goes on with the same `Modprobe`, so hot-plug loads probe asynchronously
    /// too (nothing waits for those).
    pub async_probe: bool,
}

impl<'a> Modprobe<'a> {
    pub fn new(index: &'a ModuleIndex, options: ModuleOptions) -> Modprobe<'a> {
        let list = std::fs::read_to_string("/proc/modules").unwrap_or_default();
        let loaded = list
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(normalize)
            .collect();
        Modprobe::with_loaded(index, options, loaded)
    }

    pub fn with_loaded(
        index: &'a ModuleIndex,
        options: ModuleOptions,
        loaded: HashSet<String>,
    ) -> Modprobe<'a> {
        Modprobe {
            index,
            options,
            loaded,
            use_blacklist: false,
            async_probe: false,
        }
    }

    pub fn is_loaded(&self, name: &str) -> bool {
        self.loaded.contains(&normalize(name))
    }

    /// What `name_or_alias` stands for, blacklist applied to alias matches when asked.
    pub fn targets(&self, name_or_alias: &str) -> Vec<Target<'a>> {
        let mut targets = self.index.resolve(name_or_alias);
        let by_name = self.index.module(name_or_alias).is_some();
        if self.use_blacklist && !by_name {
            targets.retain(|t| !self.options.is_blacklisted(t.name()));
        }
        targets
    }

    /// The probe list of one module, in load order, with its options (`extra` added to the
    /// module's own). Only a required module missing from the index is an error.
    pub fn plan(&self, name: &str, extra: &str) -> Result<Vec<Step>, Failure> {
        let mut planner = Planner {
            index: self.index,
            options: &self.options,
            visited: HashSet::new(),
            steps: Vec::new(),
        };
        planner.probe_list(name, true)?;
        if self.async_probe {
            // Drivers then probe in the kernel's async workers. The dependencies get it
            // as well: the kernel ends the load of a module that did not ask for it with
            // async_synchronize_full(), a wait for every asynchronous probe in flight
            // (loading sdhci, a library of sdhci_pci, waited for megaraid_sas to scan
            // its 512 targets). An unknown `async_probe` is accepted by every module.
            for step in planner.steps.iter_mut() {
                step.params = match step.params.is_empty() {
                    true => "async_probe".to_string(),
                    false => format!("{} async_probe", step.params),
                };
            }
        }
        let wanted = normalize(name);
        for step in planner.steps.iter_mut().filter(|s| s.name == wanted) {
            if !extra.is_empty() {
                step.params = [step.params.as_str(), extra]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
            }
        }
        Ok(planner.steps)
    }

    /// Load everything `name_or_alias` stands for. Err only when it names nothing at all.
    pub fn probe(
        &mut self,
        name_or_alias: &str,
        extra: &str,
        inserter: &mut dyn Inserter,
    ) -> Result<Outcome, Failure> {
        let targets = self.targets(name_or_alias);
        self.probe_targets(name_or_alias, &targets, extra, inserter)
    }

    /// `probe` of what `name_or_alias` was already resolved to (`targets`): the coldplug
    /// looks at the targets before it decides to load them, and an alias lookup scans
    /// every pattern of modules.alias.
    pub fn probe_targets(
        &mut self,
        name_or_alias: &str,
        targets: &[Target<'_>],
        extra: &str,
        inserter: &mut dyn Inserter,
    ) -> Result<Outcome, Failure> {
        let targets: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
        if targets.is_empty() {
            return Err(Failure {
                module: name_or_alias.to_string(),
                reason: format!("module not found in {}", self.index.dir.display()),
            });
        }
        let mut outcome = Outcome::default();
        for name in &targets {
            match self.plan(name, extra) {
                Ok(steps) => self.run_steps(&steps, inserter, &mut outcome),
                Err(failure) => outcome.failures.push(failure),
            }
        }
        outcome.drivers = targets
            .into_iter()
            .filter(|t| outcome.inserted.contains(t))
            .collect();
        Ok(outcome)
    }

    fn run_steps(&mut self, steps: &[Step], inserter: &mut dyn Inserter, outcome: &mut Outcome) {
        for step in steps {
            let Some(path) = &step.path else {
                outcome.builtin.push(step.name.clone());
                continue;
            };
            if self.loaded.contains(&step.name) {
                continue;
            }
            match inserter.insert(&step.name, path, &step.params) {
                Ok(()) => {
                    self.loaded.insert(step.name.clone());
                    outcome.inserted.push(step.name.clone());
                }
                Err(reason) => {
                    outcome.failures.push(Failure {
                        module: step.name.clone(),
                        reason,
                    });
                    if step.required {
                        return;
                    }
                }
            }
        }
    }
}

/// Builds a probe list the way libkmod's `__kmod_module_get_probe_list` does.
struct Planner<'i> {
    index: &'i ModuleIndex,
    options: &'i ModuleOptions,
    visited: HashSet<String>,
    steps: Vec<Step>,
}

impl Planner<'_> {
    /// The module's dependencies (each with its softdeps), then the module with its own.
    fn probe_list(&mut self, name: &str, required: bool) -> Result<(), Failure> {
        let name = normalize(name);
        if !self.visited.insert(name.clone()) {
            return Ok(());
        }
        let index = self.index;
        let Some(module) = index.module(&name) else {
            if index.is_builtin(&name) {
                self.push(&name, None, required);
                return Ok(());
            }
            return match required {
                true => Err(Failure {
                    module: name,
                    reason: format!("not in {}", index.dir.join("modules.dep").display()),
                }),
                false => Ok(()),
            };
        };
        for dep in module.load_order() {
            if index.module(dep).is_none() && !index.is_builtin(dep) {
                return Err(Failure {
                    module: module.name.clone(),
                    reason: format!("its dependency {dep} is missing from modules.dep"),
                });
            }
            self.with_softdeps(dep, required)?;
        }
        self.with_softdeps(&name, required)
    }

    fn with_softdeps(&mut self, name: &str, required: bool) -> Result<(), Failure> {
        let index = self.index;
        let softdeps = index.softdeps(name).cloned().unwrap_or_default();
        for pre in &softdeps.pre {
            for target in index.resolve(pre) {
                self.probe_list(target.name(), false)?;
            }
        }
        let path = index.module(name).map(|m| m.path.clone());
        self.push(name, path, required);
        for post in &softdeps.post {
            for target in index.resolve(post) {
                self.probe_list(target.name(), false)?;
            }
        }
        Ok(())
    }

    fn push(&mut self, name: &str, path: Option<PathBuf>, required: bool) {
        let name = normalize(name);
        if let Some(step) = self.steps.iter_mut().find(|s| s.name == name) {
            step.required |= required;
            return;
        }
        self.steps.push(Step {
            params: self.options.for_module(&name),
            name,
            path,
            required,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmod::index::tests::sample;

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn dependencies_load_last_listed_first() {
        let index = sample();
        let probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let steps = probe.plan("usb-storage", "").expect("plan");
        assert_eq!(names(&steps), ["scsi_mod", "sd_mod", "usb_storage"]);
        assert!(steps.iter().all(|s| s.required));
        let steps = probe.plan("nvme", "").expect("plan");
        assert_eq!(names(&steps), ["nvme_core", "nvme"]);
    }

    #[test]
    fn softdep_pre_comes_first_and_may_fail() {
        let index = sample();
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let steps = probe.plan("crc32c_generic", "").expect("plan");
        assert_eq!(names(&steps), ["crc32c_intel", "crc32c_generic"]);
        assert!(!steps[0].required && steps[1].required);
        let mut order = Vec::new();
        let mut fail_intel = |name: &str, _: &Path, _: &str| {
            order.push(name.to_string());
            match name {
                "crc32c_intel" => Err("no such device".to_string()),
                _ => Ok(()),
            }
        };
        let outcome = probe
            .probe("crc32c_generic", "", &mut fail_intel)
            .expect("found");
        assert_eq!(order, ["crc32c_intel", "crc32c_generic"]);
        assert_eq!(outcome.inserted, ["crc32c_generic"]);
        assert_eq!(outcome.failures.len(), 1);
    }

    #[test]
    fn loaded_and_builtin_modules_are_skipped_and_failures_stop() {
        let index = sample();
        let loaded = HashSet::from(["scsi_mod".to_string()]);
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), loaded);
        let mut order = Vec::new();
        let mut record = |name: &str, _: &Path, _: &str| {
            order.push(name.to_string());
            match name {
                "sd_mod" => Err("unknown symbol in module".to_string()),
                _ => Ok(()),
            }
        };
        let outcome = probe.probe("usb_storage", "", &mut record).expect("found");
        assert_eq!(
            outcome.failures[0].to_string(),
            "sd_mod: unknown symbol in module"
        );
        let builtin = probe.probe("loop", "", &mut record).expect("builtin");
        assert_eq!(builtin.builtin, ["loop"]);
        assert!(probe.probe("nonesuch", "", &mut record).is_err());
        assert_eq!(order, ["sd_mod"]);
    }

    #[test]
    fn options_from_the_kernel_command_line() {
        let options = ModuleOptions::from_kernel_cmdline(
            "BOOT_IMAGE=/vmlinuz root=/dev/sda1 nvme-core.io_timeout=255 e1000e.debug \
             usb_storage.quirks=0781:5567:u \"nvme.x=a b\" a.b.c=1 modprobe.blacklist=e1000e,snd-hda",
        );
        assert_eq!(options.for_module("nvme_core"), "io_timeout=255");
        assert_eq!(options.for_module("e1000e"), "debug");
        assert_eq!(options.for_module("usb-storage"), "quirks=0781:5567:u");
        assert_eq!(options.for_module("nvme"), "x=\"a b\"");
        assert_eq!(options.for_module("a"), "");
        assert!(options.is_blacklisted("snd_hda") && options.is_blacklisted("e1000e"));
        let index = sample();
        let mut probe = Modprobe::with_loaded(&index, options, HashSet::new());
        let steps = probe.plan("nvme", "poll_queues=2").expect("plan");
        assert_eq!(steps[0].params, "io_timeout=255");
        assert_eq!(steps[1].params, "x=\"a b\" poll_queues=2");
        // The coldplug's async probing reaches the dependencies too (nvme_core here):
        // a module loaded without it makes the kernel wait for every probe in flight.
        probe.async_probe = true;
        let steps = probe.plan("nvme", "").expect("plan");
        assert_eq!(steps[0].params, "io_timeout=255 async_probe");
        assert_eq!(steps[1].params, "x=\"a b\" async_probe");
        probe.async_probe = false;
        probe.use_blacklist = true;
        assert!(probe
            .targets("pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00")
            .is_empty());
        assert_eq!(
            probe.targets("e1000e").len(),
            1,
            "by name, the blacklist does not apply"
        );
    }
}
