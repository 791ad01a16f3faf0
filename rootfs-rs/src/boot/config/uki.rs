//! Unified kernel images (Boot Loader Specification type #2, `EFI/Linux/*.efi`): a PE image
//! whose sections carry the kernel (`.linux`), initrd (`.initrd`, with `.ucode` in front),
//! command line (`.cmdline`), os-release (`.osrel`) and kernel release (`.uname`). A
//! multi-profile UKI has `.profile` sections: those before the first are the base, each
//! `.profile` starts a group whose sections override the base's (systemd's UKI spec).

use std::path::Path;

use crate::boot::config::bls::{spec_order, BlsEntry};
use crate::boot::config::pe::{section_bytes, sections, ReadAt, Section};
use crate::boot::config::uki_addons::{addons_for, with_addons, Addons};
use crate::boot::entry::{choose_default, BootEntry, EntryKind, Parsed, MAX_ENTRIES};
use crate::boot::fs::{read_file_at, ConfigFs};

/// Where UKIs are installed, on the ESP and on the XBOOTLDR partition alike.
pub const UKI_DIR: &str = "/EFI/Linux";
/// Text sections are small; a larger one is damage, not a config.
const MAX_TEXT_SECTION: u64 = 64 * 1024;

/// The sections one profile boots with (the base when the image has no `.profile`):
/// for each name the last one that applies.
pub fn profile_sections(all: &[Section], profile: Option<u32>) -> Option<Vec<Section>> {
    let mut groups = all.split(|s| s.name == ".profile");
    let mut chosen: Vec<Section> = groups.next().unwrap_or_default().to_vec();
    let Some(index) = profile else {
        return Some(chosen);
    };
    // The `.profile` section itself belongs to its group: find it by position.
    let starts: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == ".profile")
        .map(|(i, _)| i)
        .collect();
    let start = *starts.get(usize::try_from(index).ok()?)?;
    let end = starts
        .iter()
        .find(|&&i| i > start)
        .copied()
        .unwrap_or(all.len());
    for section in &all[start..end] {
        match chosen.iter_mut().find(|s| s.name == section.name) {
            Some(slot) => *slot = section.clone(),
            None => chosen.push(section.clone()),
        }
    }
    Some(chosen)
}

/// How many profiles the image has (0: none, one plain entry).
pub fn profile_count(all: &[Section]) -> u32 {
    all.iter().filter(|s| s.name == ".profile").count() as u32
}

/// The `KEY=value` pairs of os-release text (values unquoted, `\` escapes resolved).
pub fn parse_os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), unquote(v.trim())))
        .collect()
}

fn unquote(value: &str) -> String {
    let inner = match value.as_bytes() {
        [q @ (b'"' | b'\''), .., last] if last == q && value.len() >= 2 => {
            &value[1..value.len() - 1]
        }
        _ => value,
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// A text section of the chosen ones, trailing NULs and white space removed.
pub(crate) fn section_text(
    read: ReadAt,
    chosen: &[Section],
    name: &str,
) -> Result<Option<String>, String> {
    let Some(section) = chosen.iter().rev().find(|s| s.name == name) else {
        return Ok(None);
    };
    if section.size > MAX_TEXT_SECTION {
        return Err(format!("section {name}: {} bytes, too large", section.size));
    }
    let bytes = section_bytes(read, section)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(
        text.trim_end_matches(['\0', ' ', '\n', '\t']).to_string(),
    ))
}

/// What the menu needs of one profile of a UKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UkiView {
    pub profile: Option<u32>,
    pub title: String,
    /// For ordering: os-release IMAGE_ID or ID, and IMAGE_VERSION, VERSION_ID or `.uname`.
    pub sort_key: Option<String>,
    pub version: Option<String>,
    pub cmdline: String,
    pub uname: Option<String>,
}

/// One view per profile (one for an image without profiles).
pub fn read_uki(read: ReadAt) -> Result<Vec<UkiView>, String> {
    let all = sections(read)?;
    if !all.iter().any(|s| s.name == ".linux") {
        return Err("no .linux section: not a unified kernel image".to_string());
    }
    let base = profile_sections(&all, None).unwrap_or_default();
    let osrel = parse_os_release(&section_text(read, &base, ".osrel")?.unwrap_or_default());
    let uname = section_text(read, &base, ".uname")?;
    let title = lookup(&osrel, "PRETTY_NAME")
        .map(str::to_string)
        .or_else(
            || match (lookup(&osrel, "NAME"), lookup(&osrel, "VERSION_ID")) {
                (Some(n), Some(v)) => Some(format!("{n} {v}")),
                (Some(n), None) => Some(n.to_string()),
                _ => None,
            },
        )
        .or_else(|| lookup(&osrel, "ID").map(str::to_string));
    let sort_key = lookup(&osrel, "IMAGE_ID").or_else(|| lookup(&osrel, "ID"));
    let version = lookup(&osrel, "IMAGE_VERSION")
        .or_else(|| lookup(&osrel, "VERSION_ID"))
        .map(str::to_string)
        .or_else(|| uname.clone());
    let profiles: Vec<Option<u32>> = match profile_count(&all) {
        0 => vec![None],
        n => (0..n).map(Some).collect(),
    };
    profiles
        .into_iter()
        .map(|profile| {
            let chosen = profile_sections(&all, profile).unwrap_or_default();
            let own =
                parse_os_release(&section_text(read, &chosen, ".profile")?.unwrap_or_default());
            let base_title = title.clone().unwrap_or_default();
            let title = match (
                profile,
                lookup(&own, "TITLE").or_else(|| lookup(&own, "ID")),
            ) {
                (None, _) => base_title,
                (Some(_), Some(name)) if base_title.is_empty() => name.to_string(),
                (Some(_), Some(name)) => format!("{base_title} ({name})"),
                (Some(n), None) => format!("{base_title} (profile {n})"),
            };
            Ok(UkiView {
                profile,
                title,
                sort_key: sort_key.map(str::to_string),
                version: version.clone(),
                cmdline: section_text(read, &chosen, ".cmdline")?.unwrap_or_default(),
                uname: uname.clone(),
            })
        })
        .collect()
}

