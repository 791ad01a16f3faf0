//! wget: fetch an http:// or ftp:// URL into a file (-O FILE, "-" for stdout), following
//! up to 5 HTTP redirects; progress on stderr unless -q; -T SECONDS per connect or read.
use std::ffi::OsString;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::net::http::{fetch, parse_url, Transfer};
use crate::util::Parser;

const USAGE: &str = "usage: wget [-q] [-O FILE] [-T SECONDS] http://HOST[:PORT]/PATH | ftp://HOST/PATH\nDownload a file over plain HTTP or anonymous FTP.";

pub fn main(args: &[OsString]) -> i32 {
    let mut output: Option<String> = None;
    let mut quiet = false;
    let mut timeout = 30u64;
    let ops = match Parser::new("wget", USAGE, args).parse(|p, c| {
        match c {
            'O' => output = Some(p.value()?),
            'q' => quiet = true,
            'T' => timeout = p.number()?,
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let Some(first) = ops.first() else {
        return Parser::usage_error("wget", USAGE, "missing URL", 1);
    };
    let url = match parse_url(&first.to_string_lossy()) {
        Ok(u) => u,
        Err(msg) => return fail(&msg),
    };
    let name = output.unwrap_or_else(|| default_name(&url.path));
    if !quiet {
        crate::warn!("Connecting to {}:{}", url.host, url.port);
    }
    let started = Instant::now();
    let mut progress =
        |done: u64, total: Option<u64>| crate::util::fmt::progress_line(&name, done, total);
    let mut transfer = Transfer {
        timeout: Duration::from_secs(timeout.max(1)),
        progress: if quiet || name == "-" {
            None
        } else {
            Some(&mut progress)
        },
        ..Transfer::default()
    };
    let result = if name == "-" {
        let mut out = std::io::stdout().lock();
        fetch(&url, &mut out, &mut transfer)
            .and_then(|n| out.flush().map(|_| n).map_err(|e| e.to_string()))
    } else {
        // Written beside the target and renamed, so a failed download leaves no half file.
        let partial = format!("{name}.part");
        let written = std::fs::File::create(&partial)
            .map_err(|e| format!("{partial}: {}", crate::util::reason(&e)))
            .and_then(|mut f| fetch(&url, &mut f, &mut transfer));
        match written.and_then(|n| {
            std::fs::rename(&partial, &name)
                .map(|_| n)
                .map_err(|e| format!("{name}: {}", crate::util::reason(&e)))
        }) {
            Ok(n) => Ok(n),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    };
    match result {
        Ok(n) if !quiet && name != "-" => {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            crate::util::fmt::end_progress_line();
            crate::warn!(
                "saved '{name}' ({n} bytes in {secs:.1} s, {})",
                crate::util::fmt::rate(n, secs)
            );
            0
        }
        Ok(_) => 0,
        Err(msg) if !quiet => {
            crate::util::fmt::end_progress_line();
            fail(&msg)
        }
        Err(msg) if msg.contains("Broken pipe") && name == "-" => 141,
        Err(msg) => fail(&msg),
    }
}

fn default_name(path: &str) -> String {
    let last = path
        .split('?')
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("");
    if last.is_empty() {
        "index.html".into()
    } else {
        last.to_string()
    }
}

fn fail(msg: &str) -> i32 {
    crate::warn!("wget: {msg}");
    1
}
