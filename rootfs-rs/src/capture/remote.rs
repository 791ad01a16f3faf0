//! Capture targets over the network and the report's collector.
//!
//! - `nfs://server/export`: the export is mounted read-write (NFSv3) and the capture
//!   directory is written in it as on a local filesystem.
//! - `http://server/dir/`, `https://…`: WebDAV. MKCOL makes the capture's directory, PUT
//!   sends the report and the log, the dump is streamed (chunked PUT, makedumpfile's
//!   flattened format, since a stream cannot seek) under a temporary name and only renamed
//!   (MOVE) to its final name once the server has all of it: a half-sent dump never looks
//!   complete. `makedumpfile -R` turns it into a plain dump; kboot triage reads it as is.
//! - `report_url`: the triage JSON is POSTed, with a few retries and growing pauses.

use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

use super::settings::DumpSettings;
use super::{capture_name, save_all, say, small_files, write_dump};
use crate::dump::report::Report;
use crate::dump::save::flat_out::FlatStream;
use crate::net::upload::{send, send_ok, ChunkedPut};
use crate::net::url::{join, parse_url, Scheme, Url};

/// Each connect and read of an upload waits at most this long.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Where an NFS target is mounted.
const NFS_MOUNT_POINT: &str = "/run/kboot/dump-nfs";
/// POSTs of the report: attempts, and the pause before the second (doubled each time).
const REPORT_ATTEMPTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_secs(2);

/// True for the targets this module saves to.
pub fn is_remote(target: &str) -> bool {
    target.starts_with("nfs://") || target.starts_with("http://") || target.starts_with("https://")
}

/// Configures the network as the menu would (`[net]`, `ip=`, `kboot.net=`), with DHCP
/// when nothing is configured: a network target needs the network.
pub fn start_network(cmdline: &str) {
    let toml = crate::config::load(Path::new(crate::config::CONFIG_PATH)).ok();
    let (mut cfg, warnings) = crate::net::setup::config_from(toml.as_ref(), cmdline);
    for w in warnings {
        say(&format!("warning: network: {w}"));
    }
    if cfg.mode == crate::net::setup::Mode::Off {
        cfg.mode = crate::net::setup::Mode::Dhcp;
    }
    for outcome in crate::net::setup::bring_up(&cfg) {
        match outcome.result {
            Ok(lease) => say(&format!(
                "network: {} {}/{}",
                lease.interface, lease.address, lease.prefix
            )),
            Err(e) => say(&format!("warning: network: {}: {e}", outcome.interface)),
        }
    }
}

/// Saves the capture to a network target; Err says what failed.
pub fn save(
    report: &Report,
    vmcore: &Path,
    settings: &DumpSettings,
    target: &str,
) -> Result<(), String> {
    match target.strip_prefix("nfs://") {
        Some(rest) => save_nfs(report, vmcore, settings, rest),
        None => save_web(report, vmcore, settings, &parse_url(target)?),
    }
}

/// `nfs://server/export`: the export is the target filesystem's root.
fn save_nfs(
    report: &Report,
    vmcore: &Path,
    settings: &DumpSettings,
    rest: &str,
) -> Result<(), String> {
    let (server, export) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let at = Path::new(NFS_MOUNT_POINT);
    let mounted = crate::net::nfs::mount(server, export, at, true)?;
    let in_export = DumpSettings {
        path: "/".into(),
        ..settings.clone()
    };
    let saved = save_all(report, vmcore, &in_export, at);
    rustix::fs::sync();
    if let Err(e) = mounted.unmount() {
        say(&format!("warning: {e}"));
    }
    let dir = saved?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    say(&format!(
        "saved to {server}:{}/{}",
        export.trim_end_matches('/'),
        name.unwrap_or_default()
    ));
    Ok(())
}

/// `base` joined with `name`, as a directory URL when `dir`.
fn child(base: &Url, name: &str, dir: bool) -> Result<Url, String> {
    let mut base = base.clone();
    if !base.path.ends_with('/') {
        base.path.push('/');
    }
    join(&base, &format!("{name}{}", if dir { "/" } else { "" }))
}

