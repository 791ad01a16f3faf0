//! test / [: evaluate file, string and integer conditions (! -a -o, unary and binary tests).
use std::ffi::OsString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

pub fn main_bracket(args: &[OsString]) -> i32 {
    match args.split_last() {
        Some((last, rest)) if last == "]" => main(rest),
        _ => {
            crate::warn!("[: missing ']'");
            2
        }
    }
}

pub fn main(args: &[OsString]) -> i32 {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut eval = Eval {
        words: &words,
        pos: 0,
    };
    match eval.or_expr() {
        Ok(v) if eval.pos == words.len() => i32::from(!v),
        Ok(_) => {
            crate::warn!("test: extra argument '{}'", words[eval.pos]);
            2
        }
        Err(msg) => {
            crate::warn!("test: {msg}");
            2
        }
    }
}

struct Eval<'a> {
    words: &'a [String],
    pos: usize,
}

impl Eval<'_> {
    fn peek(&self, ahead: usize) -> Option<&str> {
        self.words.get(self.pos + ahead).map(|s| s.as_str())
    }

    fn take(&mut self) -> Result<&str, String> {
        let w = self
            .words
            .get(self.pos)
            .ok_or_else(|| "argument expected".to_string())?;
        self.pos += 1;
        Ok(w)
    }

    fn or_expr(&mut self) -> Result<bool, String> {
        let mut v = self.and_expr()?;
        while self.peek(0) == Some("-o") {
            self.pos += 1;
            let rhs = self.and_expr()?;
            v = v || rhs;
        }
        Ok(v)
    }

    fn and_expr(&mut self) -> Result<bool, String> {
        let mut v = self.not_expr()?;
        while self.peek(0) == Some("-a") {
            self.pos += 1;
            let rhs = self.not_expr()?;
            v = v && rhs;
        }
        Ok(v)
    }

    fn not_expr(&mut self) -> Result<bool, String> {
        if self.peek(0) == Some("!") && self.peek(1).is_some() {
            self.pos += 1;
            return Ok(!self.not_expr()?);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, String> {
        if self.peek(0) == Some("(") {
            self.pos += 1;
            let v = self.or_expr()?;
            if self.take()? != ")" {
                return Err("missing ')'".into());
            }
            return Ok(v);
        }
        // A binary operator in second position wins over a unary reading of the first word.
        if let Some(op) = self.peek(1) {
            if is_binary(op) && self.peek(2).is_some() {
                let lhs = self.take()?.to_string();
                let op = self.take()?.to_string();
                let rhs = self.take()?.to_string();
                return binary(&lhs, &op, &rhs);
            }
        }
        let first = self.take()?.to_string();
        if first.len() == 2 && first.starts_with('-') && self.peek(0).is_some() {
            let operand = self.take()?.to_string();
            return unary(&first, &operand);
        }
        Ok(!first.is_empty())
    }
}

fn is_binary(op: &str) -> bool {
    matches!(
        op,
        "=" | "==" | "!=" | "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" | "-nt" | "-ot"
    )
}

fn int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s}: integer expression expected"))
}

fn binary(lhs: &str, op: &str, rhs: &str) -> Result<bool, String> {
    let mtime = |p: &str| std::fs::metadata(p).map(|m| m.mtime()).ok();
    Ok(match op {
        "=" | "==" => lhs == rhs,
        "!=" => lhs != rhs,
        "-eq" => int(lhs)? == int(rhs)?,
        "-ne" => int(lhs)? != int(rhs)?,
        "-lt" => int(lhs)? < int(rhs)?,
        "-le" => int(lhs)? <= int(rhs)?,
        "-gt" => int(lhs)? > int(rhs)?,
        "-ge" => int(lhs)? >= int(rhs)?,
        "-nt" => mtime(lhs) > mtime(rhs),
        _ => mtime(lhs) < mtime(rhs),
    })
}

fn unary(op: &str, arg: &str) -> Result<bool, String> {
    let meta = std::fs::metadata(arg);
    let access = |mode| rustix::fs::access(arg, mode).is_ok();
    Ok(match op {
        "-n" => !arg.is_empty(),
        "-z" => arg.is_empty(),
        "-e" => meta.is_ok(),
        "-f" => meta.map(|m| m.is_file()).unwrap_or(false),
        "-d" => meta.map(|m| m.is_dir()).unwrap_or(false),
        "-b" => meta
            .map(|m| m.file_type().is_block_device())
            .unwrap_or(false),
        "-c" => meta
            .map(|m| m.file_type().is_char_device())
            .unwrap_or(false),
        "-p" => meta.map(|m| m.file_type().is_fifo()).unwrap_or(false),
        "-S" => meta.map(|m| m.file_type().is_socket()).unwrap_or(false),
        "-s" => meta.map(|m| m.len() > 0).unwrap_or(false),
        "-L" | "-h" => std::fs::symlink_metadata(arg)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false),
        "-r" => access(rustix::fs::Access::READ_OK),
        "-w" => access(rustix::fs::Access::WRITE_OK),
        "-x" => access(rustix::fs::Access::EXEC_OK),
        "-t" => match arg {
            "0" => rustix::termios::isatty(rustix::stdio::stdin()),
            "1" => rustix::termios::isatty(rustix::stdio::stdout()),
            "2" => rustix::termios::isatty(rustix::stdio::stderr()),
            _ => false,
        },
        _ => return Err(format!("{op}: unary operator expected")),
    })
}
