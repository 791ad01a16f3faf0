//! GRUB2 grub.cfg interpreter: variables, conditions, menuentry/submenu, source/configfile, blscfg.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::boot::config::grub::cond::{eval_test, FileTests};
use crate::boot::config::grub::expand::{expand, split_device};
use crate::boot::config::grub::lexer::Word;
use crate::boot::config::grub::parser::{Node, Parser};
use crate::boot::entry::{BootEntry, EntryKind, FsRef, Parsed, Warning, MAX_ENTRIES};
use crate::boot::fs::{normalize, read_text, ConfigFs};

mod cmd;
mod cond;
mod expand;
mod lexer;
mod parser;

/// `source`/`configfile` nesting limit and total number of included files per parse.
const MAX_INCLUDE_DEPTH: usize = 16;
const MAX_INCLUDES: usize = 256;
/// Commands executed per parse; bounds the work a hostile config can cause.
const MAX_STEPS: usize = 2_000_000;
/// Bytes all variable expansions of one parse may produce; real configs need well under
/// 1 MiB, and variables that double each other would otherwise exhaust memory.
const MAX_EXPANDED_BYTES: usize = 16 << 20;
/// Function call nesting limit (recursion in a config would otherwise never end).
const MAX_CALL_DEPTH: usize = 16;

/// Variables GRUB itself defines that grub-mkconfig output tests. `grub_platform` is "pc"
/// unless the caller says otherwise (see `parse_grub_with`).
const BUILTIN_VARS: &[(&str, &str)] = &[
    ("feature_menuentry_id", "y"),
    ("feature_default_font_path", "y"),
    ("feature_all_video_module", "y"),
    ("feature_platform_search_hint", "y"),
    ("feature_timeout_style", "y"),
    ("feature_chainloader_bpb", "y"),
    ("feature_ntldr", "y"),
    ("feature_sigcheck", "y"),
    ("grub_platform", "pc"),
    ("grub_cpu", "i386"),
    ("lang", "C"),
];

/// Parses the grub.cfg at `path` on `fs`, following `source`/`configfile`/`blscfg`.
pub fn parse_grub(fs: &dyn ConfigFs, path: &Path) -> Parsed {
    parse_grub_with(fs, path, &[])
}

/// Like `parse_grub`, with extra initial variables (e.g. `("grub_platform", "efi")`).
pub fn parse_grub_with(fs: &dyn ConfigFs, path: &Path, initial: &[(&str, &str)]) -> Parsed {
    let config = normalize(Path::new("/"), path);
    let dir = config
        .parent()
        .unwrap_or(Path::new("/"))
        .to_string_lossy()
        .into_owned();
    let mut scope = Scope {
        vars: HashMap::new(),
        fsrefs: HashMap::new(),
        source: source_label(&config),
    };
    for (k, v) in BUILTIN_VARS.iter().chain(initial.iter()) {
        scope.vars.insert(k.to_string(), v.to_string());
    }
    scope.vars.insert("prefix".into(), dir.clone());
    scope.vars.insert("config_directory".into(), dir);
    scope
        .vars
        .insert("config_file".into(), config.to_string_lossy().into_owned());
    scope.vars.insert("root".into(), String::new());

    let mut shared = Shared {
        fs,
        warnings: Vec::new(),
        steps: 0,
        includes: 0,
        stack: Vec::new(),
        functions: HashMap::new(),
        call_depth: 0,
        menu_entries: 0,
        expansion_budget: MAX_EXPANDED_BYTES,
    };
    let mut level = Level {
        scope,
        pending: Vec::new(),
        entry: None,
    };
    shared.include(&mut level, &config, 0);
    let items = shared.collect(&level, &[]);

    let mut parsed = Parsed {
        entries: Vec::new(),
        warnings: std::mem::take(&mut shared.warnings),
        timeout_secs: None,
    };
    let source = level.scope.source.clone();
    parsed.timeout_secs = level
        .scope
        .vars
        .get("timeout")
        .and_then(|t| t.trim().parse::<u32>().ok());
    let default = level.scope.vars.get("default").cloned().unwrap_or_default();
    let spec: Vec<&str> = if default.trim().is_empty() {
        vec!["0"]
    } else {
        default.split('>').collect()
    };
    let chosen = items
        .iter()
        .position(|item| path_matches(&spec, &item.path));
    let mut entries: Vec<BootEntry> = items.into_iter().map(|item| item.entry).collect();
    match (chosen, entries.first_mut()) {
        (Some(index), _) => entries[index].is_default = true,
        (None, Some(first)) => {
            first.is_default = true;
            parsed.warn(
                &source,
                0,
                format!("default entry '{default}' not found; using the first entry"),
            );
        }
        (None, None) => {}
    }
    parsed.entries = entries;
    parsed
}

