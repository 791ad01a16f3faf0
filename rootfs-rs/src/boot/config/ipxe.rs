//! iPXE scripts (`#!ipxe`, ipxe.org/scripting) read as menu entries. The script is run
//! in simulation: `set`/`clear` and `${var}` (with `${net0/mac:hexhyp}`-style scopes and
//! types; what kboot knows about the machine comes in as built-ins), `kernel`/`initrd`/
//! `imgargs`/`boot`, `chain` to another script (bounded depth) or to a kernel, `goto` and
//! `:label`, `isset`/`iseq` with `&&`/`||`, and `menu`/`item`/`choose`: each item of a
//! menu becomes its own path through the script, and every path that reaches `boot`
//! becomes an entry labelled with the items chosen on the way. Commands about the
//! console or the network are accepted silently; unknown ones are skipped with a
//! warning naming the line. Work is bounded (steps, paths, chain depth).
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::boot::entry::{join_cmdline, BootEntry, Parsed, MAX_ENTRIES};

const MAX_CHAIN_DEPTH: usize = 8;
const MAX_STEPS: usize = 100_000;
const MAX_PATHS: usize = 256;
/// Bytes all `${…}` expansions of one run may produce: settings that double each other
/// (`set a ${a}${a}`) would otherwise exhaust memory in forty lines.
const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// Where the scripts and files named in a script are: `load` reads a chained script
/// (`name` as written in the script known as `from`), `resolve` makes a file name
/// absolute for the entry.
pub trait Scripts {
    fn load(&self, from: &str, name: &str) -> Result<(String, String), String>;
    fn resolve(&self, from: &str, name: &str) -> String;
}

pub fn is_ipxe(text: &str) -> bool {
    text.trim_start().starts_with("#!ipxe")
}

/// Runs the script `text` known as `name`; `builtins` answer `${mac}`, `${ip}`, ….
pub fn parse_ipxe(
    text: &str,
    name: &str,
    builtins: &BTreeMap<String, String>,
    scripts: &dyn Scripts,
) -> Parsed {
    let mut run = Run {
        scripts: vec![Script::new(name, text)],
        builtins,
        loader: scripts,
        out: Parsed::default(),
        steps: 0,
        paths: 1,
        budget: MAX_EXPANDED_BYTES,
    };
    let mut queue = vec![Path {
        script: 0,
        line: 0,
        command: 0,
        status: true,
        vars: BTreeMap::new(),
        kernel: None,
        initrds: Vec::new(),
        menu: Menu::default(),
        chosen: Vec::new(),
        is_default: true,
        depth: 0,
    }];
    let mut entries = Vec::new();
    while let Some(path) = queue.pop() {
        if let Some(entry) = run.follow(path, &mut queue) {
            entries.push(entry);
        }
    }
    entries.truncate(MAX_ENTRIES);
    // The paths are followed last fork first; the menu shows items in script order.
    entries.sort_by_key(|(order, _)| order.clone());
    let mut out = run.out;
    let mut seen = std::collections::BTreeSet::new();
    out.warnings.retain(|w| seen.insert(w.to_string()));
    let explicit = entries.iter().any(|(_, e)| e.is_default);
    out.entries = entries.into_iter().map(|(_, e)| e).collect();
    if !explicit {
        if let Some(first) = out.entries.first_mut() {
            first.is_default = true;
        }
    }
    out
}

struct Script {
    name: String,
    /// (line number, commands with the operator before each: "", "&&" or "||").
    lines: Vec<(usize, Vec<(String, Vec<String>)>)>,
    labels: BTreeMap<String, usize>,
}

impl Script {
    fn new(name: &str, text: &str) -> Script {
        let mut lines = Vec::new();
        let mut labels = BTreeMap::new();
        let mut pending = String::new();
        let mut first = 0;
        for (index, raw) in text.lines().enumerate() {
            if pending.is_empty() {
                first = index + 1;
            }
            // A trailing backslash continues the command on the next line.
            if let Some(head) = raw.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            pending.push_str(raw);
            let line = std::mem::take(&mut pending);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(label) = line.strip_prefix(':') {
                labels.insert(label.trim().to_string(), lines.len());
                continue;
            }
            lines.push((first, split_commands(&tokenize(line))));
        }
        Script {
            name: name.to_string(),
            lines,
            labels,
        }
    }
}

