//! Capture settings: `[dump]` of kboot.toml, overridden by `kboot.dump=TARGET[,TARGET…]`,
//! `kboot.dump.report_url=URL`, `kboot.dump.ssh_hold=SECONDS`,
//! `kboot.dump.path=DIR`, `kboot.dump.action=reboot|poweroff|menu|shell|none`,
//! `kboot.dump.compress=zlib|lzo|snappy|zstd|none` and `kboot.dump.level=N` on the command line.

use crate::config::text::unquote;
use crate::config::toml::{Document, Value};
use crate::dump::save::Compression;

/// What happens once the capture is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Reboot,
    Poweroff,
    Menu,
    Shell,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSettings {
    /// Where to save, tried in order until one works: `LABEL=…`, `UUID=…`, a device path,
    /// `nfs://server/export`, `http(s)://server/dir/` (WebDAV). Empty: the KBOOT-DUMP
    /// label, else the crashed kernel's root=.
    pub targets: Vec<String>,
    /// Where the triage JSON is POSTed (a collector), besides being saved.
    pub report_url: Option<String>,
    /// Directory on the target filesystem.
    pub path: String,
    pub action: Action,
    /// False with `action=none`: the report and log are saved, the dump is not.
    pub save_dump: bool,
    pub compression: Compression,
    pub dump_level: u8,
    /// Seconds the capture kernel waits before its reboot or power-off so that the report
    /// can be read over SSH (`[ssh]` keys in the image); 0: no wait.
    pub ssh_hold: u32,
}

/// An hour: a hold is for a person reading a report, not a machine parked for ever.
pub const MAX_SSH_HOLD: u32 = 3600;

impl Default for DumpSettings {
    fn default() -> Self {
        DumpSettings {
            targets: Vec::new(),
            report_url: None,
            path: "/var/crash".into(),
            action: Action::Reboot,
            save_dump: true,
            compression: Compression::Zlib,
            dump_level: 31,
            ssh_hold: 0,
        }
    }
}

