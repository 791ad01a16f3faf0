//! dd: block copy with if= of= bs= ibs= obs= count= skip= seek= conv=notrunc,sync,fsync status=none.
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::Instant;

use crate::util::fmt::parse_size;
use crate::util::reason;

const USAGE: &str = "usage: dd [if=FILE] [of=FILE] [bs=N] [count=N] [skip=N] [seek=N] [conv=notrunc,sync,fsync] [status=none]\nCopy a file block by block (N takes K, M, G suffixes).";

struct Options {
    input: Option<String>,
    output: Option<String>,
    ibs: usize,
    obs: usize,
    count: Option<u64>,
    skip: u64,
    seek: u64,
    notrunc: bool,
    sync: bool,
    fsync: bool,
    quiet: bool,
}

fn parse(args: &[OsString]) -> Result<Options, String> {
    let mut o = Options {
        input: None,
        output: None,
        ibs: 512,
        obs: 512,
        count: None,
        skip: 0,
        seek: 0,
        notrunc: false,
        sync: false,
        fsync: false,
        quiet: false,
    };
    for a in args {
        let a = a.to_string_lossy();
        let (key, value) = a
            .split_once('=')
            .ok_or_else(|| format!("unrecognized operand '{a}'"))?;
        let num = || parse_size(value).ok_or_else(|| format!("invalid number: '{value}'"));
        match key {
            "if" => o.input = Some(value.to_string()),
            "of" => o.output = Some(value.to_string()),
            "bs" => {
                o.ibs = num()? as usize;
                o.obs = o.ibs;
            }
            "ibs" => o.ibs = num()? as usize,
            "obs" => o.obs = num()? as usize,
            "count" => o.count = Some(num()?),
            "skip" | "iseek" => o.skip = num()?,
            "seek" | "oseek" => o.seek = num()?,
            "conv" => {
                for c in value.split(',') {
                    match c {
                        "notrunc" => o.notrunc = true,
                        "sync" => o.sync = true,
                        "fsync" | "fdatasync" => o.fsync = true,
                        "noerror" => {}
                        _ => return Err(format!("invalid conversion: '{c}'")),
                    }
                }
            }
            "status" => o.quiet = value == "none",
            "iflag" | "oflag" => {}
            _ => return Err(format!("unrecognized operand '{a}'")),
        }
    }
    if o.ibs == 0 || o.obs == 0 {
        return Err("invalid number: block size must be positive".into());
    }
    Ok(o)
}

pub fn main(args: &[OsString]) -> i32 {
    if args.iter().any(|a| a == "--help") {
        return crate::util::finish("dd", writeln!(io::stdout(), "{USAGE}").map(|_| 0));
    }
    let o = match parse(args) {
        Ok(o) => o,
        Err(msg) => {
            crate::warn!("dd: {msg}");
            return 1;
        }
    };
    match copy(&o) {
        Ok(()) => 0,
        Err(msg) => {
            crate::warn!("dd: {msg}");
            1
        }
    }
}

/// The input, `skip` blocks in (seeking a file, reading and discarding a pipe).
fn open_input(o: &Options) -> Result<Box<dyn Read>, String> {
    Ok(match &o.input {
        Some(path) => {
            let mut f =
                File::open(path).map_err(|e| format!("failed to open '{path}': {}", reason(&e)))?;
            if o.skip > 0 {
                f.seek(SeekFrom::Start(o.skip.saturating_mul(o.ibs as u64)))
                    .map_err(|e| format!("{path}: cannot skip: {}", reason(&e)))?;
            }
            Box::new(f)
        }
        None => {
            let mut stdin = io::stdin();
            // A pipe cannot seek: read and discard.
            let mut left = o.skip.saturating_mul(o.ibs as u64);
            let mut buf = vec![0u8; o.ibs];
            while left > 0 {
                let n = stdin
                    .read(&mut buf[..left.min(o.ibs as u64) as usize])
                    .map_err(|e| reason(&e))?;
                if n == 0 {
                    break;
                }
                left -= n as u64;
            }
            Box::new(stdin)
        }
    })
}

/// The output, `seek` blocks in; a file is truncated there unless conv=notrunc.
fn open_output(o: &Options) -> Result<Box<dyn Write>, String> {
    Ok(match &o.output {
        Some(path) => {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(!o.notrunc && o.seek == 0)
                .open(path)
                .map_err(|e| format!("failed to open '{path}': {}", reason(&e)))?;
            if o.seek > 0 {
                let at = o.seek.saturating_mul(o.obs as u64);
                f.seek(SeekFrom::Start(at))
                    .map_err(|e| format!("{path}: cannot seek: {}", reason(&e)))?;
                if !o.notrunc && f.metadata().map(|m| m.is_file()).unwrap_or(false) {
                    let _ = f.set_len(at);
                }
            }
            Box::new(f)
        }
        None => Box::new(io::stdout()),
    })
}

fn copy(o: &Options) -> Result<(), String> {
    let mut input = open_input(o)?;
    let mut output = open_output(o)?;
    let started = Instant::now();
    let (mut full_in, mut part_in, mut full_out, mut part_out, mut bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; o.ibs];
    let mut pending: Vec<u8> = Vec::new();
    let mut result = Ok(());
    while o.count.is_none_or(|c| full_in + part_in < c) {
        let mut got = 0;
        // Fill one input block (pipes may return short reads; dd counts them as partial).
        let n = loop {
            match input.read(&mut buf[got..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    result = Err(format!(
                        "error reading '{}': {}",
                        o.input.as_deref().unwrap_or("standard input"),
                        reason(&e)
                    ));
                    break 0;
                }
            }
        };
        got += n;
        if got == 0 {
            break;
        }
        if got == o.ibs {
            full_in += 1;
        } else {
            part_in += 1;
            if o.sync {
                buf[got..].fill(0);
                got = o.ibs;
            }
        }
        pending.extend_from_slice(&buf[..got]);
        while pending.len() >= o.obs {
            output
                .write_all(&pending[..o.obs])
                .map_err(|e| write_error(o, &e))?;
            pending.drain(..o.obs);
            full_out += 1;
            bytes += o.obs as u64;
        }
    }
    if !pending.is_empty() {
        output.write_all(&pending).map_err(|e| write_error(o, &e))?;
        part_out += 1;
        bytes += pending.len() as u64;
    }
    output.flush().map_err(|e| write_error(o, &e))?;
    drop(output);
    if o.fsync {
        if let Some(path) = &o.output {
            if let Ok(f) = OpenOptions::new().write(true).open(path) {
                let _ = f.sync_all();
            }
        }
    }
    if !o.quiet {
        let secs = started.elapsed().as_secs_f64();
        crate::warn!("{full_in}+{part_in} records in\n{full_out}+{part_out} records out");
        crate::warn!(
            "{bytes} bytes copied, {secs:.4} s, {}/s",
            crate::util::fmt::human((bytes as f64 / secs.max(1e-6)) as u64)
        );
    }
    result
}

fn write_error(o: &Options, e: &io::Error) -> String {
    format!(
        "error writing '{}': {}",
        o.output.as_deref().unwrap_or("standard output"),
        reason(e)
    )
}
