//! The text indexes depmod writes in `/lib/modules/VERSION/`: modules.dep, modules.alias,
//! modules.softdep and modules.builtin. kmod itself reads the `.bin` tries; the text files
//! hold the same facts and are simpler to read, and a boot image's few hundred modules make
//! a linear alias scan cheap (see glob.rs for the prefix test that keeps it so).
//!
//! A missing file is an empty index and a malformed line is skipped and counted: a broken
//! line in modules.alias must not cost the boot its disk driver.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use super::glob::{normalize_alias, AliasPattern};
use super::{name_of_path, normalize};

/// A loadable module, from its modules.dep line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Normalised name (`nvme_core`).
    pub name: String,
    /// Absolute path of the module file.
    pub path: PathBuf,
    /// Its dependencies as depmod lists them: every module it needs (the closure, not just
    /// the direct ones), in the order where the LAST must be loaded FIRST (kmod prepends
    /// each one to its list while parsing; see `load_order`).
    pub deps: Vec<String>,
}

impl Module {
    /// The dependencies in the order to load them.
    pub fn load_order(&self) -> impl Iterator<Item = &str> {
        self.deps.iter().rev().map(String::as_str)
    }
}

/// `softdep MODULE pre: A B post: C`: modules to load before and after MODULE, which are
/// wanted but not needed (failing to load them does not fail MODULE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftDeps {
    pub pre: Vec<String>,
    pub post: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ModuleIndex {
    pub dir: PathBuf,
    modules: HashMap<String, Module>,
    /// In file order: kmod reports alias matches in index order, and so do we.
    aliases: Vec<(AliasPattern, String)>,
    softdeps: HashMap<String, SoftDeps>,
    builtin: HashSet<String>,
    /// Lines that were not of their file's form, over all the files.
    pub skipped_lines: usize,
}

/// What a name or alias stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Loadable(&'a Module),
    /// Built into the kernel: asking for it is success with nothing to do.
    Builtin(String),
}

impl<'a> Target<'a> {
    pub fn name(&self) -> &str {
        match self {
            Target::Loadable(m) => &m.name,
            Target::Builtin(name) => name,
        }
    }
}

impl ModuleIndex {
    /// Read the indexes in `dir`; only a directory that cannot be read at all is an error.
    pub fn load(dir: &Path) -> io::Result<ModuleIndex> {
        std::fs::read_dir(dir)?;
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        let mut index = ModuleIndex {
            dir: dir.to_path_buf(),
            ..ModuleIndex::default()
        };
        index.parse_dep(&read("modules.dep"));
        index.parse_alias(&read("modules.alias"));
        index.parse_softdep(&read("modules.softdep"));
        index.parse_builtin(&read("modules.builtin"));
        Ok(index)
    }

    /// `kernel/a/b.ko.gz: kernel/c/d.ko.gz kernel/e.ko.gz`
    pub fn parse_dep(&mut self, text: &str) {
        for line in meaningful_lines(text) {
            let Some((file, deps)) = line.split_once(':') else {
                self.skipped_lines += 1;
                continue;
            };
            let file = file.trim();
            if file.is_empty() || file.contains(char::is_whitespace) {
                self.skipped_lines += 1;
                continue;
            }
            let name = name_of_path(file);
            let module = Module {
                name: name.clone(),
                path: self.dir.join(file),
                deps: deps.split_ascii_whitespace().map(name_of_path).collect(),
            };
            self.modules.insert(name, module);
        }
    }

    /// `alias PATTERN MODULE`
    pub fn parse_alias(&mut self, text: &str) {
        for line in meaningful_lines(text) {
            let mut words = line.split_ascii_whitespace();
            let entry = match (words.next(), words.next(), words.next(), words.next()) {
                (Some("alias"), Some(pattern), Some(module), None) => {
                    AliasPattern::new(pattern).map(|pattern| (pattern, normalize(module)))
                }
                _ => None,
            };
            match entry {
                Some(entry) => self.aliases.push(entry),
                None => self.skipped_lines += 1,
            }
        }
    }

    /// `softdep MODULE pre: A B post: C` (either part may be missing, `pre:` may repeat).
    pub fn parse_softdep(&mut self, text: &str) {
        for line in meaningful_lines(text) {
            let mut words = line.split_whitespace();
            let (Some("softdep"), Some(module)) = (words.next(), words.next()) else {
                self.skipped_lines += 1;
                continue;
            };
            let mut deps = SoftDeps::default();
            let mut into_pre = None;
            let mut well_formed = true;
            for word in words {
                match word {
                    "pre:" => into_pre = Some(true),
                    "post:" => into_pre = Some(false),
                    name => match into_pre {
                        Some(true) => deps.pre.push(normalize(name)),
                        Some(false) => deps.post.push(normalize(name)),
                        None => well_formed = false,
                    },
                }
            }
            if !well_formed || (deps.pre.is_empty() && deps.post.is_empty()) {
                self.skipped_lines += 1;
                continue;
            }
            let entry = self.softdeps.entry(normalize(module)).or_default();
            entry.pre.extend(deps.pre);
            entry.post.extend(deps.post);
        }
    }