impl DumpSettings {
    /// Applies one setting; Err names what is wrong with the value.
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "target" => {
                self.targets = match Value::parse(value) {
                    Some(Value::List(items)) => items,
                    _ => value.split(',').map(|t| t.trim().to_string()).collect(),
                };
                self.targets.retain(|t| !t.is_empty());
            }
            "report_url" if crate::net::url::is_url(value) => {
                self.report_url = Some(value.to_string())
            }
            "report_url" => return Err(format!("report_url: not an http(s):// URL: {value}")),
            "path" if value.starts_with('/') => self.path = value.to_string(),
            "path" => return Err(format!("path must be absolute: {value}")),
            "action" => {
                (self.action, self.save_dump) = match value {
                    "reboot" => (Action::Reboot, true),
                    "poweroff" => (Action::Poweroff, true),
                    "menu" => (Action::Menu, true),
                    "shell" => (Action::Shell, true),
                    "none" => (Action::Reboot, false),
                    _ => return Err(format!("action: unknown value {value}")),
                }
            }
            "compress" => {
                self.compression = Compression::parse(value)
                    .ok_or_else(|| format!("compress: unknown method {value}"))?
            }
            "level" => {
                self.dump_level = value
                    .parse()
                    .ok()
                    .filter(|l| *l <= 31)
                    .ok_or_else(|| format!("level: not 0-31: {value}"))?
            }
            "ssh_hold" => {
                self.ssh_hold = value
                    .parse()
                    .ok()
                    .filter(|s| *s <= MAX_SSH_HOLD)
                    .ok_or_else(|| format!("ssh_hold: not 0-{MAX_SSH_HOLD} seconds: {value}"))?
            }
            _ => return Err(format!("unknown key '{key}'")),
        }
        Ok(())
    }

    /// Settings from kboot.toml text (may be empty) then the kernel command line; returns
    /// the warnings about what was ignored.
    pub fn load(toml: &str, source: &str, cmdline: &str) -> (DumpSettings, Vec<String>) {
        DumpSettings::from_document(&Document::parse(toml), source, cmdline)
    }

    /// Settings from the `[dump]` table of a kboot.toml document then the kernel command
    /// line; returns the warnings about what was ignored.
    pub fn from_document(
        toml: &Document,
        source: &str,
        cmdline: &str,
    ) -> (DumpSettings, Vec<String>) {
        let mut s = DumpSettings::default();
        let (entries, mut warnings) = toml.table("dump", source);
        for e in entries {
            if let Err(w) = s.set(&e.key, &unquote(&e.value)) {
                warnings.push(format!("{}: [dump] {w}", e.at));
            }
        }
        for word in crate::cmdline::split_kernel_cmdline(cmdline) {
            let Some((key, value)) = word.split_once('=') else {
                continue;
            };
            let key = match key {
                "kboot.dump" => "target",
                k => match k.strip_prefix("kboot.dump.") {
                    Some(k) => k,
                    None => continue,
                },
            };
            if let Err(w) = s.set(key, value) {
                warnings.push(format!("kernel command line: {word}: {w}"));
            }
        }
        (s, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_hold_in_seconds_bounded_by_an_hour() {
        let (s, w) = DumpSettings::load("[dump]\nssh_hold = 300\n", "kboot.toml", "");
        assert_eq!((s.ssh_hold, w.len()), (300, 0), "{w:?}");
        let (s, w) = DumpSettings::load("", "kboot.toml", "kboot.dump.ssh_hold=20");
        assert_eq!((s.ssh_hold, w.len()), (20, 0), "{w:?}");
        let (s, w) = DumpSettings::load("", "kboot.toml", "kboot.dump.ssh_hold=99999");
        assert_eq!(s.ssh_hold, 0);
        assert!(w[0].contains("ssh_hold: not 0-3600"), "{w:?}");
    }

    #[test]
    fn command_line_overrides_the_config_file() {
        let toml = "[menu]\ntimeout = 3\n[dump]\ntarget = \"UUID=1234\"\npath = \"/srv/crash\"\n\
                    action = \"shell\"\ncompress = \"lzo\"\n";
        let (s, w) = DumpSettings::load(toml, "kboot.toml", "quiet kboot.dump=LABEL=CRASH");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.targets, ["LABEL=CRASH"]);
        assert_eq!(s.path, "/srv/crash");
        assert_eq!(s.action, Action::Shell);
        assert_eq!(s.compression, Compression::Lzo);
        let (s, _) = DumpSettings::load(
            toml,
            "kboot.toml",
            "kboot.dump.action=none kboot.dump.level=1",
        );
        assert_eq!(
            (s.action, s.save_dump, s.dump_level),
            (Action::Reboot, false, 1)
        );
    }

    #[test]
    fn targets_are_a_list_tried_in_order() {
        let toml = "[dump]\ntarget = [\"https://crash.example/upload/\", \"nfs://nas/crash\", \"LABEL=KBOOT-DUMP\"]\n\
                    report_url = \"http://collector.example/kdump\"\n";
        let (s, w) = DumpSettings::load(toml, "kboot.toml", "");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            s.targets,
            [
                "https://crash.example/upload/",
                "nfs://nas/crash",
                "LABEL=KBOOT-DUMP"
            ]
        );
        assert_eq!(
            s.report_url.as_deref(),
            Some("http://collector.example/kdump")
        );
        let (s, w) = DumpSettings::load(
            "",
            "kboot.toml",
            "kboot.dump=http://10.0.2.2:8080/up/,LABEL=X kboot.dump.report_url=ftp-less",
        );
        assert_eq!(s.targets, ["http://10.0.2.2:8080/up/", "LABEL=X"]);
        assert_eq!((s.report_url, w.len()), (None, 1), "{w:?}");
    }

    #[test]
    fn bad_values_are_warnings_and_keep_the_defaults() {
        let toml = "[dump]\npath = relative\nfrobnicate = 1\nbroken line\n";
        let (s, w) = DumpSettings::load(
            toml,
            "kboot.toml",
            "kboot.dump.action=explode kboot.dump.level=99 kboot.dump.compress=rar",
        );
        assert_eq!(s, DumpSettings::default());
        assert_eq!(w.len(), 6, "{w:?}");
        assert!(w[0].starts_with("kboot.toml:4"), "{w:?}");
        assert!(
            w.iter().any(|m| m.contains("kboot.dump.action=explode")),
            "{w:?}"
        );
    }
}
