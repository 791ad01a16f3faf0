//! Boot Loader Specification type #1 entries (loader/entries/*.conf) and systemd-boot's loader.conf.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use crate::boot::config::grubenv::{lookup, parse_grubenv};
use crate::boot::config::uki::uki_cmdline;
use crate::boot::config::uki_addons::{addons_for, with_addons};
use crate::boot::config::version::{compare_versions, glob_match};
use crate::boot::entry::{
    choose_default, join_cmdline, BootEntry, EntryKind, Parsed, Warning, MAX_ENTRIES,
};
use crate::boot::fs::{normalize, read_text, ConfigFs};
use crate::boot::scan::pxe::url_path;

/// Entry directories, in the order the spec lists them ($ESP then $BOOT, or / then /boot).
pub const ENTRY_DIRS: &[&str] = &["/loader/entries", "/boot/loader/entries"];
/// Where RHEL 8 style `$kernelopts` lives.
const GRUBENV_PATHS: &[&str] = &[
    "/grub2/grubenv",
    "/boot/grub2/grubenv",
    "/grub/grubenv",
    "/boot/grub/grubenv",
];
const LOADER_CONF_PATHS: &[&str] = &["/loader/loader.conf", "/boot/loader/loader.conf"];

/// One parsed type #1 entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlsEntry {
    /// File name without ".conf".
    pub id: String,
    pub title: Option<String>,
    pub version: Option<String>,
    pub machine_id: Option<String>,
    pub sort_key: Option<String>,
    pub linux: Option<String>,
    pub efi: Option<String>,
    /// A unified kernel image (systemd 258's `uki` key).
    pub uki: Option<String>,
    /// A UKI to download when the entry is booted (systemd 258's `uki-url`).
    pub uki_url: Option<String>,
    pub initrds: Vec<String>,
    pub options: Vec<String>,
}

/// Parses one entry file. Unknown keys are allowed by the spec and ignored.
pub fn parse_entry(text: &str, id: &str, source: &str, warnings: &mut Vec<Warning>) -> BlsEntry {
    let mut entry = BlsEntry {
        id: id.to_string(),
        ..BlsEntry::default()
    };
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k, v.trim().to_string()),
            None => (line, String::new()),
        };
        match key {
            "title" => entry.title = Some(value),
            "version" => entry.version = Some(value),
            "machine-id" => entry.machine_id = Some(value),
            "sort-key" => entry.sort_key = Some(value),
            "linux" => entry.linux = Some(value),
            "efi" => entry.efi = Some(value),
            "uki" => entry.uki = Some(value),
            "uki-url" => entry.uki_url = Some(value),
            "initrd" => entry
                .initrds
                .extend(value.split_whitespace().map(str::to_string)),
            "options" => entry.options.push(value),
            "devicetree" | "devicetree-overlay" | "architecture" | "grub_users" | "grub_arg"
            | "grub_class" => {}
            _ if key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => {}
            _ => warnings.push(Warning::new(
                source,
                index + 1,
                format!("unrecognised line '{}'", truncate(line)),
            )),
        }
    }
    entry
}

fn truncate(text: &str) -> String {
    text.chars().take(60).collect()
}

/// The spec's order: entries with no boot tries left (`+0-N`) last, then entries with
/// sort-key first (by sort-key, machine-id, then version descending), then the rest by
/// file name, descending version order.
pub fn spec_order(a: &BlsEntry, b: &BlsEntry) -> Ordering {
    let bad = |e: &BlsEntry| crate::boot::config::boot_count::is_bad(&e.id);
    bad(a).cmp(&bad(b)).then_with(|| spec_order_of_good(a, b))
}

