//! Running parsed commands: lists, and-or chains, pipelines, compound commands and programs.
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::shell::run::redirect::Saved;
use crate::shell::syntax::parser::{AndOr, Command as Cmd, List, Pipeline, Stage};
use crate::shell::{Flow, Shell};
use crate::warn;

/// Applets cheap and safe enough to run inside the shell process (no exit, no global state).
const IN_PROCESS_APPLETS: [&str; 6] = ["echo", "printf", "test", "[", "true", "false"];

pub fn wait_status(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        _ => 1,
    }
}

fn this_exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into())
}

impl Shell {
    pub fn exec_list(&mut self, list: &List) -> Flow {
        for and_or in list {
            let flow = if and_or.background {
                self.exec_background(and_or)
            } else {
                self.exec_and_or(and_or)
            };
            if flow != Flow::Normal {
                return flow;
            }
        }
        Flow::Normal
    }

    fn exec_background(&mut self, and_or: &AndOr) -> Flow {
        // Whole and-or chain runs in a child shell; we do not wait for it.
        let src = and_or_source(and_or);
        match self.subshell_command(&src).spawn() {
            Ok(child) => {
                self.last_background = Some(child.id());
                self.last_status = 0;
                if self.interactive {
                    warn!("[{}]", child.id());
                }
                self.jobs.push(child);
            }
            Err(e) => {
                warn!(
                    "sh: cannot start background job: {}",
                    crate::util::reason(&e)
                );
                self.last_status = 1;
            }
        }
        Flow::Normal
    }

    fn exec_and_or(&mut self, and_or: &AndOr) -> Flow {
        let chained = !and_or.rest.is_empty();
        if chained {
            self.condition_depth += 1;
        }
        let mut flow = self.exec_pipeline(&and_or.first);
        for (i, (is_and, pipeline)) in and_or.rest.iter().enumerate() {
            if flow != Flow::Normal {
                break;
            }
            if (self.last_status == 0) != *is_and {
                continue;
            }
            if i + 1 == and_or.rest.len() {
                self.condition_depth -= 1;
                flow = self.exec_pipeline(pipeline);
                self.condition_depth += 1;
            } else {
                flow = self.exec_pipeline(pipeline);
            }
        }
        if chained {
            self.condition_depth -= 1;
        }
        if flow == Flow::Normal
            && self.errexit
            && self.last_status != 0
            && self.condition_depth == 0
            && !and_or.first.negate
        {
            return Flow::Exit(self.last_status);
        }
        flow
    }

    fn exec_pipeline(&mut self, p: &Pipeline) -> Flow {
        let flow = if p.stages.len() == 1 {
            self.exec_stage(&p.stages[0])
        } else {
            self.last_status = self.run_pipeline(&p.stages);
            Flow::Normal
        };
        if p.negate {
            self.last_status = i32::from(self.last_status == 0);
        }
        flow
    }

    /// Start every stage as a child connected by pipes; the status is the last stage's.
    fn run_pipeline(&mut self, stages: &[Stage]) -> i32 {
        let mut children: Vec<Option<Child>> = Vec::new();
        let mut prev_read: Option<std::os::fd::OwnedFd> = None;
        for (i, stage) in stages.iter().enumerate() {
            let mut guard = Saved::new();
            let mut next_read = None;
            let setup = (|| -> std::io::Result<()> {
                if let Some(r) = prev_read.take() {
                    guard.replace(0, &r)?;
                }
                if i + 1 < stages.len() {
                    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
                    guard.replace(1, &w)?;
                    next_read = Some(r);
                }
                Ok(())
            })();
            if let Err(e) = setup {
                warn!("sh: pipe: {}", crate::util::reason(&e));
                drop(guard);
                break;
            }
            children.push(self.spawn_stage(stage));
            drop(guard);
            prev_read = next_read;
        }
        drop(prev_read);
        let mut status = 0;
        for child in children {
            status = match child {
                Some(mut c) => c.wait().map(wait_status).unwrap_or(1),
                None => 1,
            };
        }
        status
    }