/// Words of a line: whitespace-separated, with "…" and '…' grouping and \ escaping.
fn tokenize(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => word.get_or_insert_with(String::new).extend(chars.next()),
            ('"' | '\'', None) => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (c, Some(q)) if c == q => quote = None,
            (c, None) if c.is_whitespace() => words.extend(word.take()),
            (c, _) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

fn split_commands(words: &[String]) -> Vec<(String, Vec<String>)> {
    let mut commands = vec![(String::new(), Vec::new())];
    for word in words {
        if word == "&&" || word == "||" {
            commands.push((word.clone(), Vec::new()));
        } else if let Some((_, args)) = commands.last_mut() {
            args.push(word.clone());
        }
    }
    commands.retain(|(_, args)| !args.is_empty());
    commands
}

#[derive(Clone, Default)]
struct Menu {
    /// (name, text, default)
    items: Vec<(String, String, bool)>,
}

#[derive(Clone)]
struct Path {
    script: usize,
    line: usize,
    command: usize,
    status: bool,
    vars: BTreeMap<String, String>,
    kernel: Option<(String, Vec<String>)>,
    initrds: Vec<String>,
    menu: Menu,
    /// (item position, item text) of each choice made on the way.
    chosen: Vec<(usize, String)>,
    is_default: bool,
    depth: usize,
}

struct Run<'a> {
    scripts: Vec<Script>,
    builtins: &'a BTreeMap<String, String>,
    loader: &'a dyn Scripts,
    out: Parsed,
    steps: usize,
    paths: usize,
    /// What is left of MAX_EXPANDED_BYTES.
    budget: usize,
}

enum Next {
    Continue,
    Jump(usize, usize),
    Stop,
    Boot,
}

type Ordered = (Vec<usize>, BootEntry);