fn spec_order_of_good(a: &BlsEntry, b: &BlsEntry) -> Ordering {
    match (&a.sort_key, &b.sort_key) {
        (Some(ka), Some(kb)) => ka
            .cmp(kb)
            .then_with(|| a.machine_id.cmp(&b.machine_id))
            .then_with(|| {
                compare_versions(
                    b.version.as_deref().unwrap_or(""),
                    a.version.as_deref().unwrap_or(""),
                )
            })
            .then_with(|| compare_versions(&b.id, &a.id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => compare_versions(&b.id, &a.id),
    }
}

/// Replaces `$name` / `${name}` in options using `vars` (GRUB's grubenv for `$kernelopts`).
pub fn expand_vars(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
        } else {
            out.push_str(&vars(name).unwrap_or_default());
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Reads all `*.conf` entries of `dir`, sorted per the spec, as boot entries.
pub fn load_entries(
    fs: &dyn ConfigFs,
    dir: &Path,
    vars: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<Warning>,
) -> Vec<BootEntry> {
    let names = match fs.list_dir(dir) {
        Ok(names) => names,
        Err(_) => return Vec::new(),
    };
    let mut parsed: Vec<(BlsEntry, PathBuf)> = Vec::new();
    for name in names
        .iter()
        .filter(|n| n.ends_with(".conf") && !n.starts_with('.'))
    {
        if parsed.len() >= MAX_ENTRIES {
            warnings.push(Warning::new(
                &dir.display().to_string(),
                0,
                format!("more than {MAX_ENTRIES} entries; rest ignored"),
            ));
            break;
        }
        let path = dir.join(name);
        let source = format!("bls: {}", path.display());
        match read_text(fs, &path) {
            Ok(text) => {
                let id = name.trim_end_matches(".conf");
                parsed.push((parse_entry(&text, id, &source, warnings), path));
            }
            Err(err) => warnings.push(Warning::new(&source, 0, err.to_string())),
        }
    }
    parsed.sort_by(|a, b| spec_order(&a.0, &b.0));
    let under_boot = dir.starts_with("/boot");
    parsed
        .into_iter()
        .filter_map(|(e, path)| to_boot_entry(fs, e, &path, under_boot, vars, warnings))
        .collect()
}

/// Entry paths are relative to the partition holding the entries. When the entries sit in
/// /boot/loader/entries of a root filesystem, a path that only exists below /boot means
/// /boot was that partition's mount point.
fn entry_path(fs: &dyn ConfigFs, raw: &str, under_boot: bool) -> PathBuf {
    let path = normalize(Path::new("/"), Path::new(raw));
    if under_boot && !fs.is_file(&path) {
        let below_boot = Path::new("/boot").join(path.strip_prefix("/").unwrap_or(&path));
        if fs.is_file(&below_boot) {
            return below_boot;
        }
    }
    path
}

fn to_boot_entry(
    fs: &dyn ConfigFs,
    bls: BlsEntry,
    path: &Path,
    under_boot: bool,
    vars: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<Warning>,
) -> Option<BootEntry> {
    let source = format!("bls: {}", path.display());
    let label = match (&bls.title, &bls.version) {
        (Some(title), _) if !title.is_empty() => title.clone(),
        (_, Some(version)) => version.clone(),
        _ => bls.id.clone(),
    };
    let cmdline = join_cmdline(
        bls.options
            .iter()
            .map(|o| expand_vars(o, vars))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    );
    let mut entry = match (&bls.linux, &bls.efi) {
        (Some(linux), _) => BootEntry::linux(&label, entry_path(fs, linux, under_boot), &source),
        (None, _) if bls.uki.is_some() => {
            let path = entry_path(fs, bls.uki.as_deref().unwrap_or_default(), under_boot);
            let mut entry = BootEntry::linux(&label, path.clone(), &source);
            let addons = addons_for(fs, &path);
            for skipped in addons.skipped.iter() {
                warnings.push(Warning::new(&source, 0, skipped.clone()));
            }
            // `options` replace the image's own command line; without them it boots with
            // its `.cmdline`. The addons' command lines are appended to either.
            let mut base = cmdline.clone();
            if bls.options.is_empty() {
                match uki_cmdline(fs, &path) {
                    Ok(own) => base = own,
                    Err(err) => warnings.push(Warning::new(&source, 0, err)),
                }
            }
            entry.cmdline = with_addons(&base, &addons);
            entry.kind = EntryKind::Uki {
                profile: None,
                addons: addons.files,
            };
            entry
        }
        (None, None) if bls.uki_url.is_some() => {
            let text = bls.uki_url.as_deref().unwrap_or_default();
            // Checked now so that a typo is a scan warning, not a failure at boot. The
            // image is fetched only when the entry is booted; its `.cmdline` is read then
            // (an empty command line here means "the image's own").
            if let Err(err) = crate::net::url::parse_url(text) {
                warnings.push(Warning::new(&source, 0, format!("uki-url {text}: {err}")));
                return None;
            }
            let mut entry = BootEntry::linux(&label, url_path(text), &source);
            entry.cmdline = cmdline.clone();
            entry.kind = EntryKind::Uki {
                profile: None,
                addons: Vec::new(),
            };
            entry
        }
        (None, Some(efi)) => {
            let mut entry = BootEntry::linux(&label, PathBuf::new(), &source);
            entry.kind = EntryKind::Chainload {
                target: efi.clone(),
            };
            entry
        }
        (None, None) => {
            warnings.push(Warning::new(
                &source,
                0,
                "no 'linux', 'uki', 'uki-url' or 'efi' line; skipped",
            ));
            return None;
        }
    };
    // RHEL 8 writes `initrd … $tuned_initrd`; an empty expansion adds nothing.
    let initrds: Vec<String> = bls
        .initrds
        .iter()
        .flat_map(|i| {
            expand_vars(i, vars)
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    entry.initrds = initrds
        .iter()
        .map(|i| entry_path(fs, i, under_boot))
        .collect();
    // A UKI's command line was made above (its own or `options`, then its addons).
    let is_uki = matches!(entry.kind, EntryKind::Uki { .. });
    if !is_uki && (!cmdline.is_empty() || entry.kind == EntryKind::Linux) {
        entry.cmdline = cmdline;
    }
    entry.id = bls.id;
    Some(entry)
}

/// Reads grubenv variables for `$kernelopts` when BLS entries are read without grub.cfg.
pub fn grubenv_vars(fs: &dyn ConfigFs, warnings: &mut Vec<Warning>) -> Vec<(String, String)> {
    for path in GRUBENV_PATHS {
        if let Ok(bytes) = fs.read(Path::new(path)) {
            return parse_grubenv(&bytes, &format!("grubenv: {path}"), warnings);
        }
    }
    Vec::new()
}

/// All BLS entries on a filesystem (both entry directories), with systemd-boot's
/// loader.conf `default` (a glob on the entry id) and `timeout` applied.
pub fn parse_bls(fs: &dyn ConfigFs) -> Parsed {
    let mut parsed = Parsed::default();
    let env = grubenv_vars(fs, &mut parsed.warnings);
    let lookup_env = |name: &str| lookup(&env, name).map(str::to_string);
    for dir in ENTRY_DIRS {
        let mut entries = load_entries(fs, Path::new(dir), &lookup_env, &mut parsed.warnings);
        parsed.entries.append(&mut entries);
    }
    let mut default_pattern = None;
    for conf in LOADER_CONF_PATHS {
        let Ok(text) = read_text(fs, Path::new(conf)) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            let Some((key, value)) = line.split_once(|c: char| c.is_ascii_whitespace()) else {
                continue;
            };
            match key {
                "default" => default_pattern = Some(value.trim().to_string()),
                "timeout" => parsed.timeout_secs = value.trim().parse().ok(),
                _ => {}
            }
        }
        break;
    }
    // grubenv's saved_entry names a BLS id on Fedora/RHEL when the menu is GRUB's.
    let saved = lookup(&env, "saved_entry").map(str::to_string);
    let pattern = default_pattern.or(saved);
    // systemd-boot matches the pattern against the entry id, which includes ".conf".
    choose_default(&mut parsed, "bls", pattern.as_deref(), |e, p| {
        glob_match(p, &e.id) || glob_match(p, &format!("{}.conf", e.id))
    });
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, sort_key: Option<&str>, version: Option<&str>) -> BlsEntry {
        BlsEntry {
            id: id.into(),
            sort_key: sort_key.map(Into::into),
            version: version.map(Into::into),
            ..BlsEntry::default()
        }
    }

    #[test]
    fn sort_key_entries_first_then_file_names_descending() {
        let mut list = [
            entry("b", None, None),
            entry("c-5", Some("fedora"), Some("5")),
            entry("a", None, None),
            entry("c-10", Some("fedora"), Some("10")),
            entry("d", Some("arch"), Some("1")),
        ];
        list.sort_by(spec_order);
        let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["d", "c-10", "c-5", "b", "a"]);
    }

    #[test]
    fn entries_with_no_tries_left_sort_last() {
        let mut list = [
            entry("fedora-6.9+0-3", Some("fedora"), Some("6.9")),
            entry("fedora-6.8", Some("fedora"), Some("6.8")),
            entry("fedora-6.7+2-1", Some("fedora"), Some("6.7")),
            entry("old+0", None, None),
            entry("other", None, None),
        ];
        list.sort_by(spec_order);
        let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "fedora-6.8",
                "fedora-6.7+2-1",
                "other",
                "fedora-6.9+0-3",
                "old+0"
            ]
        );
    }

    #[test]
    fn a_uki_key_boots_the_image_with_its_own_command_line_unless_options_say_otherwise() {
        use crate::boot::config::pe::build;
        let uki = build(&[(".cmdline", b"from-uki"), (".linux", &[0; 8])]);
        let fs = crate::boot::fs::MemFs::new()
            .with("/loader/entries/a.conf", "title A\nuki /EFI/Linux/a.efi\n")
            .with(
                "/loader/entries/b.conf",
                "title B\nuki /EFI/Linux/a.efi\noptions mine\n",
            )
            .with("/EFI/Linux/a.efi", uki);
        let parsed = parse_bls(&fs);
        let seen: Vec<(&str, &str)> = parsed
            .entries
            .iter()
            .map(|e| (e.label.as_str(), e.cmdline.as_str()))
            .collect();
        assert_eq!(seen, [("B", "mine"), ("A", "from-uki")]);
        assert_eq!(
            parsed.entries[0].kind,
            EntryKind::Uki {
                profile: None,
                addons: Vec::new()
            }
        );
        assert_eq!(parsed.entries[0].kernel, Path::new("/EFI/Linux/a.efi"));
    }

    #[test]
    fn a_uki_key_takes_its_addons_and_uki_url_is_fetched_at_boot() {
        use crate::boot::config::pe::build;
        let fs = crate::boot::fs::MemFs::new()
            .with(
                "/loader/entries/a.conf",
                "title A\nuki /EFI/Linux/a.efi\noptions mine\n",
            )
            .with("/EFI/Linux/a.efi", build(&[(".linux", &[0; 8])]))
            .with(
                "/EFI/Linux/a.efi.extra.d/x.addon.efi",
                build(&[(".cmdline", b"added")]),
            )
            .with(
                "/loader/entries/net.conf",
                "title Net\nuki-url https://boot.example/x/a.efi\n",
            )
            .with("/loader/entries/bad.conf", "title Bad\nuki-url not a url\n");
        let parsed = parse_bls(&fs);
        let seen: Vec<(&str, &str, &Path)> = parsed
            .entries
            .iter()
            .map(|e| (e.label.as_str(), e.cmdline.as_str(), e.kernel.as_path()))
            .collect();
        assert_eq!(
            seen,
            [
                ("Net", "", Path::new("/@url/https/boot.example/x/a.efi")),
                ("A", "mine added", Path::new("/EFI/Linux/a.efi")),
            ]
        );
        assert!(matches!(parsed.entries[0].kind, EntryKind::Uki { .. }));
        assert!(
            parsed
                .warnings
                .iter()
                .any(|w| w.to_string().contains("uki-url not a url")),
            "{:?}",
            parsed.warnings
        );
    }

    #[test]
    fn options_lines_concatenate_and_expand() {
        let mut warnings = Vec::new();
        let e = parse_entry(
            "title T\noptions $kernelopts\noptions ${extra} x\ninitrd /a\ninitrd /b /c\n",
            "t",
            "s",
            &mut warnings,
        );
        assert_eq!(e.initrds, ["/a", "/b", "/c"]);
        let vars = |n: &str| match n {
            "kernelopts" => Some("root=/dev/sda1 ro".to_string()),
            _ => None,
        };
        let opts: Vec<String> = e.options.iter().map(|o| expand_vars(o, &vars)).collect();
        assert_eq!(
            join_cmdline(opts.iter().map(String::as_str)),
            "root=/dev/sda1 ro x"
        );
        assert_eq!(expand_vars("cost $5 and $", &vars), "cost  and $");
    }
}