fn source_label(path: &Path) -> String {
    format!("grub: {}", path.display())
}

/// A menu position: index among its siblings, title and optional `--id`.
#[derive(Debug, Clone)]
struct MenuKey {
    index: usize,
    title: String,
    id: Option<String>,
}

struct Item {
    entry: BootEntry,
    path: Vec<MenuKey>,
}

/// GRUB's default: "2", "title", "id", or a '>'-separated path of those through submenus.
/// A spec naming a submenu selects its first entry.
fn path_matches(spec: &[&str], path: &[MenuKey]) -> bool {
    spec.len() <= path.len()
        && spec.iter().zip(path).all(|(part, key)| {
            let part = part.trim();
            part.parse::<usize>()
                .map(|n| n == key.index)
                .unwrap_or(false)
                || part == key.title
                || key.id.as_deref() == Some(part)
        })
}

#[derive(Clone)]
struct Scope {
    vars: HashMap<String, String>,
    /// Variables set by `search` (or `set root=`) that name a filesystem.
    fsrefs: HashMap<String, FsRef>,
    /// "grub: <file>" of the file being executed.
    source: String,
}

/// A menu entry or submenu seen while executing, evaluated after its level finished (as GRUB
/// runs entry bodies only when chosen, with the variables as the script left them).
enum Pending {
    Menu {
        title: String,
        id: Option<String>,
        body: Rc<[Node]>,
        submenu: bool,
        source: String,
        line: usize,
        /// The files being read where it was defined: reading one of them again from
        /// its body (`configfile /boot/grub/grub.cfg` in a submenu) is a loop.
        files: Rc<[PathBuf]>,
    },
    /// Already complete (BLS entries imported by `blscfg`).
    Ready(BootEntry),
}

#[derive(Default)]
struct EntryBuild {
    kernel: Option<(PathBuf, Option<FsRef>)>,
    initrds: Vec<PathBuf>,
    cmdline: String,
    chainload: Option<String>,
}

struct Level {
    scope: Scope,
    pending: Vec<Pending>,
    /// Some while executing a menu entry body.
    entry: Option<EntryBuild>,
}

struct Shared<'a> {
    fs: &'a dyn ConfigFs,
    warnings: Vec<Warning>,
    steps: usize,
    includes: usize,
    stack: Vec<PathBuf>,
    /// Function bodies by name; run when called (Ubuntu's `gfxmode` sets `$vt_handoff`).
    functions: HashMap<String, Rc<[Node]>>,
    call_depth: usize,
    menu_entries: usize,
    /// What is left of MAX_EXPANDED_BYTES.
    expansion_budget: usize,
}

impl Shared<'_> {
    /// Counts one more menu entry; false (with one warning) once there are too many.
    fn admit_entry(&mut self, scope: &Scope, line: usize) -> bool {
        self.menu_entries += 1;
        if self.menu_entries == MAX_ENTRIES + 1 {
            self.warn(
                scope,
                line,
                format!("more than {MAX_ENTRIES} menu entries; rest of the configuration ignored"),
            );
        }
        self.menu_entries <= MAX_ENTRIES
    }
}

struct LevelFiles<'a, 'b> {
    fs: &'a dyn ConfigFs,
    scope: &'b Scope,
}

impl FileTests for LevelFiles<'_, '_> {
    fn file_test(&self, op: char, path: &str) -> Option<bool> {
        let (_, path) = self.scope.split_device(path);
        match op {
            'd' => Some(self.fs.list_dir(&path).is_ok()),
            's' => Some(self.fs.read(&path).map(|b| !b.is_empty()).unwrap_or(false)),
            _ => Some(self.fs.is_file(&path)),
        }
    }
}

impl Scope {
    fn split_device(&self, text: &str) -> (Option<FsRef>, PathBuf) {
        split_device(
            text,
            self.vars.get("root").map(String::as_str),
            self.fsrefs.get("root"),
        )
    }
}