impl Run<'_> {
    fn follow(&mut self, mut path: Path, queue: &mut Vec<Path>) -> Option<Ordered> {
        loop {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                let name = self.scripts[path.script].name.clone();
                self.out
                    .warn(&name, 0, "script runs too long (a goto loop?); stopped");
                return None;
            }
            let script = &self.scripts[path.script];
            let Some((line_no, commands)) = script.lines.get(path.line) else {
                return None;
            };
            let line_no = *line_no;
            let Some((op, words)) = commands.get(path.command).cloned() else {
                // A failure nothing on the line handled ends the script, as in iPXE.
                if !path.status {
                    return None;
                }
                path.line += 1;
                path.command = 0;
                continue;
            };
            path.command += 1;
            if (op == "&&" && !path.status) || (op == "||" && path.status) {
                continue;
            }
            let mut budget = self.budget;
            let words: Option<Vec<String>> = words
                .iter()
                .map(|w| self.expand(w, &path.vars, &mut budget))
                .collect();
            self.budget = budget;
            let Some(words) = words else {
                let name = self.scripts[path.script].name.clone();
                let limit = MAX_EXPANDED_BYTES >> 20;
                let message = format!("settings expand to more than {limit} MiB; stopped");
                self.out.warn(&name, line_no, message);
                return None;
            };
            match self.command(&mut path, &words, line_no, queue) {
                Next::Continue => {}
                Next::Jump(script, line) => {
                    (path.script, path.line, path.command, path.status) = (script, line, 0, true)
                }
                Next::Stop => return None,
                Next::Boot => return self.entry(&path),
            }
        }
    }

    fn command(
        &mut self,
        path: &mut Path,
        words: &[String],
        line: usize,
        queue: &mut Vec<Path>,
    ) -> Next {
        let source = self.scripts[path.script].name.clone();
        let (name, args) = options(words);
        let flag = |n: &str| args.iter().position(|a| a == n);
        let value = |n: &str| flag(n).and_then(|i| args.get(i + 1)).cloned();
        let plain: Vec<String> = positional(&args);
        path.status = true;
        match name.as_str() {
            "set" => {
                if let Some((var, rest)) = plain.split_first() {
                    path.vars.insert(setting_name(var), rest.join(" "));
                }
            }
            "clear" => {
                if let Some(var) = plain.first() {
                    path.vars.insert(setting_name(var), String::new());
                }
            }
            "kernel" | "imgselect" | "imgload" => {
                let Some((file, rest)) = plain.split_first() else {
                    self.out
                        .warn(&source, line, format!("'{name}' without a file"));
                    path.status = false;
                    return Next::Continue;
                };
                path.kernel = Some((self.loader.resolve(&source, file), rest.to_vec()));
            }
            "initrd" | "module" | "imgfetch" => match plain.first() {
                Some(file) => path.initrds.push(self.loader.resolve(&source, file)),
                None => path.status = false,
            },
            "imgargs" => match (&mut path.kernel, plain.split_first()) {
                (Some((_, kernel_args)), Some((_, rest))) => *kernel_args = rest.to_vec(),
                _ => path.status = false,
            },
            "imgfree" => {
                path.kernel = None;
                path.initrds.clear();
            }
            "boot" | "imgexec" if plain.is_empty() => {
                if path.kernel.is_some() {
                    return Next::Boot;
                }
                self.out.warn(&source, line, "'boot' without a kernel");
                path.status = false;
            }
            "chain" | "boot" | "imgexec" => return self.chain(path, &plain, &source, line),
            "goto" => {
                let target = plain.first().cloned().unwrap_or_default();
                match self.scripts[path.script].labels.get(&target) {
                    Some(&at) => return Next::Jump(path.script, at),
                    None => {
                        self.out
                            .warn(&source, line, format!("goto {target}: no such label"));
                        return Next::Stop;
                    }
                }
            }
            "isset" => path.status = plain.first().is_some_and(|v| !v.is_empty()),
            "iseq" => path.status = plain.len() == 2 && plain[0] == plain[1],
            "menu" => path.menu = Menu::default(),
            "item" => {
                if flag("--gap").is_none() {
                    if let Some((item, text)) = plain.split_first() {
                        let text = if text.is_empty() {
                            item.clone()
                        } else {
                            text.join(" ")
                        };
                        path.menu
                            .items
                            .push((item.clone(), text, flag("--default").is_some()));
                    }
                }
            }
            "choose" => {
                let Some(var) = plain.first().map(|v| setting_name(v)) else {
                    path.status = false;
                    return Next::Continue;
                };
                let timeout = value("--timeout")
                    .and_then(|t| t.parse::<u32>().ok())
                    .filter(|t| *t > 0);
                if self.out.timeout_secs.is_none() {
                    self.out.timeout_secs = timeout.map(|ms| ms.div_ceil(1000));
                }
                let default = value("--default");
                let items = std::mem::take(&mut path.menu.items);
                for (position, (item, text, item_default)) in items.iter().enumerate().rev() {
                    if self.paths >= MAX_PATHS {
                        self.out
                            .warn(&source, line, "too many menu paths; the rest are ignored");
                        break;
                    }
                    self.paths += 1;
                    let mut fork = path.clone();
                    fork.vars.insert(var.clone(), item.clone());
                    fork.chosen.push((position, text.clone()));
                    fork.is_default &= match &default {
                        Some(d) => d == item,
                        None => *item_default,
                    };
                    queue.push(fork);
                }
                return Next::Stop;
            }
            "exit" | "shell" | "sanboot" | "reboot" | "poweroff" => return Next::Stop,
            "prompt" => path.status = false,
            "echo" | "dhcp" | "ifopen" | "ifclose" | "ifconf" | "ifstat" | "iflinkwait"
            | "route" | "sleep" | "console" | "colour" | "cpair" | "sync" | "ntp" | "params"
            | "param" | "nslookup" | "show" | "imgstat" | "imgverify" | "imgtrust" | "cpuid"
            | "time" | "vcreate" | "vdestroy" | "login" | "autoboot" => {}
            _ => self
                .out
                .warn(&source, line, format!("unknown command '{name}' skipped")),
        }
        Next::Continue
    }

    /// `chain FILE [ARGS]`: another script (read and run in place) or a kernel to boot.
    fn chain(&mut self, path: &mut Path, plain: &[String], source: &str, line: usize) -> Next {
        let Some((file, rest)) = plain.split_first() else {
            path.status = false;
            return Next::Continue;
        };
        let lower = file.to_ascii_lowercase();
        let stem = lower.split(['?', '#']).next().unwrap_or("");
        if [".0", ".kpxe", ".pxe", ".com", ".c32", ".iso", ".img"]
            .iter()
            .any(|e| stem.ends_with(e))
        {
            self.out.warn(
                source,
                line,
                format!("chain {file}: not a Linux kernel or an iPXE script; skipped"),
            );
            path.status = false;
            return Next::Continue;
        }
        let script_like = lower.contains('?')
            || [".ipxe", ".php", ".cgi", ".txt", ".cfg", ".pl", ".py", ".sh"]
                .iter()
                .any(|e| stem.ends_with(e));
        if !script_like {
            path.kernel = Some((self.loader.resolve(source, file), rest.to_vec()));
            return Next::Boot;
        }
        if path.depth >= MAX_CHAIN_DEPTH {
            self.out.warn(
                source,
                line,
                format!("chain {file}: chained more than {MAX_CHAIN_DEPTH} deep"),
            );
            return Next::Stop;
        }
        let (name, text) = match self.loader.load(source, file) {
            Ok(got) => got,
            Err(e) => {
                self.out.warn(source, line, format!("chain {file}: {e}"));
                path.status = false;
                return Next::Continue;
            }
        };
        if !is_ipxe(&text) {
            self.out.warn(
                source,
                line,
                format!("chain {file}: not an iPXE script (no #!ipxe)"),
            );
            path.status = false;
            return Next::Continue;
        }
        path.depth += 1;
        let index = match self.scripts.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.scripts.push(Script::new(&name, &text));
                self.scripts.len() - 1
            }
        };
        Next::Jump(index, 0)
    }

    fn entry(&self, path: &Path) -> Option<Ordered> {
        let (kernel, args) = path.kernel.clone()?;
        let source = format!("ipxe: {}", self.scripts[path.script].name);
        let label = if path.chosen.is_empty() {
            kernel.rsplit('/').next().unwrap_or(&kernel).to_string()
        } else {
            path.chosen
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(">")
        };
        let mut entry = BootEntry::linux(&label, PathBuf::from(&kernel), &source);
        let words: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .filter(|w| !w.starts_with("initrd="))
            .collect();
        entry.cmdline = join_cmdline(words);
        entry.initrds = path.initrds.iter().map(PathBuf::from).collect();
        entry.is_default = path.is_default && !path.chosen.is_empty();
        entry.id = label;
        Some((path.chosen.iter().map(|(p, _)| *p).collect(), entry))
    }

    /// `${name}`, `${scope/name}`, `${name:type}`: user settings first, then built-ins;
    /// unknown names expand to nothing, as in iPXE. None once the output would take
    /// more than `budget` bytes.
    fn expand(
        &self,
        word: &str,
        vars: &BTreeMap<String, String>,
        budget: &mut usize,
    ) -> Option<String> {
        *budget = budget.checked_sub(word.len())?;
        let mut out = String::new();
        let mut rest = word;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let Some(len) = rest[start..].find('}') else {
                rest = &rest[start..];
                break;
            };
            let inner = &rest[start + 2..start + len];
            let (setting, kind) = inner.split_once(':').unwrap_or((inner, ""));
            let key = setting_name(setting);
            let value = vars
                .get(&key)
                .or_else(|| self.builtins.get(&key))
                .cloned()
                .unwrap_or_default();
            *budget = budget.checked_sub(value.len())?;
            out.push_str(&match kind {
                "hexhyp" => value.replace(':', "-"),
                "hexraw" => value.replace(':', ""),
                _ => value,
            });
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

/// "net0/mac", "netX/ip", "smbios/uuid" → "mac", "ip", "uuid"; a type suffix goes too.
fn setting_name(name: &str) -> String {
    let name = name.split(':').next().unwrap_or(name);
    name.rsplit('/').next().unwrap_or(name).to_string()
}

/// The command name and the rest of its words.
fn options(words: &[String]) -> (String, Vec<String>) {
    match words.split_first() {
        Some((name, rest)) => (name.clone(), rest.to_vec()),
        None => (String::new(), Vec::new()),
    }
}

/// The words that are not options: `--name VALUE` pairs and `--flag`s removed, up to a
/// `--` or the first plain word (after which options are arguments, e.g. a kernel's).
fn positional(args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 8] = [
        "--name",
        "--timeout",
        "--default",
        "--menu",
        "--key",
        "--retimeout",
        "--form",
        "--ext",
    ];
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with("--") {
            break;
        }
        i += if WITH_VALUE.contains(&arg.split('=').next().unwrap_or(arg)) && !arg.contains('=') {
            2
        } else {
            1
        };
    }
    args.get(i..).map(<[String]>::to_vec).unwrap_or_default()
}

#[cfg(test)]
#[path = "ipxe_tests.rs"]
mod tests;
