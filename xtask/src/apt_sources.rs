//! The machine's own apt sources, read from /etc/apt in both formats (deb822 `.sources`
//! files and one-line `.list` files): `xtask ci --clean` debootstraps from them, and
//! `xtask bench --triage` fetches Debian's -dbg kernel through a temporary list made from
//! them (debug_kernel.rs). One parser for both, so the two cannot disagree.

use std::path::PathBuf;

/// One source: what a deb822 stanza or a one-line `deb`/`deb-src` line says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    /// `deb`, `deb-src`.
    pub types: Vec<String>,
    pub uris: Vec<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// `Signed-By` (a keyring path; an inline key block is not kept).
    pub signed_by: Option<String>,
    /// `Architectures` / `arch=`.
    pub architectures: Vec<String>,
}

impl Source {
    fn is_deb(&self) -> bool {
        self.types.iter().any(|t| t == "deb")
    }

    fn serves(&self, suite: &str) -> bool {
        self.suites.iter().any(|s| s == suite)
    }
}

/// The machine's source files in the order apt reads them: /etc/apt/sources.list, then
/// sources.list.d/ sorted; only `.list` and `.sources` files (apt ignores the others,
/// e.g. `*.disabled`). (file name, contents).
pub fn machine_source_files() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    files
        .into_iter()
        .filter_map(|file| {
            let name = file.file_name()?.to_string_lossy().into_owned();
            if !(name.ends_with(".sources") || name.ends_with(".list")) {
                return None;
            }
            let text = std::fs::read_to_string(&file).ok()?;
            Some((name, text))
        })
        .collect()
}

/// The sources of one file, parsed by its format (by name, as apt does).
pub fn parse_file(name: &str, text: &str) -> Vec<Source> {
    if name.ends_with(".sources") {
        parse_deb822(text)
    } else {
        parse_one_line(text)
    }
}

/// deb822 stanzas (`Types:`, `URIs:`, `Suites:`, `Components:`, `Signed-By:`,
/// `Architectures:`, `Enabled:`); disabled stanzas are left out.
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    // Stanzas are separated by blank lines; comment lines belong to no field.
    let mut stanza: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if let Some(source) = deb822_stanza(&stanza) {
                sources.push(source);
            }
            stanza.clear();
        } else if !line.starts_with('#') {
            stanza.push(line);
        }
    }
    sources
}

fn deb822_stanza(lines: &[&str]) -> Option<Source> {
    // Fields with their continuation lines (which start with white space).
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let words = |key: &str| -> Vec<String> {
        field(key)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    if field("enabled").is_some_and(|v| v == "no") {
        return None;
    }
    let source = Source {
        types: words("types"),
        uris: words("uris"),
        suites: words("suites"),
        components: words("components"),
        signed_by: field("signed-by").and_then(keyring_path),
        architectures: words("architectures"),
    };
    (!source.types.is_empty() && !source.uris.is_empty()).then_some(source)
}

/// A `Signed-By` value that names keyring files (an inline key block does not).
fn keyring_path(value: &str) -> Option<String> {
    (!value.contains('\n') && !value.is_empty() && !value.contains("BEGIN PGP"))
        .then(|| value.to_string())
}

/// One-line `deb [opts] URI SUITE [COMPONENT...]` and `deb-src` lines.
pub fn parse_one_line(text: &str) -> Vec<Source> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("").trim();
            let (kind, rest) = line.split_once(char::is_whitespace)?;
            if kind != "deb" && kind != "deb-src" {
                return None;
            }
            let rest = rest.trim_start();
            let (options, rest) = match rest.strip_prefix('[') {
                Some(r) => {
                    let (opts, after) = r.split_once(']')?;
                    (opts, after.trim_start())
                }
                None => ("", rest),
            };
            let mut source = Source {
                types: vec![kind.to_string()],
                ..Source::default()
            };
            for option in options.split_whitespace() {
                match option.split_once('=') {
                    Some(("signed-by", v)) => source.signed_by = keyring_path(v),
                    Some(("arch", v)) => {
                        source.architectures = v.split(',').map(str::to_string).collect()
                    }
                    _ => {}
                }
            }
            let mut words = rest.split_whitespace();
            source.uris = vec![words.next()?.to_string()];
            source.suites = vec![words.next()?.to_string()];
            source.components = words.map(str::to_string).collect();
            Some(source)
        })
        .collect()
}

/// The URI of the first deb822 stanza of type `deb` that serves `suite`.
pub fn deb822_uri(text: &str, suite: &str) -> Option<String> {
    first_uri(&parse_deb822(text), suite)
}

/// The URI of the first `deb [opts] URI SUITE …` line for `suite`.
pub fn one_line_uri(text: &str, suite: &str) -> Option<String> {
    first_uri(&parse_one_line(text), suite)
}

fn first_uri(sources: &[Source], suite: &str) -> Option<String> {
    sources
        .iter()
        .find(|s| s.is_deb() && s.serves(suite))
        .and_then(|s| s.uris.first().cloned())
}

