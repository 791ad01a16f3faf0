//! The `savedump` applet: savedump [-c|-l|-p|-z|--none] [-d LEVEL] [--threads N] VMCORE DUMPFILE
//! (makedumpfile's option letters, so admins' habits carry over).

use super::{save_kdump, Compression, Progress, SaveOptions, SaveStats};
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::PathBuf;

pub const USAGE: &str =
    "usage: savedump [-c|-l|-p|-z|--none] [-d LEVEL] [--threads N] VMCORE DUMPFILE
Write an ELF vmcore (/proc/vmcore) as a filtered kdump-compressed dump.
  -c / -l / -p / -z  zlib (default) / lzo / snappy / zstd page compression
  --none             pages stored uncompressed
  -d LEVEL           pages to leave out, 0-31: 2 cache, 4 cache private, 8 user,
                     16 free; 1 stores zero pages as one shared copy (default 31)
  --threads N        compression threads (default: one per CPU, at most 16)
  --quiet            no progress lines
DUMPFILE must not exist. Exit status: 0 saved, 1 error, 2 usage.";

struct Args {
    opts: SaveOptions,
    quiet: bool,
    vmcore: PathBuf,
    out: PathBuf,
}

fn parse(args: &[OsString]) -> Result<Option<Args>, String> {
    let mut opts = SaveOptions::default();
    let mut quiet = false;
    let mut paths = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--help" | "-h") => return Ok(None),
            Some("-c") => opts.compression = Compression::Zlib,
            Some("-l") => opts.compression = Compression::Lzo,
            Some("-p") => opts.compression = Compression::Snappy,
            Some("-z") => opts.compression = Compression::Zstd,
            Some("--none") => opts.compression = Compression::None,
            Some("--quiet") => quiet = true,
            Some("--threads") => {
                let n = it
                    .next()
                    .and_then(|n| n.to_str())
                    .ok_or("--threads needs a number")?;
                opts.threads = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| format!("--threads {n}: not 1-256"))?;
            }
            Some("-d") => {
                let level = it
                    .next()
                    .and_then(|l| l.to_str())
                    .ok_or("-d needs a LEVEL")?;
                opts.dump_level = level
                    .parse()
                    .ok()
                    .filter(|l| *l <= 31)
                    .ok_or_else(|| format!("dump level {level} is not 0-31"))?;
            }
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {s}"))
            }
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let [vmcore, out]: [PathBuf; 2] = paths
        .try_into()
        .map_err(|_| "need VMCORE and DUMPFILE".to_string())?;
    Ok(Some(Args {
        opts,
        quiet,
        vmcore,
        out,
    }))
}

/// One line of figures about a finished save.
pub fn summary(s: &SaveStats) -> String {
    format!(
        "{} of {} pages saved ({} zero pages as one shared copy), {} bytes, {} thread{}; left \
         out: {} cache, {} cache private, {} user, {} free{}{}",
        s.written,
        s.present,
        s.zero,
        s.file_size,
        s.threads,
        if s.threads == 1 { "" } else { "s" },
        s.cache,
        s.cache_private,
        s.user,
        s.free,
        match s.unreadable {
            0 => String::new(),
            n => format!("; {n} unreadable (dump marked incomplete)"),
        },
        match s.truncated {
            0 => String::new(),
            n => format!("; vmcore truncated, {n} pages missing (dump marked incomplete)"),
        }
    )
}

/// The step and its percentage.
pub fn progress_parts(p: &Progress) -> (&'static str, u64) {
    let (what, done, total) = match p {
        Progress::Classified { done, total } => ("checking page flags", done, total),
        Progress::Written { done, total } => ("writing pages", done, total),
    };
    (what, done * 100 / (*total).max(1))
}

/// Progress as a line per step, for consoles that cannot redraw (serial).
pub fn progress_line(p: &Progress) -> String {
    let (what, percent) = progress_parts(p);
    format!("{what}: {percent}%")
}

pub fn savedump_main(args: &[OsString]) -> i32 {
    let a = match parse(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("savedump: {e}\n{USAGE}");
            return 2;
        }
    };
    let file = match OpenOptions::new().write(true).create_new(true).open(&a.out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("savedump: {}: {e}", a.out.display());
            return 1;
        }
    };
    let mut last = String::new();
    let mut progress = |p: Progress| {
        let line = progress_line(&p);
        if !a.quiet && line != last {
            eprintln!("savedump: {line}");
            last = line;
        }
    };
    match save_kdump(&a.vmcore, &file, &a.opts, &mut progress) {
        Ok(stats) => {
            if let Some(p) = &stats.filter_problem {
                eprintln!("savedump: warning: page flags unusable, no page left out: {p}");
            }
            println!("savedump: {}: {}", a.out.display(), summary(&stats));
            0
        }
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&a.out);
            let path = match e {
                super::SaveError::Read(_) => &a.vmcore,
                super::SaveError::Write(_) => &a.out,
            };
            eprintln!("savedump: {}: {e}", path.display());
            1
        }
    }
}
