//! wget: fetch an http:// or ftp:// URL into a file (-O FILE, "-" for stdout), following
//! up to 5 HTTP redirects; progress on stderr unless -q; -T SECONDS per connect or read.
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::net::fetch::fetch;
use crate::net::transfer::Transfer;
use crate::net::url::parse_url;
use crate::pathname::{fetch_to, Fetching};
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
    let timeout = Duration::from_secs(timeout.max(1));
    let result = if name == "-" {
        let mut out = std::io::stdout().lock();
        let mut transfer = Transfer {
            timeout,
            ..Transfer::default()
        };
        fetch(&url, &mut out, &mut transfer)
            .and_then(|n| out.flush().map(|_| n).map_err(|e| e.to_string()))
    } else {
        // The target is on disk, not in RAM: no size limit.
        let fetching = Fetching {
            limit: u64::MAX,
            progress: !quiet,
            timeout,
        };
        fetch_to(&url, Path::new(&name), &fetching)
    };
    match result {
        Ok(n) if !quiet && name != "-" => {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            crate::warn!(
                "saved '{name}' ({n} bytes in {secs:.1} s, {})",
                crate::util::fmt::rate(n, secs)
            );
            0
        }
        Ok(_) => 0,
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