/// WebDAV: MKCOL the capture directory, PUT the small files, stream the dump, MOVE it.
fn save_web(
    report: &Report,
    vmcore: &Path,
    settings: &DumpSettings,
    base: &Url,
) -> Result<(), String> {
    if !matches!(base.scheme, Scheme::Http | Scheme::Https) {
        return Err(format!(
            "{base}: a capture target must be http://, https:// or nfs://"
        ));
    }
    let name = capture_name(report);
    let dir = make_unique_collection(base, &name)?;
    for (file, text) in small_files(report) {
        send_ok(
            "PUT",
            &child(&dir, file, false)?,
            &[],
            text.as_bytes(),
            TIMEOUT,
        )?;
    }
    if !settings.save_dump {
        say("action=none: dump not saved");
        say(&format!("saved to {dir}"));
        return Ok(());
    }
    let dump_name = format!("dump.{}.flat", &name[..15]);
    let partial = child(&dir, &format!(".{dump_name}.part"), false)?;
    let done = child(&dir, &dump_name, false)?;
    if let Err(e) = stream_dump(vmcore, settings, &dump_name, &partial) {
        // Best effort: the server may keep what it got, but never under the final name.
        let _ = send("DELETE", &partial, &[], b"", TIMEOUT);
        return Err(e);
    }
    let destination = [
        ("Destination", done.to_string()),
        ("Overwrite", "F".to_string()),
    ];
    send_ok("MOVE", &partial, &destination, b"", TIMEOUT)
        .map_err(|e| format!("{e} (the dump is on the server as {partial})"))?;
    say(&format!("saved to {dir}"));
    Ok(())
}

/// MKCOL `base/name/`, or `name.1/`, `.2`… when an earlier capture took the name.
fn make_unique_collection(base: &Url, name: &str) -> Result<Url, String> {
    for n in 0..100 {
        let attempt = match n {
            0 => name.to_string(),
            n => format!("{name}.{n}"),
        };
        let dir = child(base, &attempt, true)?;
        match send("MKCOL", &dir, &[], b"", TIMEOUT)? {
            200..=299 => return Ok(dir),
            // 405: it exists already.
            405 => continue,
            code => {
                return Err(format!(
                    "{dir}: MKCOL: server returned HTTP {code} (is WebDAV enabled there?)"
                ))
            }
        }
    }
    Err(format!("{base}: 100 captures named {name} already"))
}

/// PUTs the dump to `to` as it is written.
fn stream_dump(
    vmcore: &Path,
    settings: &DumpSettings,
    dump_name: &str,
    to: &Url,
) -> Result<(), String> {
    let put = ChunkedPut::start(to, TIMEOUT)?;
    let flat = FlatStream::new(BufWriter::with_capacity(1 << 20, put))
        .map_err(|e| format!("{to}: {}", crate::util::reason(&e)))?;
    write_dump(vmcore, settings, dump_name, &flat).map_err(|e| format!("{to}: {e}"))?;
    let buffered = flat
        .finish()
        .map_err(|e| format!("{to}: {}", crate::util::reason(&e)))?;
    let put = buffered
        .into_inner()
        .map_err(|e| format!("{to}: {}", crate::util::reason(e.error())))?;
    let sent = put.finish()?;
    say(&format!(
        "sent {} to the server",
        crate::util::fmt::human(sent)
    ));
    Ok(())
}

/// POSTs the triage JSON to the collector, retrying with growing pauses; says the outcome.
pub fn post_report(url: &str, json: &str) {
    let url = match parse_url(url) {
        Ok(u) => u,
        Err(e) => return say(&format!("error: report_url: {e}")),
    };
    let headers = [("Content-Type", "application/json".to_string())];
    let mut pause = FIRST_PAUSE;
    for attempt in 1..=REPORT_ATTEMPTS {
        match send_ok("POST", &url, &headers, json.as_bytes(), TIMEOUT) {
            Ok(()) => return say(&format!("report posted to {url}")),
            Err(e) if attempt < REPORT_ATTEMPTS => {
                say(&format!(
                    "warning: report not posted (attempt {attempt} of {REPORT_ATTEMPTS}): {e}; retrying in {} s",
                    pause.as_secs()
                ));
                std::thread::sleep(pause);
                pause *= 2;
            }
            Err(e) => say(&format!(
                "error: report not posted after {REPORT_ATTEMPTS} attempts: {e} (the saved triage.json is kept)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_the_target_url() {
        let base = parse_url("https://crash.example/upload").expect("url");
        let dir = child(&base, "20260101-000000-web", true).expect("join");
        assert_eq!(
            dir.to_string(),
            "https://crash.example/upload/20260101-000000-web/"
        );
        assert_eq!(
            child(&dir, "triage.json", false).map(|u| u.to_string()),
            Ok("https://crash.example/upload/20260101-000000-web/triage.json".into())
        );
        assert!(is_remote("nfs://nas/crash") && is_remote("http://h/") && !is_remote("LABEL=X"));
    }
}