/// A positioned reader over one file of `fs`.
pub fn fs_reader<'a>(
    fs: &'a dyn ConfigFs,
    path: &'a Path,
) -> impl Fn(u64, usize) -> Result<Vec<u8>, String> + 'a {
    move |offset, len| {
        fs.read_at(path, offset, len)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The sections profile `profile` of the UKI open as `file` boots with.
pub fn file_profile_sections(
    file: &std::fs::File,
    profile: Option<u32>,
) -> Result<Vec<Section>, String> {
    let read = |offset, len| read_file_at(file, offset, len).map_err(|e| e.to_string());
    let all = sections(&read)?;
    profile_sections(&all, profile).ok_or_else(|| {
        format!(
            "no profile {} (the image has {})",
            profile.unwrap_or_default(),
            profile_count(&all)
        )
    })
}

/// The UKI's own command line (profile `profile`), for type #1 entries with `uki`.
pub fn uki_cmdline(fs: &dyn ConfigFs, path: &Path) -> Result<String, String> {
    let read = fs_reader(fs, path);
    let views = read_uki(&read)?;
    Ok(views.first().map(|v| v.cmdline.clone()).unwrap_or_default())
}

/// The menu entry for one profile of the UKI at `path` (`id`: its file name; systemd-boot
/// adds `@N` for profiles after the first).
pub fn uki_entry(
    view: &UkiView,
    path: &Path,
    id: &str,
    source: &str,
    addons: &Addons,
) -> BootEntry {
    let label = if view.title.is_empty() {
        id
    } else {
        &view.title
    };
    let mut entry = BootEntry::linux(label, path.to_path_buf(), source);
    entry.kind = EntryKind::Uki {
        profile: view.profile,
        addons: addons.files.clone(),
    };
    entry.cmdline = with_addons(&view.cmdline, addons);
    entry.id = match view.profile {
        Some(n) if n > 0 => format!("{id}@{n}"),
        _ => id.to_string(),
    };
    entry
}

/// Every UKI in `dir`, newest version first within one OS (the type #1 order, with the
/// os-release ID as sort key); a title used twice gets its version added.
pub fn parse_ukis(fs: &dyn ConfigFs, dir: &Path) -> Parsed {
    let mut out = Parsed::default();
    let names = fs.list_dir(dir).unwrap_or_default();
    let mut found: Vec<(BlsEntry, Vec<BootEntry>)> = Vec::new();
    for name in names.iter().filter(|n| {
        // Compared as bytes: the four bytes before the end may start inside a character
        // (`bootmgfw\u{fffd}efi`, found by the lilo fuzz target, panicked on a str slice).
        let bytes = n.as_bytes();
        !n.starts_with('.')
            && bytes.len() > 4
            && bytes[bytes.len() - 4..].eq_ignore_ascii_case(b".efi")
    }) {
        if found.len() >= MAX_ENTRIES {
            out.warn(
                &format!("uki: {}", dir.display()),
                0,
                format!("more than {MAX_ENTRIES} images; rest ignored"),
            );
            break;
        }
        let path = dir.join(name);
        let source = format!("uki: {}", path.display());
        let read = fs_reader(fs, &path);
        let views = match read_uki(&read) {
            Ok(views) => views,
            Err(err) => {
                out.warn(&source, 0, err);
                continue;
            }
        };
        let key = BlsEntry {
            id: name.clone(),
            sort_key: views.first().and_then(|v| v.sort_key.clone()),
            version: views.first().and_then(|v| v.version.clone()),
            ..BlsEntry::default()
        };
        let addons = addons_for(fs, &path);
        for skipped in &addons.skipped {
            out.warn(&source, 0, skipped.clone());
        }
        let entries = views
            .iter()
            .map(|v| uki_entry(v, &path, name, &source, &addons))
            .collect();
        found.push((key, entries));
    }
    found.sort_by(|a, b| spec_order(&a.0, &b.0));
    let labels: Vec<String> = found
        .iter()
        .flat_map(|(_, entries)| entries.iter().map(|e| e.label.clone()))
        .collect();
    for (key, entries) in &mut found {
        for entry in entries.iter_mut() {
            let twice = labels.iter().filter(|l| **l == entry.label).count() > 1;
            if let (true, Some(version)) = (twice, &key.version) {
                entry.label = format!("{} ({version})", entry.label);
            }
        }
    }
    out.entries = found.into_iter().flat_map(|(_, e)| e).collect();
    choose_default(&mut out, "uki", None, |_, _| false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::config::pe::{build, read_slice};
    use crate::boot::fs::MemFs;

    #[test]
    fn os_release_values_are_unquoted() {
        let pairs = parse_os_release("# c\nNAME=\"Debian GNU/Linux\"\nID=debian\nX='a \\\"b'\n");
        assert_eq!(lookup(&pairs, "NAME"), Some("Debian GNU/Linux"));
        assert_eq!(lookup(&pairs, "ID"), Some("debian"));
        assert_eq!(lookup(&pairs, "X"), Some("a \"b"));
    }

    #[test]
    fn names_ending_inside_a_character_are_not_images() {
        // Found by the lilo fuzz target: `bootmgfw\u{fffd}efi` (a replacement character
        // where the dot was) panicked on a str slice four bytes from the end.
        let image = build(&[(".osrel", b"ID=x\n"), (".linux", &[0; 16])]);
        let fs = MemFs::new()
            .with("/EFI/Linux/bootmgfw\u{fffd}efi", image.clone())
            .with("/EFI/Linux/\u{e9}.EFI", image);
        let parsed = parse_ukis(&fs, Path::new("/EFI/Linux"));
        let kernels: Vec<String> = parsed
            .entries
            .iter()
            .map(|e| e.kernel.display().to_string())
            .collect();
        assert_eq!(kernels, ["/EFI/Linux/\u{e9}.EFI"]);
    }

    #[test]
    fn a_plain_uki_gives_one_entry_with_its_title_and_command_line() {
        let image = build(&[
            (
                ".osrel",
                b"PRETTY_NAME=\"Debian 13\"\nID=debian\nVERSION_ID=13\n",
            ),
            (".cmdline", b"root=/dev/vda2 quiet\0"),
            (".uname", b"6.12.0-1-amd64"),
            (".linux", &[0; 16]),
        ]);
        let views = read_uki(&read_slice(&image)).unwrap();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].title, "Debian 13");
        assert_eq!(views[0].cmdline, "root=/dev/vda2 quiet");
        assert_eq!(views[0].version.as_deref(), Some("13"));
        assert_eq!(views[0].uname.as_deref(), Some("6.12.0-1-amd64"));
        let no_linux = build(&[(".osrel", b"ID=x\n")]);
        assert!(read_uki(&read_slice(&no_linux))
            .unwrap_err()
            .contains(".linux"));
    }

    #[test]
    fn profiles_override_the_base_sections() {
        let image = build(&[
            (".osrel", b"NAME=Fedora\nVERSION_ID=41\n"),
            (".cmdline", b"quiet"),
            (".linux", &[0; 16]),
            (".profile", b"ID=default\n"),
            (".profile", b"ID=rescue\nTITLE=\"Rescue shell\"\n"),
            (".cmdline", b"rescue"),
        ]);
        let read = read_slice(&image);
        let views = read_uki(&read).unwrap();
        let seen: Vec<(&str, &str)> = views
            .iter()
            .map(|v| (v.title.as_str(), v.cmdline.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("Fedora 41 (default)", "quiet"),
                ("Fedora 41 (Rescue shell)", "rescue")
            ]
        );
        let all = sections(&read).unwrap();
        let rescue = profile_sections(&all, Some(1)).unwrap();
        assert!(rescue.iter().any(|s| s.name == ".linux"));
        assert!(profile_sections(&all, Some(2)).is_none());
    }

    #[test]
    fn ukis_in_efi_linux_sorted_newest_first() {
        let uki = |version: &str| {
            build(&[
                (
                    ".osrel",
                    format!("PRETTY_NAME=Arch\nID=arch\nIMAGE_VERSION={version}\n").as_bytes(),
                ),
                (".linux", &[0; 16]),
            ])
        };
        let fs = MemFs::new()
            .with("/EFI/Linux/arch-6.9.efi", uki("6.9"))
            .with("/EFI/Linux/arch-6.10.efi", uki("6.10"))
            .with("/EFI/Linux/notes.txt", "x")
            .with("/EFI/Linux/broken.EFI", "MZ");
        let parsed = parse_ukis(&fs, Path::new(UKI_DIR));
        let ids: Vec<&str> = parsed.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["arch-6.10.efi", "arch-6.9.efi"]);
        assert!(parsed.entries[0].is_default);
        assert_eq!(
            parsed.entries[0].kind,
            EntryKind::Uki {
                profile: None,
                addons: Vec::new()
            }
        );
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        assert!(parsed.warnings[0].message.contains("e_lfanew"));
    }
}
