//! Menu settings: `[menu]` of /etc/kboot/kboot.toml, `kboot.timeout=`/`kboot.default=` on the
//! kernel command line, and choosing an entry by number, label or id.

use crate::boot::scan::volume::DiscoveredEntry;
use crate::config::text::unquote;
use crate::config::toml::{Document, TableEntry};

/// Countdown when no config says otherwise.
pub const DEFAULT_TIMEOUT: u32 = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MenuSettings {
    /// Seconds; negative waits forever.
    pub timeout: Option<i64>,
    /// Entry number (1-based), label or id.
    pub default: Option<String>,
    /// Seconds one device may take to probe, mount and scan.
    pub scan_timeout: Option<u32>,
    /// Count boot tries of entries named `NAME+LEFT[-DONE]` (default: on).
    pub boot_counting: Option<bool>,
    /// The menu password's SHA-512-crypt or SHA-256-crypt hash (`$6$…`, `$5$…`).
    pub password: Option<String>,
}

impl MenuSettings {
    /// Settings of `other` win where set.
    pub fn overridden_by(self, other: MenuSettings) -> MenuSettings {
        MenuSettings {
            timeout: other.timeout.or(self.timeout),
            default: other.default.or(self.default),
            scan_timeout: other.scan_timeout.or(self.scan_timeout),
            boot_counting: other.boot_counting.or(self.boot_counting),
            password: other.password.or(self.password),
        }
    }

    /// The countdown: these settings, else the boot config's, else DEFAULT_TIMEOUT;
    /// None waits forever.
    pub fn countdown(&self, from_config: Option<u32>) -> Option<u32> {
        match self.timeout {
            Some(n) if n < 0 => None,
            Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
            None => Some(from_config.unwrap_or(DEFAULT_TIMEOUT)),
        }
    }
}

/// Reads the `[menu]` table of kboot.toml text; see `menu_settings`.
pub fn parse_menu_settings(text: &str, source: &str) -> (MenuSettings, Vec<String>) {
    menu_settings(&Document::parse(text), source)
}

/// The `[menu]` table of a kboot.toml document; other tables belong to other parts of kboot.
pub fn menu_settings(doc: &Document, source: &str) -> (MenuSettings, Vec<String>) {
    let mut settings = MenuSettings::default();
    let (entries, mut warnings) = doc.table("menu", source);
    for TableEntry { at, key, value } in entries {
        let (key, value) = (key.as_str(), value.as_str());
        let number = || {
            value
                .parse::<i64>()
                .map_err(|_| format!("{at}: {key}: not a number: {value}"))
        };
        let result = match key {
            "timeout" => number().map(|n| settings.timeout = Some(n)),
            "scan_timeout" => number().and_then(|n| {
                u32::try_from(n)
                    .map(|n| settings.scan_timeout = Some(n))
                    .map_err(|_| format!("{at}: scan_timeout: out of range: {n}"))
            }),
            "boot_counting" => match value {
                "true" | "false" => {
                    settings.boot_counting = Some(value == "true");
                    Ok(())
                }
                _ => Err(format!("{at}: boot_counting: not true or false: {value}")),
            },
            "password" => {
                let hash = unquote(value);
                let supported = crate::boot::menu::password::is_supported(&hash);
                settings.password = Some(hash);
                // An unusable hash still locks the menu: no password opens it.
                if supported {
                    Ok(())
                } else {
                    Err(format!(
                        "{at}: password: not a SHA-512-crypt or SHA-256-crypt hash ($6$… or $5$…, made by `kboot mkpasswd`): \
                         nothing will unlock the menu"
                    ))
                }
            }
            "default" => {
                settings.default = Some(unquote(value));
                Ok(())
            }
            _ => Err(format!("{at}: unknown key '{key}' in [menu]")),
        };
        if let Err(warning) = result {
            warnings.push(warning);
        }
    }
    (settings, warnings)
}

/// `kboot.timeout=N` and `kboot.default=X` from /proc/cmdline text.
pub fn parse_kernel_cmdline(cmdline: &str) -> MenuSettings {
    let mut settings = MenuSettings::default();
    for word in cmdline.split_whitespace() {
        if let Some(value) = word.strip_prefix("kboot.timeout=") {
            settings.timeout = value.parse().ok().or(settings.timeout);
        } else if let Some(value) = word.strip_prefix("kboot.default=") {
            settings.default = Some(unquote(value));
        }
    }
    settings
}

/// Index of the entry `spec` names: a 1-based number, else an exact label, else an id, else
/// the last part of a submenu label ("Advanced options…>Debian, with Linux 6.1").
pub fn find_entry(entries: &[DiscoveredEntry], spec: &str) -> Option<usize> {
    let spec = spec.trim();
    if let Ok(number) = spec.parse::<usize>() {
        return (1..=entries.len()).contains(&number).then(|| number - 1);
    }
    entries
        .iter()
        .position(|e| e.entry.label == spec)
        .or_else(|| entries.iter().position(|e| e.entry.id == spec))
        .or_else(|| {
            entries
                .iter()
                .position(|e| e.entry.label.rsplit('>').next() == Some(spec))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_table_only() {
        let text = "[network]\ntimeout = 99\n[menu]\ntimeout = 3 # short\ndefault = \"Debian GNU/Linux\"\ncolour = 1\nscan_timeout = x\nboot_counting = false\n";
        let (settings, warnings) = parse_menu_settings(text, "kboot.toml");
        assert_eq!(settings.timeout, Some(3));
        assert_eq!(settings.default.as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(settings.scan_timeout, None);
        assert_eq!(settings.boot_counting, Some(false));
        let (locked, lock_warnings) =
            parse_menu_settings("[menu]\npassword = \"$1$x$y\"\n", "kboot.toml");
        assert_eq!(locked.password.as_deref(), Some("$1$x$y"));
        assert!(
            lock_warnings[0].contains("nothing will unlock"),
            "{lock_warnings:?}"
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("kboot.toml:6: unknown key 'colour'"),
            "{warnings:?}"
        );
        assert!(warnings[1].contains("not a number: x"), "{warnings:?}");
    }

    #[test]
    fn cmdline_overrides_file_and_config() {
        let file = MenuSettings {
            timeout: Some(7),
            default: Some("2".into()),
            scan_timeout: None,
            boot_counting: Some(false),
            password: None,
        };
        let cmdline = parse_kernel_cmdline("console=ttyS0 kboot.timeout=0 quiet kboot.timeout=bad");
        let merged = file.clone().overridden_by(cmdline);
        assert_eq!(merged.countdown(Some(5)), Some(0));
        assert_eq!(merged.default.as_deref(), Some("2"));
        assert_eq!(merged.boot_counting, Some(false));
        assert_eq!(file.countdown(Some(5)), Some(7));
        assert_eq!(MenuSettings::default().countdown(Some(5)), Some(5));
        assert_eq!(
            MenuSettings::default().countdown(None),
            Some(DEFAULT_TIMEOUT)
        );
        let forever = parse_kernel_cmdline("kboot.timeout=-1");
        assert_eq!(forever.countdown(Some(5)), None);
    }
}