    /// Start one pipeline stage without waiting: programs directly, everything else in a
    /// child shell that re-parses the stage's source.
    fn spawn_stage(&mut self, stage: &Stage) -> Option<Child> {
        if let Cmd::Simple { assigns, words } = &stage.command {
            // Decide on the unexpanded command word so `$(…)` in it runs only once; a
            // builtin reached through a variable is then run as a program.
            let first = words.first().map(|w| w.as_str()).unwrap_or("");
            let is_plain = !words.is_empty() && !self.is_shell_level(first);
            if is_plain && assigns.is_empty() {
                let argv = match self.expand_words(words).and_then(resolve_path_names) {
                    Ok(a) => a,
                    Err(msg) => {
                        warn!("sh: {msg}");
                        return None;
                    }
                };
                let guard = match self.apply_redirs(&stage.redirs) {
                    Ok(g) => g,
                    Err(msg) => {
                        warn!("sh: {msg}");
                        return None;
                    }
                };
                let child = self.spawn_program(&argv, &[]);
                drop(guard);
                return child.ok();
            }
        }
        match self.subshell_command(&stage.source).spawn() {
            Ok(c) => Some(c),
            Err(e) => {
                warn!("sh: cannot start subshell: {}", crate::util::reason(&e));
                None
            }
        }
    }

    /// Builtins, functions and in-process applets must run in the shell itself.
    fn is_shell_level(&self, name: &str) -> bool {
        crate::shell::run::builtins::is_builtin(name) || self.functions.contains_key(name)
    }

    pub fn expand_words(&mut self, words: &[String]) -> Result<Vec<String>, String> {
        let mut argv = Vec::new();
        for w in words {
            argv.extend(self.expand_fields(w)?);
        }
        Ok(argv)
    }

    /// A child shell running `src`, seeing all our variables (exported or not), params and
    /// functions (their definitions are replayed before `src`).
    pub fn subshell_command(&self, src: &str) -> Command {
        let mut script = String::new();
        for (_, definition) in self.functions.values() {
            script.push_str(definition);
            script.push('\n');
        }
        script.push_str(src);
        let src = script.as_str();
        let mut c = Command::new(this_exe());
        c.arg0("sh");
        if self.errexit {
            c.arg("-e");
        }
        c.arg("-c").arg(src).arg(&self.arg0).args(&self.params);
        c.env_clear().envs(&self.vars);
        self.prepare_child(&mut c);
        c
    }

    /// Children of an interactive shell must not inherit its blocked Ctrl-C.
    fn prepare_child(&self, cmd: &mut Command) {
        if self.interactive {
            crate::sys::unblock_job_signals_in_child(cmd);
        }
    }

