//! GRUB commands that matter for the menu: set, load_env, search, linux, initrd, source,
//! configfile, blscfg and calls of config-defined functions. Everything else is ignored.

use std::path::Path;

use crate::boot::config::bls;
use crate::boot::config::grub::expand::{fsref_placeholder, is_var_name, lookup_var};
use crate::boot::config::grub::lexer::Word;
use crate::boot::config::grub::{Level, Pending, Shared, MAX_CALL_DEPTH};
use crate::boot::config::grubenv::parse_grubenv;
use crate::boot::entry::{join_cmdline, FsRef};
use crate::boot::fs::normalize;

impl Shared<'_> {
    pub(super) fn command(
        &mut self,
        level: &mut Level,
        args: &[String],
        words: &[Word],
        line: usize,
    ) {
        let Some(name) = args.first() else { return };
        match name.as_str() {
            "set" => {
                for arg in &args[1..] {
                    if let Some((key, value)) = arg.split_once('=') {
                        self.assign(level, key, value, line);
                    }
                }
            }
            "unset" => {
                for key in &args[1..] {
                    level.scope.vars.remove(key);
                    level.scope.fsrefs.remove(key);
                }
            }
            "load_env" => self.load_env(level, &args[1..], line),
            "search" | "search.fs_uuid" | "search.fs_label" | "search.file" => {
                self.search(level, args, line)
            }
            "linux" | "linuxefi" | "linux16" | "kernel" => self.linux(level, args, line),
            "initrd" | "initrdefi" | "initrd16" => self.initrd(level, &args[1..], line),
            "chainloader" => {
                if let Some(build) = level.entry.as_mut() {
                    let target = args[1..]
                        .iter()
                        .find(|a| !a.starts_with("--"))
                        .cloned()
                        .unwrap_or_default();
                    build.chainload = Some(target);
                }
            }
            "source" | "." => {
                for file in &args[1..] {
                    let (_, path) = level.scope.split_device(file);
                    self.include(level, &path, line);
                }
            }
            "configfile" | "normal" | "extract_entries_configfile" | "extract_entries_source" => {
                if let Some(file) = args.get(1) {
                    let (_, path) = level.scope.split_device(file);
                    self.include(level, &path, line);
                }
            }
            "blscfg" | "bls_import" => self.blscfg(level, line),
            _ if self.functions.contains_key(name.as_str()) => self.call(level, args, line),
            _ if args.len() == 1 && words.len() == 1 => {
                if let Some((key, value)) = name.split_once('=') {
                    if is_var_name(key) {
                        self.assign(level, key, value, line);
                    }
                }
            }
            _ => {}
        }
    }

    /// Runs a function body with $1…$9, $# and $@ set, restoring them afterwards.
    fn call(&mut self, level: &mut Level, args: &[String], line: usize) {
        if self.call_depth >= MAX_CALL_DEPTH {
            // Recursion this deep never ends in GRUB either; forgetting the function keeps
            // a branching recursion from costing exponential time.
            self.functions.remove(args[0].as_str());
            return self.warn(
                &level.scope,
                line,
                format!(
                    "{}: function calls nested too deep; function disabled",
                    args[0]
                ),
            );
        }
        let Some(body) = self.functions.get(args[0].as_str()).cloned() else {
            return;
        };
        let params: Vec<(String, String)> = (1..=9)
            .map(|i| (i.to_string(), args.get(i).cloned().unwrap_or_default()))
            .chain([
                ("#".to_string(), (args.len() - 1).to_string()),
                ("@".to_string(), args[1..].join(" ")),
                ("*".to_string(), args[1..].join(" ")),
            ])
            .collect();
        let saved: Vec<(String, Option<String>)> = params
            .iter()
            .map(|(k, _)| (k.clone(), level.scope.vars.get(k).cloned()))
            .collect();
        level.scope.vars.extend(params);
        self.call_depth += 1;
        self.exec(level, &body);
        self.call_depth -= 1;
        for (key, value) in saved {
            match value {
                Some(v) => level.scope.vars.insert(key, v),
                None => level.scope.vars.remove(&key),
            };
        }
    }

    fn assign(&mut self, level: &mut Level, key: &str, value: &str, line: usize) {
        if !is_var_name(key) {
            self.warn(&level.scope, line, format!("invalid variable name '{key}'"));
            return;
        }
        let scope = &mut level.scope;
        // `set root=$dev` after `search --set=dev`: carry the filesystem over.
        let carried = scope
            .fsrefs
            .iter()
            .find(|(k, r)| *k != key && fsref_placeholder(r) == value)
            .map(|(_, r)| r.clone());
        match carried {
            Some(fsref) => {
                scope.fsrefs.insert(key.to_string(), fsref);
            }
            None if key == "root" && !value.is_empty() => {
                let device = value
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .to_string();
                scope.fsrefs.insert(key.to_string(), FsRef::Device(device));
            }
            None => {
                scope.fsrefs.remove(key);
            }
        }
        scope.vars.insert(key.to_string(), value.to_string());
    }

    fn load_env(&mut self, level: &mut Level, args: &[String], line: usize) {
        let mut file = None;
        let mut wanted = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "-f" | "--file" => file = iter.next().cloned(),
                a if a.starts_with("--file=") => file = Some(a["--file=".len()..].to_string()),
                a if a.starts_with('-') => {}
                a => wanted.push(a.to_string()),
            }
        }
        let file =
            file.unwrap_or_else(|| format!("{}/grubenv", lookup_var(&level.scope.vars, "prefix")));
        let (_, path) = level.scope.split_device(&file);
        let bytes = match self.fs.read(&path) {
            Ok(bytes) => bytes,
            Err(err) => return self.warn(&level.scope, line, format!("load_env: {err}")),
        };
        let env_source = format!("grubenv: {}", path.display());
        for (key, value) in parse_grubenv(&bytes, &env_source, &mut self.warnings) {
            if wanted.is_empty() || wanted.contains(&key) {
                level.scope.vars.insert(key, value);
            }
        }
    }

    fn search(&mut self, level: &mut Level, args: &[String], line: usize) {
        let mut kind = match args[0].as_str() {
            "search.fs_uuid" => "uuid",
            "search.fs_label" => "label",
            _ => "file",
        };
        let mut var = "root".to_string();
        let mut positional = Vec::new();
        let mut iter = args[1..].iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--fs-uuid" | "-u" => kind = "uuid",
                "--label" | "-l" => kind = "label",
                "--file" | "-f" => kind = "file",
                "--set" | "-s" => var = iter.next().cloned().unwrap_or_else(|| "root".into()),
                a if a.starts_with("--set=") => var = a["--set=".len()..].to_string(),
                a if a.starts_with('-') => {}
                a => positional.push(a.to_string()),
            }
        }
        // `search.fs_uuid UUID VAR [HINT…]`: the short forms name the variable positionally.
        if args[0].starts_with("search.") {
            if let Some(name) = positional.get(1) {
                var = name.clone();
            }
        }
        let Some(needle) = positional.into_iter().next() else {
            return self.warn(&level.scope, line, "search without a target");
        };
        let fsref = match kind {
            "uuid" => FsRef::Uuid(needle),
            "label" => FsRef::Label(needle),
            // A file search finds this filesystem when the file is here; elsewhere is unknown.
            _ => {
                if !self
                    .fs
                    .is_file(&normalize(Path::new("/"), Path::new(&needle)))
                {
                    self.warn(
                        &level.scope,
                        line,
                        format!("search --file {needle}: not on this filesystem"),
                    );
                }
                level.scope.fsrefs.remove(&var);
                level.scope.vars.insert(var, String::new());
                return;
            }
        };
        level
            .scope
            .vars
            .insert(var.clone(), fsref_placeholder(&fsref));
        level.scope.fsrefs.insert(var, fsref);
    }

    fn linux(&mut self, level: &mut Level, args: &[String], line: usize) {
        let Some(build) = level.entry.as_mut() else {
            return;
        };
        let Some(kernel) = args.get(1) else {
            return self.warn(&level.scope, line, format!("{}: no kernel given", args[0]));
        };
        let (fsref, path) = level.scope.split_device(kernel);
        build.kernel = Some((path, fsref));
        build.cmdline = join_cmdline(args[2..].iter().map(String::as_str));
    }

    fn initrd(&mut self, level: &mut Level, files: &[String], line: usize) {
        let Some(build) = level.entry.as_mut() else {
            return;
        };
        let files: Vec<&String> = files.iter().filter(|f| !f.starts_with("--")).collect();
        if files.is_empty() {
            return self.warn(&level.scope, line, "initrd: no file given");
        }
        build.initrds = files
            .iter()
            .map(|f| level.scope.split_device(f).1)
            .collect();
    }

    fn blscfg(&mut self, level: &mut Level, line: usize) {
        let blsdir = lookup_var(&level.scope.vars, "blsdir").to_string();
        let candidates: Vec<String> = if blsdir.is_empty() {
            vec!["/loader/entries".into(), "/boot/loader/entries".into()]
        } else {
            vec![blsdir]
        };
        let Some(dir) = candidates
            .iter()
            .find(|d| self.fs.list_dir(Path::new(d.as_str())).is_ok())
        else {
            return self.warn(
                &level.scope,
                line,
                "blscfg: no /loader/entries directory on this filesystem",
            );
        };
        let vars = level.scope.vars.clone();
        let lookup = |name: &str| vars.get(name).cloned();
        let entries = bls::load_entries(self.fs, Path::new(dir), &lookup, &mut self.warnings);
        let root = level.scope.fsrefs.get("root").cloned();
        for mut entry in entries {
            if !self.admit_entry(&level.scope, line) {
                break;
            }
            entry.root_fs = root.clone();
            level.pending.push(Pending::Ready(entry));
        }
    }
}