impl Shared<'_> {
    /// `words` expanded within the parse's budget; once it is spent, the rest of the
    /// configuration is ignored (like after MAX_STEPS commands).
    fn expand(&mut self, scope: &Scope, words: &[Word], line: usize) -> Vec<String> {
        if let Some(args) = expand(words, &scope.vars, &mut self.expansion_budget) {
            return args;
        }
        if self.steps < MAX_STEPS {
            let limit = MAX_EXPANDED_BYTES >> 20;
            let message = format!("variables expand to more than {limit} MiB; rest ignored");
            self.warn(scope, line, message);
            self.steps = MAX_STEPS;
        }
        Vec::new()
    }

    fn warn(&mut self, scope: &Scope, line: usize, message: impl Into<String>) {
        self.warnings
            .push(Warning::new(&scope.source, line, message));
    }

    /// Reads and executes another file in `level` (source semantics).
    fn include(&mut self, level: &mut Level, path: &Path, line: usize) {
        let path = normalize(Path::new("/"), path);
        if self.stack.contains(&path) {
            self.warn(
                &level.scope,
                line,
                format!("{}: source loop, not read again", path.display()),
            );
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH || self.includes >= MAX_INCLUDES {
            self.warn(
                &level.scope,
                line,
                format!(
                    "{}: too many nested or repeated includes, not read",
                    path.display()
                ),
            );
            return;
        }
        let text = match read_text(self.fs, &path) {
            Ok(text) => text,
            Err(err) => {
                let message = if self.stack.is_empty() {
                    // The warning is about this file already (`grub.cfg: I/O error`); the
                    // error names it too.
                    let text = err.to_string();
                    let named = format!("{}: ", path.display());
                    text.strip_prefix(&named).unwrap_or(&text).to_string()
                } else {
                    format!("cannot include: {err}")
                };
                self.warn(&level.scope, line, message);
                return;
            }
        };
        self.includes += 1;
        self.stack.push(path.clone());
        let outer_source = std::mem::replace(&mut level.scope.source, source_label(&path));
        let mut parser = Parser::new(&text);
        // Past the entry limit nothing more can be listed: the rest is not even parsed.
        while self.menu_entries <= MAX_ENTRIES {
            let Some(node) = parser.next_statement() else {
                break;
            };
            self.exec(level, std::slice::from_ref(&node));
        }
        for (line, message) in parser.take_problems() {
            self.warn(&level.scope, line, message);
        }
        level.scope.source = outer_source;
        self.stack.pop();
    }

    fn exec(&mut self, level: &mut Level, nodes: &[Node]) {
        for node in nodes {
            self.steps += 1;
            if self.steps == MAX_STEPS {
                self.warn(
                    &level.scope,
                    0,
                    "too many commands; rest of the configuration ignored",
                );
            }
            if self.steps >= MAX_STEPS {
                return;
            }
            match node {
                Node::Cmd { line, words } => {
                    let args = self.expand(&level.scope, words, *line);
                    self.command(level, &args, words, *line);
                }
                Node::If {
                    line,
                    arms,
                    otherwise,
                } => self.if_node(level, arms, otherwise, *line),
                Node::Menu {
                    line,
                    submenu,
                    args,
                    body,
                    complete,
                } => {
                    self.menu_node(level, *line, *submenu, args, body, *complete);
                }
                Node::Function { name, body, .. } => {
                    self.functions.insert(name.clone(), Rc::clone(body));
                }
                Node::Loop { line, keyword } => self.warn(
                    &level.scope,
                    *line,
                    format!("'{keyword}' loop not evaluated"),
                ),
            }
        }
    }

    fn if_node(
        &mut self,
        level: &mut Level,
        arms: &[(Vec<Node>, Vec<Node>)],
        otherwise: &[Node],
        line: usize,
    ) {
        for (cond, body) in arms {
            match self.condition(level, cond) {
                Some(true) => return self.exec(level, body),
                Some(false) => continue,
                None => {
                    self.warn(
                        &level.scope,
                        line,
                        "condition not evaluated; taking its branch",
                    );
                    return self.exec(level, body);
                }
            }
        }
        self.exec(level, otherwise);
    }

    /// A condition list is true when its last command succeeds; only tests are evaluated.
    fn condition(&mut self, level: &mut Level, cond: &[Node]) -> Option<bool> {
        let (last, before) = cond.split_last()?;
        self.exec(level, before);
        let Node::Cmd { words, line } = last else {
            return None;
        };
        let args = self.expand(&level.scope, words, *line);
        let files = LevelFiles {
            fs: self.fs,
            scope: &level.scope,
        };
        match args.first().map(String::as_str) {
            Some("[") => match args.split_last() {
                Some((close, inner)) if close == "]" => eval_test(&inner[1..], &files),
                _ => None,
            },
            Some("test") => eval_test(&args[1..], &files),
            Some("true") | Some("loadfont") | Some("insmod") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }
    }

    fn menu_node(
        &mut self,
        level: &mut Level,
        line: usize,
        submenu: bool,
        args: &[Word],
        body: &Rc<[Node]>,
        complete: bool,
    ) {
        let args = self.expand(&level.scope, args, line);
        let mut title = None;
        let mut id = None;
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--class" | "--users" | "--hotkey" | "--source" => {
                    iter.next();
                }
                "--id" => id = iter.next().cloned(),
                a if a.starts_with("--id=") => id = Some(a["--id=".len()..].to_string()),
                a if a.starts_with("--") => {}
                a if title.is_none() => title = Some(a.to_string()),
                _ => {}
            }
        }
        let Some(title) = title else {
            self.warn(&level.scope, line, "menu entry without a title; skipped");
            return;
        };
        // A cut-off entry may lack its initrd or options: not bootable as written. A cut-off
        // submenu still offers the entries that were complete.
        if !complete && !submenu {
            self.warn(
                &level.scope,
                line,
                format!("'{title}': file ends inside the entry; skipped"),
            );
            return;
        }
        if !self.admit_entry(&level.scope, line) {
            return;
        }
        let source = level.scope.source.clone();
        level.pending.push(Pending::Menu {
            title,
            id,
            body: Rc::clone(body),
            submenu,
            source,
            line,
            files: Rc::from(self.stack.as_slice()),
        });
    }

    /// Evaluates the entries a level defined, recursing into submenus.
    fn collect(&mut self, level: &Level, parent: &[MenuKey]) -> Vec<Item> {
        let mut items = Vec::new();
        for (index, pending) in level.pending.iter().enumerate() {
            match pending {
                Pending::Ready(entry) => {
                    let key = MenuKey {
                        index,
                        title: entry.label.clone(),
                        id: Some(entry.id.clone()),
                    };
                    let mut entry = entry.clone();
                    let mut path = parent.to_vec();
                    path.push(key);
                    entry.label = path
                        .iter()
                        .map(|k| k.title.as_str())
                        .collect::<Vec<_>>()
                        .join(">");
                    items.push(Item { entry, path });
                }
                Pending::Menu {
                    title,
                    id,
                    body,
                    submenu,
                    source,
                    line,
                    files,
                } => {
                    let mut path = parent.to_vec();
                    path.push(MenuKey {
                        index,
                        title: title.clone(),
                        id: id.clone(),
                    });
                    let mut scope = level.scope.clone();
                    scope.source = source.clone();
                    let mut inner = Level {
                        scope,
                        pending: Vec::new(),
                        entry: if *submenu {
                            None
                        } else {
                            Some(EntryBuild::default())
                        },
                    };
                    if self.stack.len() >= MAX_INCLUDE_DEPTH || path.len() > MAX_INCLUDE_DEPTH {
                        self.warn(
                            &inner.scope,
                            *line,
                            format!("'{title}': submenus nested too deep; skipped"),
                        );
                        continue;
                    }
                    let outer = std::mem::replace(&mut self.stack, files.to_vec());
                    self.exec(&mut inner, body);
                    self.stack = outer;
                    if *submenu || !inner.pending.is_empty() {
                        items.extend(self.collect(&inner, &path));
                    } else if let Some(entry) = self.finish_entry(&inner, &path, id) {
                        items.push(Item { entry, path });
                    }
                }
            }
        }
        items
    }

    fn finish_entry(
        &mut self,
        level: &Level,
        path: &[MenuKey],
        id: &Option<String>,
    ) -> Option<BootEntry> {
        let build = level.entry.as_ref()?;
        let label = path
            .iter()
            .map(|k| k.title.as_str())
            .collect::<Vec<_>>()
            .join(">");
        let (kernel, root_fs, kind) = match (&build.kernel, &build.chainload) {
            (Some((kernel, fsref)), _) => (kernel.clone(), fsref.clone(), EntryKind::Linux),
            (None, Some(target)) => (
                PathBuf::new(),
                level.scope.fsrefs.get("root").cloned(),
                EntryKind::Chainload {
                    target: target.clone(),
                },
            ),
            // fwsetup, halt, memtest via other loaders: nothing kexec can start.
            (None, None) => return None,
        };
        let mut entry = BootEntry::linux(&label, kernel, &level.scope.source);
        entry.initrds = build.initrds.clone();
        entry.cmdline = build.cmdline.clone();
        entry.root_fs = root_fs;
        entry.kind = kind;
        entry.id = id.clone().unwrap_or_else(|| label.clone());
        Some(entry)
    }
}