    /// `$(…)`: run in a child shell, capture stdout without trailing newlines.
    pub fn command_output(&mut self, src: &str) -> String {
        self.substitutions += 1;
        let mut cmd = self.subshell_command(src);
        cmd.stdout(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                warn!(
                    "sh: cannot run command substitution: {}",
                    crate::util::reason(&e)
                );
                self.last_status = 1;
                return String::new();
            }
        };
        let mut out = Vec::new();
        if let Some(mut pipe) = child.stdout.take() {
            let _ = pipe.read_to_end(&mut out);
        }
        self.last_status = child.wait().map(wait_status).unwrap_or(1);
        let text = String::from_utf8_lossy(&out);
        text.trim_end_matches('\n').to_string()
    }

    fn env_for_child(&self, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .vars
            .iter()
            .filter(|(k, _)| self.exported.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in extra {
            env.retain(|(old, _)| old != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// The Command for a program or applet name, resolving PATH from the shell's variables.
    fn program_command(&self, argv: &[String], extra_env: &[(String, String)]) -> Command {
        let name = &argv[0];
        let mut cmd = if crate::applets::is_applet(name) || name.contains('/') {
            crate::applets::command_for(std::ffi::OsStr::new(name))
        } else {
            match self.find_in_path(name) {
                Some(path) => {
                    let mut c = Command::new(path);
                    c.arg0(name);
                    c
                }
                None => Command::new(name),
            }
        };
        cmd.args(&argv[1..])
            .env_clear()
            .envs(self.env_for_child(extra_env));
        self.prepare_child(&mut cmd);
        cmd
    }

    pub fn find_in_path(&self, name: &str) -> Option<std::path::PathBuf> {
        let path = self.get_var("PATH").unwrap_or_default();
        let found = crate::util::path::search_path(&path, name).next();
        found
    }

    fn spawn_program(
        &mut self,
        argv: &[String],
        extra_env: &[(String, String)],
    ) -> std::io::Result<Child> {
        if self.xtrace {
            warn!("+ {}", argv.join(" "));
        }
        let name = &argv[0];
        if !name.contains('/')
            && !crate::applets::is_applet(name)
            && self.find_in_path(name).is_none()
        {
            warn!("sh: {name}: not found");
            return Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        }
        match self.program_command(argv, extra_env).spawn() {
            Err(e) if e.raw_os_error() == Some(8) => {
                // No #! line: POSIX says run it as a shell script.
                let mut c = Command::new(this_exe());
                c.arg0("sh")
                    .args(argv)
                    .env_clear()
                    .envs(self.env_for_child(extra_env));
                self.prepare_child(&mut c);
                c.spawn()
            }
            Err(e) => {
                warn!("sh: {name}: {}", crate::util::reason(&e));
                Err(e)
            }
            ok => ok,
        }
    }

    /// Run a program in the foreground and return its status (127 not found, 126 not runnable).
    pub fn run_program(&mut self, argv: &[String], extra_env: &[(String, String)]) -> i32 {
        match self.spawn_program(argv, extra_env) {
            Ok(mut child) => {
                let status = child.wait().map(wait_status).unwrap_or(1);
                if self.interactive && status == 128 + 2 {
                    warn!("");
                }
                status
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 127,
            Err(_) => 126,
        }
    }

    /// `exec PROGRAM`: replace the shell.
    pub fn exec_program(&mut self, argv: &[String]) -> i32 {
        let err = self.program_command(argv, &[]).exec();
        warn!("sh: exec: {}: {}", argv[0], crate::util::reason(&err));
        if err.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        }
    }

    pub fn exec_stage(&mut self, stage: &Stage) -> Flow {
        match &stage.command {
            Cmd::Simple { assigns, words } => self.exec_simple(assigns, words, &stage.redirs),
            Cmd::Function { name, body } => {
                self.functions
                    .insert(name.clone(), ((**body).clone(), stage.source.clone()));
                self.last_status = 0;
                Flow::Normal
            }
            Cmd::Subshell { source } => {
                let guard = match self.apply_redirs(&stage.redirs) {
                    Ok(g) => g,
                    Err(msg) => return self.fail_redirect(&msg),
                };
                self.last_status = match self.subshell_command(source).status() {
                    Ok(s) => wait_status(s),
                    Err(_) => 1,
                };
                drop(guard);
                Flow::Normal
            }
            compound => {
                let guard = match self.apply_redirs(&stage.redirs) {
                    Ok(g) => g,
                    Err(msg) => return self.fail_redirect(&msg),
                };
                let flow = self.exec_compound(compound);
                drop(guard);
                flow
            }
        }
    }

    pub(super) fn fail_redirect(&mut self, msg: &str) -> Flow {
        warn!("sh: {msg}");
        self.last_status = 1;
        Flow::Normal
    }

    fn exec_simple(
        &mut self,
        assigns: &[(String, String)],
        words: &[String],
        redirs: &[crate::shell::syntax::parser::Redir],
    ) -> Flow {
        let substitutions_before = self.substitutions;
        let mut values = Vec::new();
        for (name, raw) in assigns {
            match self.expand_single(raw) {
                Ok(v) => values.push((name.clone(), v)),
                Err(msg) => return self.expansion_failed(&msg),
            }
        }
        let argv = match self.expand_words(words) {
            Ok(a) => a,
            Err(msg) => return self.expansion_failed(&msg),
        };
        let argv = match resolve_path_names(argv) {
            Ok(a) => a,
            Err(msg) => {
                warn!("{msg}");
                self.last_status = 1;
                return Flow::Normal;
            }
        };
        if argv.is_empty() {
            // Status of a bare assignment is that of its last command substitution, if any.
            let status = if self.substitutions != substitutions_before {
                self.last_status
            } else {
                0
            };
            for (k, v) in &values {
                self.set_var(k, v);
            }
            if let Err(msg) = self.apply_redirs(redirs) {
                return self.fail_redirect(&msg);
            }
            self.last_status = status;
            return Flow::Normal;
        }
        let guard = match self.apply_redirs(redirs) {
            Ok(g) => g,
            Err(msg) => return self.fail_redirect(&msg),
        };
        let name = argv[0].as_str();
        let flow = if let Some((body, _)) = self.functions.get(name).cloned() {
            self.call_function(&body, &argv[1..])
        } else if crate::shell::run::builtins::is_builtin(name) {
            for (k, v) in &values {
                self.set_var(k, v);
            }
            if self.xtrace {
                warn!("+ {}", argv.join(" "));
            }
            self.run_builtin(&argv, guard)
        } else if IN_PROCESS_APPLETS.contains(&name) && values.is_empty() {
            let args: Vec<OsString> = argv[1..].iter().map(OsString::from).collect();
            self.last_status = crate::applets::dispatch(name, &args).unwrap_or(127);
            Flow::Normal
        } else {
            self.last_status = self.run_program(&argv, &values);
            Flow::Normal
        };
        flow
    }

    pub(super) fn expansion_failed(&mut self, msg: &str) -> Flow {
        warn!("sh: {msg}");
        self.last_status = 1;
        if self.interactive {
            Flow::Normal
        } else {
            Flow::Exit(1)
        }
    }

    fn call_function(&mut self, body: &Stage, args: &[String]) -> Flow {
        let saved = std::mem::replace(&mut self.params, args.to_vec());
        let flow = self.exec_stage(body);
        self.params = saved;
        match flow {
            Flow::Return(code) => {
                self.last_status = code;
                Flow::Normal
            }
            other => other,
        }
    }
}

/// Source text of an and-or chain, rebuilt from its stages.
/// Commands whose operands are files: their operands may be kboot path names
/// (`cat sda1:/etc/fstab`, `cp http://srv/vmlinuz /tmp/`), resolved before they run.
/// Other commands get their words unchanged, so `mount -t nfs srv:/x /mnt` or
/// `echo http://…` mean what they always meant.
const PATH_COMMANDS: &[&str] = &[
    "cat",
    "cd",
    "cp",
    "hexdump",
    "head",
    "kexec",
    "ls",
    "md5sum",
    "more",
    "sha256sum",
    "sort",
    "stat",
    "tail",
    "wc",
];

fn resolve_path_names(mut argv: Vec<String>) -> Result<Vec<String>, String> {
    let Some(command) = argv.first().cloned() else {
        return Ok(argv);
    };
    if !PATH_COMMANDS.contains(&command.as_str()) {
        return Ok(argv);
    }
    let system = &crate::pathname::REAL_SYSTEM;
    let mut fetching = None;
    for arg in argv.iter_mut().skip(1) {
        // `--initrd=URL`: the value of a long option may be a path name too.
        let (option, value) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (format!("{o}="), v.to_string()),
            _ if arg.starts_with('-') => continue,
            _ => (String::new(), arg.clone()),
        };
        let Some(name) = crate::pathname::special(&value, system) else {
            continue;
        };
        let fetching = fetching.get_or_insert_with(crate::pathname::Fetching::default);
        let local = name
            .and_then(|n| crate::pathname::resolve(&n, fetching))
            .map_err(|e| format!("{command}: {e}"))?;
        *arg = format!("{option}{}", local.to_string_lossy());
    }
    Ok(argv)
}

fn and_or_source(a: &AndOr) -> String {
    let pipe = |p: &Pipeline| {
        let text = p
            .stages
            .iter()
            .map(|s| s.source.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        if p.negate {
            format!("! {text}")
        } else {
            text
        }
    };
    let mut s = pipe(&a.first);
    for (is_and, p) in &a.rest {
        s.push_str(if *is_and { " && " } else { " || " });
        s.push_str(&pipe(p));
    }
    s
}
