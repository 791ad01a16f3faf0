//! GRUB environment block (grubenv): "# GRUB Environment Block" + key=value lines, #-padded to 1024 bytes.

use super::entry::Warning;

pub const GRUBENV_SIGNATURE: &str = "# GRUB Environment Block";
pub const GRUBENV_SIZE: usize = 1024;

/// Parses a grubenv file. Values use GRUB's escapes (`\\` and `\n`). A wrong size or a missing
/// signature is warned about but whatever key=value lines exist are still used, because
/// editors and `grub-editenv` bugs produce such files and GRUB itself is lenient about them.
pub fn parse_grubenv(
    bytes: &[u8],
    source: &str,
    warnings: &mut Vec<Warning>,
) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split('\n');
    if lines.next().map(str::trim_end) != Some(GRUBENV_SIGNATURE) {
        warnings.push(Warning::new(
            source,
            1,
            "grubenv: missing \"# GRUB Environment Block\" signature",
        ));
        lines = text.split('\n');
    }
    if bytes.len() != GRUBENV_SIZE {
        warnings.push(Warning::new(
            source,
            0,
            format!(
                "grubenv: size is {} bytes, expected {}",
                bytes.len(),
                GRUBENV_SIZE
            ),
        ));
    }
    let mut vars = Vec::new();
    for line in lines {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        vars.push((key.to_string(), unescape(value)));
    }
    vars
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Looks up one variable in a parsed grubenv.
pub fn lookup<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
    vars.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(body: &str) -> Vec<u8> {
        let mut out = format!("{}\n{}", GRUBENV_SIGNATURE, body).into_bytes();
        out.resize(GRUBENV_SIZE, b'#');
        out
    }

    #[test]
    fn reads_keys_and_ignores_padding() {
        let mut warnings = Vec::new();
        let vars = parse_grubenv(
            &block("saved_entry=abc-6.5\nkernelopts=root=/dev/x ro\n"),
            "env",
            &mut warnings,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(lookup(&vars, "saved_entry"), Some("abc-6.5"));
        assert_eq!(lookup(&vars, "kernelopts"), Some("root=/dev/x ro"));
    }

    #[test]
    fn escapes_and_bad_size_warned() {
        let mut warnings = Vec::new();
        let vars = parse_grubenv(
            b"# GRUB Environment Block\nx=a\\\\b\\nc\n",
            "env",
            &mut warnings,
        );
        assert_eq!(lookup(&vars, "x"), Some("a\\b\nc"));
        assert_eq!(warnings.len(), 1);
    }
}
