//! Output and error conventions: buffered stdout, quiet exit on EPIPE, `applet: path: reason`.
use std::fmt::Display;
use std::io::{self, BufWriter, Stdout};

use crate::warn;

pub type Out = BufWriter<Stdout>;

pub fn stdout() -> Out {
    BufWriter::with_capacity(16 * 1024, io::stdout())
}

/// The error text without std's " (os error N)" suffix, like strerror.
pub fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// `applet: what: reason` on stderr.
pub fn warn_err(applet: &str, what: impl Display, e: &io::Error) {
    warn!("{applet}: {what}: {}", reason(e));
}

/// Turn an applet's result into its exit status; a closed pipe on stdout is a quiet exit.
pub fn finish(applet: &str, result: io::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 141,
        Err(e) => {
            warn!("{applet}: write error: {}", reason(&e));
            1
        }
    }
}

pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Open an input operand; "-" is stdin.
pub fn open_input(path: &std::ffi::OsStr) -> io::Result<Box<dyn io::Read>> {
    if path == "-" {
        Ok(Box::new(io::stdin()))
    } else {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.is_dir() {
            return Err(io::Error::from_raw_os_error(21));
        }
        Ok(Box::new(file))
    }
}

/// Operands, or "-" when there are none.
pub fn inputs_or_stdin(operands: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if operands.is_empty() {
        vec!["-".into()]
    } else {
        operands
    }
}

/// Split input into lines (without the newline), reading it all: text applets work on small files.
pub fn read_all(path: &std::ffi::OsStr) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    open_input(path)?.read_to_end(&mut buf)?;
    Ok(buf)
}

pub fn display_path(path: &std::ffi::OsStr) -> std::borrow::Cow<'_, str> {
    if path == "-" {
        "standard input".into()
    } else {
        path.to_string_lossy()
    }
}

/// Lines of a buffer without their newlines; a missing final newline is tolerated.
pub fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    if data.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == b'\n').collect()
}

/// Read every operand (or stdin) and hand back all lines; unreadable files are reported and
/// set `status` to `error_status` (sort uses 2, most tools 1).
pub fn read_inputs(
    applet: &str,
    files: Vec<std::ffi::OsString>,
    error_status: i32,
    status: &mut i32,
) -> Vec<u8> {
    let mut all = Vec::new();
    for f in inputs_or_stdin(files) {
        match read_all(&f) {
            Ok(mut d) => {
                if !d.is_empty() && !d.ends_with(b"\n") {
                    d.push(b'\n');
                }
                all.extend_from_slice(&d);
            }
            Err(e) => {
                warn_err(applet, display_path(&f), &e);
                *status = error_status;
            }
        }
    }
    all
}

/// Read each operand whole and hand it to `emit`, with `==> name <==` headers between
/// several files (head, tail). Unreadable files are reported and make the status 1.
pub fn for_each_file(
    applet: &str,
    files: &[std::ffi::OsString],
    quiet: bool,
    out: &mut impl std::io::Write,
    mut emit: impl FnMut(&mut dyn std::io::Write, &[u8]) -> io::Result<()>,
) -> io::Result<i32> {
    let mut status = 0;
    let headers = files.len() > 1 && !quiet;
    for (i, f) in files.iter().enumerate() {
        let data = match read_all(f) {
            Ok(d) => d,
            Err(e) => {
                out.flush()?;
                warn_err(applet, display_path(f), &e);
                status = 1;
                continue;
            }
        };
        if headers {
            writeln!(
                out,
                "{}==> {} <==",
                if i > 0 { "\n" } else { "" },
                display_path(f)
            )?;
        }
        emit(out, &data)?;
    }
    out.flush()?;
    Ok(status)
}
