//! chmod: change permissions with octal (755) or symbolic (u+x,go-w,a=r,+X) modes; -R.
use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::util::mode::apply_mode;
use crate::util::walk::visit_tree;
use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: chmod [-R] MODE[,MODE]... FILE...\nChange file mode bits. MODE is octal or [ugoa]*[+-=][rwxXst]*.";

pub fn main(args: &[OsString]) -> i32 {
    let mut recursive = false;
    // A mode like "-x" looks like an option: take the first such argument as the mode.
    let mut args = args.to_vec();
    let looks_like_mode = |a: &OsString| {
        let s = a.to_string_lossy();
        s.len() > 1 && s.starts_with('-') && s[1..].chars().all(|c| "rwxXst".contains(c))
    };
    let mode_from_option = args
        .iter()
        .position(looks_like_mode)
        .map(|i| args.remove(i).to_string_lossy().into_owned());
    let ops = match Parser::new("chmod", USAGE, &args)
        .longs(&[("recursive", 'R')])
        .parse(|p, c| {
            match c {
                'R' => recursive = true,
                'f' | 'v' => {}
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut ops = ops.into_iter();
    let spec =
        match mode_from_option.or_else(|| ops.next().map(|m| m.to_string_lossy().into_owned())) {
            Some(s) => s,
            None => return Parser::usage_error("chmod", USAGE, "missing operand", 1),
        };
    let files: Vec<OsString> = ops.collect();
    if files.is_empty() {
        return Parser::usage_error(
            "chmod",
            USAGE,
            &format!("missing operand after '{spec}'"),
            1,
        );
    }
    if apply_mode(&spec, 0, false).is_none() {
        crate::warn!("chmod: invalid mode: '{spec}'");
        return 1;
    }
    let mut status = 0;
    for f in &files {
        let mut change = |path: &Path, meta: &std::fs::Metadata, _depth: usize| {
            if meta.file_type().is_symlink() {
                return;
            }
            let new = apply_mode(&spec, meta.mode(), meta.is_dir()).unwrap_or(meta.mode());
            if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(new)) {
                warn_err(
                    "chmod",
                    format!("changing permissions of '{}'", path.display()),
                    &e,
                );
                status = 1;
            }
        };
        if !visit_tree("chmod", Path::new(f), recursive, &mut change) {
            status = 1;
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::apply_mode;

    #[test]
    fn symbolic_and_octal() {
        assert_eq!(apply_mode("755", 0, false), Some(0o755));
        assert_eq!(apply_mode("u+x", 0o644, false), Some(0o744));
        assert_eq!(apply_mode("go-r", 0o644, false), Some(0o600));
        assert_eq!(apply_mode("a=r", 0o777, false), Some(0o444));
        assert_eq!(apply_mode("u=rwx,g=rx,o=", 0o000, false), Some(0o750));
        assert_eq!(apply_mode("a+X", 0o644, true), Some(0o755));
        assert_eq!(apply_mode("a+X", 0o644, false), Some(0o644));
        assert_eq!(apply_mode("u+s", 0o755, false), Some(0o4755));
        assert_eq!(apply_mode("q+x", 0o644, false), None);
        assert_eq!(apply_mode("9", 0o644, false), None);
    }
}