/// A temporary one-line sources.list with every `deb` source of the machine's files that
/// serves the release `codename` or one of its companions (`bookworm`,
/// `bookworm-updates`, `bookworm-security`, `bookworm-backports`), one line per URI and
/// suite. Third-party archives with other suites are left out. None when nothing serves
/// the codename.
pub fn temporary_list(files: &[(String, String)], codename: &str) -> Option<String> {
    let companion = |suite: &str| {
        suite == codename
            || suite
                .strip_prefix(codename)
                .is_some_and(|rest| rest.starts_with('-'))
    };
    let mut lines: Vec<String> = Vec::new();
    for (name, text) in files {
        for source in parse_file(name, text) {
            if !source.is_deb() {
                continue;
            }
            let mut options = Vec::new();
            if let Some(keyring) = &source.signed_by {
                options.push(format!("signed-by={keyring}"));
            }
            if !source.architectures.is_empty() {
                options.push(format!("arch={}", source.architectures.join(",")));
            }
            let options = if options.is_empty() {
                String::new()
            } else {
                format!("[{}] ", options.join(" "))
            };
            for uri in &source.uris {
                for suite in source.suites.iter().filter(|s| companion(s)) {
                    let line =
                        format!("deb {options}{uri} {suite} {}", source.components.join(" "))
                            .trim_end()
                            .to_string();
                    if !lines.contains(&line) {
                        lines.push(line);
                    }
                }
            }
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n") + "\n")
}

/// Which suite this machine runs (bookworm on Debian 12).
pub fn host_codename() -> crate::Result<String> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string("/etc/os-release").context("failed to read /etc/os-release")?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no VERSION_CODENAME in /etc/os-release"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's own debian.sources (a comment inside the stanza, two stanzas).
    const DEBIAN_SOURCES: &str = "Types: deb\n\
        # http://snapshot.debian.org/archive/debian/20250520T000000Z\n\
        URIs: http://deb.debian.org/debian\n\
        Suites: bookworm bookworm-updates\n\
        Components: main\n\
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\
        \n\
        Types: deb\n\
        # http://snapshot.debian.org/archive/debian-security/20250520T000000Z\n\
        URIs: http://deb.debian.org/debian-security\n\
        Suites: bookworm-security\n\
        Components: main\n\
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

    #[test]
    fn apt_sources_of_both_formats_give_the_suite_uri() {
        let deb822 =
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n\
                      Components: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n\
                      Suites: bookworm-security\nComponents: main\n";
        assert_eq!(
            deb822_uri(deb822, "bookworm").as_deref(),
            Some("http://deb.debian.org/debian")
        );
        assert_eq!(
            deb822_uri(deb822, "bookworm-security").as_deref(),
            Some("http://deb.debian.org/debian-security")
        );
        assert_eq!(deb822_uri(deb822, "trixie"), None);
        let disabled = "Types: deb\nEnabled: no\nURIs: http://a/\nSuites: bookworm\n";
        assert_eq!(deb822_uri(disabled, "bookworm"), None);
        let list = "# comment\ndeb-src http://src/ bookworm main\n\
                    deb [signed-by=/k.gpg arch=amd64] http://mirror/debian bookworm main\n";
        assert_eq!(
            one_line_uri(list, "bookworm").as_deref(),
            Some("http://mirror/debian")
        );
        assert_eq!(one_line_uri(list, "sid"), None);
        assert_eq!(
            deb822_uri(DEBIAN_SOURCES, "bookworm-updates").as_deref(),
            Some("http://deb.debian.org/debian")
        );
    }

    #[test]
    fn the_temporary_list_has_the_release_and_its_companions_only() {
        let files = vec![
            ("debian.sources".to_string(), DEBIAN_SOURCES.to_string()),
            (
                "cloud.list".to_string(),
                "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n".into(),
            ),
            (
                "nodesource.sources".to_string(),
                "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n\
                 Components: main\nArchitectures: amd64\nSigned-By: /usr/share/keyrings/n.gpg\n"
                    .into(),
            ),
            (
                "sources.list".to_string(),
                "deb-src http://deb.debian.org/debian bookworm main\n\
                 deb [arch=amd64] http://mirror.example/debian bookworm-backports main contrib\n\
                 deb http://deb.debian.org/debian bookworm main\n"
                    .into(),
            ),
        ];
        let list = temporary_list(&files, "bookworm").unwrap();
        assert_eq!(
            list,
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n\
             deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main\n\
             deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main\n\
             deb [arch=amd64] http://mirror.example/debian bookworm-backports main contrib\n\
             deb http://deb.debian.org/debian bookworm main\n"
        );
        // The list parses back to the same sources.
        let back = parse_one_line(&list);
        assert_eq!(back.len(), 5);
        assert_eq!(back[2].suites, ["bookworm-security"]);
        assert_eq!(
            back[0].signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
        assert_eq!(temporary_list(&files, "trixie"), None);
    }

    #[test]
    fn inline_keys_and_continuation_lines_are_not_taken_for_paths() {
        let inline = "Types: deb\nURIs: http://a/debian\nSuites: bookworm\nComponents: main\n\
                      Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n \
                      -----END PGP PUBLIC KEY BLOCK-----\n";
        let sources = parse_deb822(inline);
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].signed_by, None);
        assert_eq!(sources[0].components, ["main"]);
        assert_eq!(
            temporary_list(&[("x.sources".into(), inline.into())], "bookworm").as_deref(),
            Some("deb http://a/debian bookworm main\n")
        );
    }
}