    /// `kernel/drivers/block/loop.ko`, one per line: modules built into the kernel.
    pub fn parse_builtin(&mut self, text: &str) {
        for line in meaningful_lines(text) {
            if line.contains(char::is_whitespace) {
                self.skipped_lines += 1;
                continue;
            }
            self.builtin.insert(name_of_path(line));
        }
    }

    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.get(&normalize(name))
    }

    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }

    pub fn softdeps(&self, name: &str) -> Option<&SoftDeps> {
        self.softdeps.get(&normalize(name))
    }

    pub fn module_count(&self) -> usize {
        self.modules.len()
    }

    /// Module names whose alias pattern matches `alias`, in modules.alias order, each once.
    pub fn lookup_alias(&self, alias: &str) -> Vec<&str> {
        let Some(alias) = normalize_alias(alias) else {
            return Vec::new();
        };
        let mut found: Vec<&str> = Vec::new();
        for (pattern, module) in &self.aliases {
            if pattern.matches(&alias) && !found.contains(&module.as_str()) {
                found.push(module);
            }
        }
        found
    }

    /// What modprobe would load for `name_or_alias`: kmod's lookup order, a module of
    /// modules.dep by name first, then the aliases, then the built-in modules. Empty when
    /// nothing matches. An alias naming a module absent from modules.dep (a stale index)
    /// still resolves to a built-in module when the kernel has it, and is dropped otherwise.
    pub fn resolve(&self, name_or_alias: &str) -> Vec<Target<'_>> {
        if let Some(module) = self.module(name_or_alias) {
            return vec![Target::Loadable(module)];
        }
        let by_alias: Vec<Target<'_>> = self
            .lookup_alias(name_or_alias)
            .into_iter()
            .filter_map(|name| self.target_by_name(name))
            .collect();
        if !by_alias.is_empty() {
            return by_alias;
        }
        self.target_by_name(name_or_alias).into_iter().collect()
    }

    fn target_by_name(&self, name: &str) -> Option<Target<'_>> {
        match self.module(name) {
            Some(module) => Some(Target::Loadable(module)),
            None if self.is_builtin(name) => Some(Target::Builtin(normalize(name))),
            None => None,
        }
    }
}

/// Lines with their comments and blank lines left out.
fn meaningful_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_ascii)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small index like a real one: nvme with its core, e1000e, usb-storage over
    /// scsi_mod, a softdep, and loop built in.
    pub(crate) fn sample() -> ModuleIndex {
        let mut index = ModuleIndex {
            dir: PathBuf::from("/lib/modules/6.1.0-test"),
            ..ModuleIndex::default()
        };
        index.parse_dep(
            "kernel/drivers/nvme/host/nvme.ko.gz: kernel/drivers/nvme/host/nvme-core.ko.gz\n\
             kernel/drivers/nvme/host/nvme-core.ko.gz:\n\
             kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.gz:\n\
             kernel/drivers/usb/storage/usb-storage.ko.gz: kernel/drivers/scsi/sd_mod.ko.gz kernel/drivers/scsi/scsi_mod.ko.gz\n\
             kernel/drivers/scsi/sd_mod.ko.gz: kernel/drivers/scsi/scsi_mod.ko.gz\n\
             kernel/drivers/scsi/scsi_mod.ko.gz:\n\
             kernel/crypto/crc32c_generic.ko.gz:\n\
             kernel/arch/x86/crypto/crc32c-intel.ko.gz:\n\
             this line has no colon\n",
        );
        index.parse_alias(
            "# Aliases extracted from modules themselves.\n\
             alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n\
             alias pci:v*d*sv*sd*bc01sc08i02* nvme\n\
             alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage\n\
             alias crc32c crc32c_generic\n\
             alias crc32c crc32c-intel\n\
             alias broken\n",
        );
        index.parse_softdep("softdep crc32c_generic pre: crc32c-intel\nsoftdep oops\n");
        index.parse_builtin("kernel/drivers/block/loop.ko\nkernel/drivers/hid/hid-generic.ko\n");
        index
    }

    #[test]
    fn files_are_read_and_bad_lines_counted() {
        let index = sample();
        assert_eq!(index.module_count(), 8);
        assert_eq!(index.skipped_lines, 3);
        let nvme = index.module("nvme").expect("nvme");
        assert_eq!(
            nvme.path,
            Path::new("/lib/modules/6.1.0-test/kernel/drivers/nvme/host/nvme.ko.gz")
        );
        assert_eq!(nvme.deps, ["nvme_core"]);
        let storage = index.module("usb-storage").expect("dash or underscore");
        assert_eq!(
            storage.load_order().collect::<Vec<_>>(),
            ["scsi_mod", "sd_mod"]
        );
        assert_eq!(
            index.softdeps("crc32c_generic").map(|s| s.pre.clone()),
            Some(vec!["crc32c_intel".to_string()])
        );
        assert!(index.is_builtin("hid-generic"));
    }

    #[test]
    fn resolve_by_name_alias_and_builtin() {
        let index = sample();
        let names = |q: &str| -> Vec<String> {
            index
                .resolve(q)
                .iter()
                .map(|t| t.name().to_string())
                .collect()
        };
        assert_eq!(names("nvme_core"), ["nvme_core"]);
        assert_eq!(
            names("pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02"),
            ["nvme"]
        );
        assert_eq!(
            names("pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"),
            ["e1000e"]
        );
        assert_eq!(names("crc32c"), ["crc32c_generic", "crc32c_intel"]);
        assert_eq!(names("loop"), ["loop"]);
        assert!(matches!(index.resolve("loop")[0], Target::Builtin(_)));
        assert!(names("pci:v00001234d00001111sv00000000sd00000000bc03sc00i00").is_empty());
        assert!(names("no_such_module").is_empty());
    }

    #[test]
    fn missing_directory_is_an_error_missing_files_are_not() {
        assert!(ModuleIndex::load(Path::new("/nonexistent/kboot/modules")).is_err());
        let dir = std::env::temp_dir().join(format!("kboot-kmod-empty-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let index = ModuleIndex::load(&dir).expect("empty dir loads");
        assert_eq!(index.module_count(), 0);
        assert!(index.resolve("anything").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
