//! Shell builtins: commands that change the shell itself (cd, export, set, read, exit, …).
use std::io::Write;

use crate::shell::run::redirect::Saved;
use crate::shell::{Flow, Shell};
use crate::warn;

const BUILTINS: [&str; 20] = [
    ".", ":", "break", "cd", "command", "continue", "eval", "exec", "exit", "export", "local",
    "pwd", "read", "return", "set", "shift", "source", "unset", "wait", "umask",
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

fn loop_count(arg: Option<&String>) -> Result<u32, String> {
    match arg {
        None => Ok(1),
        Some(a) => a
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{a}: loop count out of range")),
    }
}

impl Shell {
    pub fn run_builtin(&mut self, argv: &[String], guard: Saved) -> Flow {
        let args = &argv[1..];
        let (status, flow) = match argv[0].as_str() {
            ":" => (0, Flow::Normal),
            "cd" => (self.cd(args), Flow::Normal),
            "pwd" => match std::env::current_dir() {
                Ok(d) => (print_line(&d.display().to_string()), Flow::Normal),
                Err(e) => {
                    warn!("pwd: {}", crate::util::reason(&e));
                    (1, Flow::Normal)
                }
            },
            "export" | "local" => (self.export(args, argv[0] == "export"), Flow::Normal),
            "unset" => (self.unset(args), Flow::Normal),
            "exit" | "return" | "break" | "continue" => self.leave(&argv[0], args),
            "shift" => (self.shift(args), Flow::Normal),
            "set" => (self.set(args), Flow::Normal),
            "." | "source" => self.source(args),
            "eval" => {
                let flow = self.run_source(&args.join(" "));
                (self.last_status, flow)
            }
            "exec" => {
                if args.is_empty() {
                    guard.keep();
                    return Flow::Normal;
                }
                let status = self.exec_program(args);
                (status, Flow::Normal)
            }
            "command" => self.command(args),
            "read" => (self.read(args), Flow::Normal),
            "wait" => (self.wait_jobs(), Flow::Normal),
            "umask" => (self.umask(args), Flow::Normal),
            other => {
                warn!("sh: {other}: not a builtin");
                (1, Flow::Normal)
            }
        };
        self.last_status = status;
        flow
    }

    fn unset(&mut self, args: &[String]) -> i32 {
        for name in args.iter().filter(|a| !a.starts_with('-')) {
            self.vars.remove(name);
            self.exported.remove(name);
            self.functions.remove(name);
        }
        0
    }

    /// `exit`/`return [N]` (N defaults to the last status, 2 if not a number) and
    /// `break`/`continue [N]` (nothing outside a loop).
    fn leave(&self, name: &str, args: &[String]) -> (i32, Flow) {
        let code = || {
            args.first()
                .map(|a| a.parse().unwrap_or(2))
                .unwrap_or(self.last_status)
        };
        match name {
            "exit" => (code(), Flow::Exit(code())),
            "return" => (code(), Flow::Return(code())),
            _ => match loop_count(args.first()) {
                Ok(_) if self.loop_depth == 0 => (0, Flow::Normal),
                Ok(n) if name == "break" => (0, Flow::Break(n)),
                Ok(n) => (0, Flow::Continue(n)),
                Err(msg) => {
                    warn!("sh: {name}: {msg}");
                    (1, Flow::Normal)
                }
            },
        }
    }

    fn shift(&mut self, args: &[String]) -> i32 {
        let n = args.first().and_then(|a| a.parse().ok()).unwrap_or(1usize);
        if n > self.params.len() {
            warn!("sh: shift: can't shift that many");
            1
        } else {
            self.params.drain(..n);
            0
        }
    }

    fn cd(&mut self, args: &[String]) -> i32 {
        let target = match args.first().map(|s| s.as_str()) {
            None => self.get_var("HOME").unwrap_or_else(|| "/".into()),
            Some("-") => self.get_var("OLDPWD").unwrap_or_else(|| ".".into()),
            Some(dir) => dir.to_string(),
        };
        let old = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        match std::env::set_current_dir(&target) {
            Ok(()) => {
                let new = std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or(target);
                self.set_var("OLDPWD", &old);
                self.set_var("PWD", &new);
                0
            }
            Err(e) => {
                warn!("sh: cd: {target}: {}", crate::util::reason(&e));
                1
            }
        }
    }

    fn export(&mut self, args: &[String], export: bool) -> i32 {
        if args.is_empty() || args == ["-p"] {
            let mut names: Vec<&String> = self.exported.iter().collect();
            names.sort();
            let mut out = String::new();
            for n in names {
                out.push_str(&format!(
                    "export {n}='{}'\n",
                    self.vars
                        .get(n)
                        .cloned()
                        .unwrap_or_default()
                        .replace('\'', "'\\''")
                ));
            }
            return print_text(&out);
        }
        for a in args {
            let (name, value) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (a.as_str(), None),
            };
            if !crate::shell::syntax::parser::is_name(name) {
                warn!("sh: export: {name}: bad variable name");
                return 1;
            }
            if let Some(v) = value {
                self.set_var(name, v);
            }
            if export {
                self.exported.insert(name.to_string());
            }
        }
        0
    }

    fn set(&mut self, args: &[String]) -> i32 {
        if args.is_empty() {
            let mut names: Vec<(&String, &String)> = self.vars.iter().collect();
            names.sort();
            let text: String = names
                .iter()
                .map(|(k, v)| format!("{k}='{}'\n", v.replace('\'', "'\\''")))
                .collect();
            return print_text(&text);
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a == "--" {
                self.params = args[i + 1..].to_vec();
                return 0;
            }
            let (on, flags) = match (a.strip_prefix('-'), a.strip_prefix('+')) {
                (Some(f), _) => (true, f),
                (_, Some(f)) => (false, f),
                _ => {
                    self.params = args[i..].to_vec();
                    return 0;
                }
            };
            for c in flags.chars() {
                match c {
                    'e' => self.errexit = on,
                    'x' => self.xtrace = on,
                    'u' | 'f' | 'm' | 'o' => {}
                    _ => {
                        warn!("sh: set: -{c}: invalid option");
                        return 2;
                    }
                }
            }
            i += 1;
        }
        0
    }

    fn source(&mut self, args: &[String]) -> (i32, Flow) {
        let Some(file) = args.first() else {
            warn!("sh: .: filename argument required");
            return (2, Flow::Normal);
        };
        let path = if file.contains('/') {
            Some(file.into())
        } else {
            self.find_in_path(file).or_else(|| Some(file.into()))
        };
        let text = match path.map(std::fs::read_to_string) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                warn!("sh: .: {file}: {}", crate::util::reason(&e));
                return (1, Flow::Normal);
            }
            None => return (1, Flow::Normal),
        };
        let saved =
            (args.len() > 1).then(|| std::mem::replace(&mut self.params, args[1..].to_vec()));
        let flow = self.run_source(&text);
        if let Some(p) = saved {
            self.params = p;
        }
        match flow {
            Flow::Return(code) => (code, Flow::Normal),
            other => (self.last_status, other),
        }
    }

    fn command(&mut self, args: &[String]) -> (i32, Flow) {
        match args.first().map(|s| s.as_str()) {
            Some("-v") | Some("-V") => {
                let mut status = 0;
                for name in &args[1..] {
                    let found = if is_builtin(name)
                        || self.functions.contains_key(name)
                        || crate::applets::is_applet(name)
                    {
                        Some(name.clone())
                    } else {
                        self.find_in_path(name).map(|p| p.display().to_string())
                    };
                    match found {
                        Some(f) => {
                            print_line(&f);
                        }
                        None => status = 1,
                    }
                }
                (status, Flow::Normal)
            }
            Some(_) => (self.run_program(args, &[]), Flow::Normal),
            None => (0, Flow::Normal),
        }
    }

    /// `read [-r] [-p PROMPT] NAME...`: one line from fd 0, byte by byte so nothing after the
    /// newline is consumed; fields split on IFS, the last name takes the rest.
    fn read(&mut self, args: &[String]) -> i32 {
        let mut raw = false;
        let mut names = Vec::new();
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "-r" => raw = true,
                "-p" => {
                    i += 1;
                    if let Some(p) = args.get(i) {
                        let _ = write!(std::io::stderr(), "{p}");
                    }
                }
                n => names.push(n.to_string()),
            }
            i += 1;
        }
        if names.is_empty() {
            names.push("REPLY".into());
        }
        let mut line = Vec::new();
        let mut got_newline = false;
        let mut byte = [0u8; 1];
        loop {
            match rustix::io::read(rustix::stdio::stdin(), &mut byte) {
                Ok(0) => break,
                Ok(_) => {
                    if byte[0] == b'\n' {
                        if !raw && line.last() == Some(&b'\\') {
                            line.pop();
                            continue;
                        }
                        got_newline = true;
                        break;
                    }
                    line.push(byte[0]);
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => break,
            }
        }
        let mut text = String::from_utf8_lossy(&line).into_owned();
        if !raw {
            text = text.replace("\\", "");
        }
        let ifs = self.get_var("IFS").unwrap_or_else(|| " \t\n".into());
        let mut rest = text.trim_matches(|c| ifs.contains(c));
        for (n, name) in names.iter().enumerate() {
            if n + 1 == names.len() {
                self.set_var(name, rest);
            } else {
                let end = rest.find(|c| ifs.contains(c)).unwrap_or(rest.len());
                self.set_var(name, &rest[..end]);
                rest = rest[end..].trim_start_matches(|c| ifs.contains(c));
            }
        }
        if got_newline || !line.is_empty() {
            0
        } else {
            1
        }
    }

    fn umask(&mut self, args: &[String]) -> i32 {
        match args.first() {
            None => {
                let old = rustix::process::umask(rustix::fs::Mode::empty());
                rustix::process::umask(old);
                print_line(&format!("{:04o}", old.bits()))
            }
            Some(m) => match u32::from_str_radix(m, 8) {
                Ok(bits) if bits <= 0o777 => {
                    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(bits));
                    0
                }
                _ => {
                    warn!("sh: umask: {m}: invalid mode");
                    1
                }
            },
        }
    }
}

fn print_text(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn print_line(text: &str) -> i32 {
    print_text(&format!("{text}\n"))
}
