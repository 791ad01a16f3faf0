//! sshd: kboot's SSH server (net::ssh). PID 1 starts it when the image carries authorized
//! keys (`[ssh] authorized_keys` in kboot.toml), unless `kboot.ssh=off`; each session gets
//! the menu, or the shell with `kboot.ssh=shell`.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::net::ssh::keys::{self, HostKey};
use crate::net::ssh::server::{self, ServerConfig};
use crate::net::ssh::session::SessionKind;
use crate::util::Parser;

const USAGE: &str = "usage: sshd [-p PORT] [-a ADDRESS] [-k AUTHORIZED_KEYS] [-h HOST_KEY] [-g SEED_FILE] [-s menu|shell] [-f]
  -p PORT    port to listen on (default 22)
  -a ADDRESS address to listen on (default 0.0.0.0, every interface)
  -k FILE    the ssh-ed25519 keys allowed in (default /etc/kboot/authorized_keys)
  -h FILE    the host key, OpenSSH format (default /etc/kboot/ssh_host_ed25519_key)
  -g FILE    without a host key file: where this boot's generated key is kept
  -s KIND    what a session without a command gets: menu or shell (default: kboot.ssh= on the
             kernel command line, else menu)
  -f         print the host key's fingerprint and exit";

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 8;

pub fn main(args: &[OsString]) -> i32 {
    let mut port = 22u16;
    let mut address = "0.0.0.0".to_string();
    let mut authorized = PathBuf::from(keys::AUTHORIZED_KEYS);
    let mut host_key = PathBuf::from(keys::SUPPLIED_HOST_KEY);
    let mut generated = PathBuf::from(keys::GENERATED_HOST_KEY);
    let mut session = None;
    let mut fingerprint_only = false;
    let parsed = Parser::new("sshd", USAGE, args).parse(|p, c| {
        match c {
            'p' => port = p.number()?,
            'a' => address = p.value()?,
            'k' => authorized = PathBuf::from(p.value()?),
            'h' => host_key = PathBuf::from(p.value()?),
            'g' => generated = PathBuf::from(p.value()?),
            's' => {
                session = Some(match p.value()?.as_str() {
                    "menu" => SessionKind::Menu,
                    "shell" => SessionKind::Shell,
                    other => {
                        return Err(crate::util::args::Stop::Usage(format!(
                            "-s: want menu or shell, not '{other}'"
                        )))
                    }
                })
            }
            'f' => fingerprint_only = true,
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    });
    if let Err(code) = parsed {
        return code;
    }
    let host_key = match HostKey::load_or_generate(&host_key, &generated) {
        Ok(key) => key,
        Err(err) => {
            crate::warn!("sshd: host key: {err}");
            return 1;
        }
    };
    if fingerprint_only {
        println!(
            "{} (ssh-ed25519, {})",
            keys::fingerprint(&host_key.public_blob()),
            host_key.origin
        );
        return 0;
    }
    let text = match std::fs::read_to_string(&authorized) {
        Ok(text) => text,
        Err(err) => {
            crate::warn!(
                "sshd: {}: {err} (set [ssh] authorized_keys in kboot.toml)",
                authorized.display()
            );
            return 1;
        }
    };
    let (keys, warnings) = keys::parse_authorized_keys(&text);
    for warning in warnings {
        crate::warn!("sshd: {}: {warning}", authorized.display());
    }
    if keys.is_empty() {
        crate::warn!(
            "sshd: {}: no ssh-ed25519 key; nobody could log in",
            authorized.display()
        );
        return 1;
    }
    let session = session.unwrap_or_else(|| {
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        match crate::cmdline::parse(&cmdline).ssh {
            crate::cmdline::SshSwitch::Shell => SessionKind::Shell,
            _ => SessionKind::Menu,
        }
    });
    let listener = match TcpListener::bind((address.as_str(), port)) {
        Ok(listener) => listener,
        Err(err) => {
            crate::warn!("sshd: listening on {address}:{port}: {err}");
            return 1;
        }
    };
    let config = Arc::new(ServerConfig {
        host_key,
        authorized: keys,
        session,
    });
    serve_forever(&listener, &config)
}

fn serve_forever(listener: &TcpListener, config: &Arc<ServerConfig>) -> i32 {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(err) => {
                crate::warn!("sshd: accept: {err}");
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            server::log(&format!(
                "too many connections; dropped {}",
                server::peer(&stream)
            ));
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (config, active) = (config.clone(), active.clone());
        std::thread::spawn(move || {
            let from = server::peer(&stream);
            if let Err(err) = server::serve(stream, &config) {
                server::log(&format!("{from}: {err}"));
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
