//! ip and ping inside a private network namespace (loopback only), wget against a local
//! one-shot HTTP server, and the edit applet driven through stdin.
mod common;
use std::io::{Read, Write};

use common::*;

/// Run a shell snippet in a new network namespace; None if namespaces are unavailable.
fn in_netns(script: &str) -> Option<std::process::Output> {
    qemu_tests::host_tools::require(&["unshare"]);
    let probe = qemu_tests::host_tools::command("unshare")
        .args(["-n", "true"])
        .status()
        .ok()?;
    if !probe.success() {
        eprintln!("unshare -n not permitted: skipping");
        return None;
    }
    let d = TempDir::new("netns");
    Some(host_in(
        d.path(),
        "unshare",
        &["-n", KBOOT, "sh", "-c", script],
        "",
    ))
}

#[test]
fn ip_configures_and_shows_loopback() {
    let script = "ip link set lo up && ip addr add 10.99.0.2/24 dev lo && ip route add default via 10.99.0.1 dev lo \
                  && ip route add 10.98.0.0/16 dev lo && ip addr show dev lo && echo --- && ip route && echo --- \
                  && /usr/sbin/ip route show; ip addr add 10.99.0.2/24 dev lo; echo dup=$?; ip link set nosuch up; echo missing=$?";
    let Some(o) = in_netns(script) else { return };
    let text = stdout(&o);
    let parts: Vec<&str> = text.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{text}\n{}", stderr(&o));
    assert!(
        parts[0].starts_with("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536"),
        "{text}"
    );
    assert!(
        parts[0].contains("    inet 127.0.0.1/8 scope host lo\n"),
        "{text}"
    );
    assert!(
        parts[0].contains("    inet 10.99.0.2/24 scope global lo\n"),
        "{text}"
    );
    // Same routes as iproute2 prints (it adds a trailing space).
    let host_routes: String = parts[2]
        .lines()
        .take_while(|l| !l.starts_with("dup="))
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    assert_eq!(parts[1], host_routes);
    assert!(parts[1].contains("default via 10.99.0.1 dev lo\n"));
    assert!(
        text.contains("dup=1\n") && text.contains("missing=1\n"),
        "{text}"
    );
    assert!(
        stderr(&o).contains("ip: RTNETLINK answers: File exists"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("ip: Device \"nosuch\" does not exist."));
}

#[test]
fn ping_loopback_in_namespace() {
    let Some(o) = in_netns("ip link set lo up && ping -c 2 -i 0.1 127.0.0.1") else {
        return;
    };
    let text = stdout(&o);
    assert_eq!(code(&o), 0, "{text}{}", stderr(&o));
    assert!(text.starts_with("PING 127.0.0.1 (127.0.0.1): 56 data bytes\n"));
    assert_eq!(
        text.matches("64 bytes from 127.0.0.1: seq=").count(),
        2,
        "{text}"
    );
    assert!(text.contains("2 packets transmitted, 2 packets received, 0% packet loss"));
    // lo down: nothing comes back.
    let Some(o) = in_netns("ping -c 1 -W 0.2 127.0.0.1") else {
        return;
    };
    assert_ne!(code(&o), 0);
}

/// Serve canned responses on 127.0.0.1, one per connection, and return the port.
fn serve(responses: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let Ok((mut conn, _)) = listener.accept() else {
                break;
            };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            requests.push(String::from_utf8_lossy(&req).into_owned());
            let _ = conn.write_all(&response);
        }
        requests
    });
    (port, handle)
}

#[test]
fn wget_downloads_follows_redirects_and_reports_errors() {
    let body: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
    let mut ok = b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    ok.extend_from_slice(&body);
    let redirect = b"HTTP/1.0 302 Found\r\nLocation: /real/kernel.img\r\n\r\n".to_vec();
    let missing = b"HTTP/1.0 404 Not Found\r\n\r\nnope".to_vec();
    let (port, server) = serve(vec![redirect, ok, missing]);
    let d = TempDir::new("wget");
    let o = kboot_in(
        d.path(),
        "wget",
        &["-q", &format!("http://127.0.0.1:{port}/start")],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        // Named after the URL asked for, as GNU wget does without --trust-server-names.
        std::fs::read(d.join("start")).unwrap_or_default(),
        body
    );
    let o = kboot_in(
        d.path(),
        "wget",
        &["-q", "-O", "x", &format!("http://127.0.0.1:{port}/missing")],
        "",
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("server returned error: HTTP 404"),
        "{}",
        stderr(&o)
    );
    let requests = server.join().expect("server thread");
    assert!(
        requests[0].starts_with("GET /start HTTP/1.0\r\n"),
        "{requests:?}"
    );
    assert!(requests[1].starts_with("GET /real/kernel.img HTTP/1.0\r\n"));
    assert!(requests[1].contains("Host: 127.0.0.1\r\n"));
    let o = kboot_in(d.path(), "wget", &["https://example.invalid/"], "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("/etc/kboot/ca.pem"), "{}", stderr(&o));
    // Nothing listens on this port any more.
    let o = kboot_in(
        d.path(),
        "wget",
        &["-T", "2", &format!("http://127.0.0.1:{port}/")],
        "",
    );
    assert_eq!(code(&o), 1);
}

#[test]
fn edit_fixes_a_grub_cfg() {
    let d = TempDir::new("edit");
    let cfg = d.write(
        "grub.cfg",
        "set default=0\nmenuentry 'Linux' {\n  linux /vmlinuz root=/dev/sda1 quiet\n}\n",
    );
    let o = kboot_in(
        d.path(),
        "edit",
        &["grub.cfg"],
        "s 3/quiet/console=ttyS0/\ni 1 set timeout=5\na 5 # end\n/vmlinuz\nd 99\nwq\n",
    );
    assert_eq!(code(&o), 1, "the bad 'd 99' makes the status 1");
    assert!(
        stderr(&o).contains("edit: line out of range (1-6)"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).starts_with("1  set default=0\n2  menuentry 'Linux' {\n"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("4    linux /vmlinuz root=/dev/sda1 console=ttyS0\n"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap_or_default(),
        "set timeout=5\nset default=0\nmenuentry 'Linux' {\n  linux /vmlinuz root=/dev/sda1 console=ttyS0\n}\n# end\n"
    );
    // Quitting with unsaved changes is refused; end of input does not write.
    let o = kboot_in(d.path(), "edit", &["grub.cfg"], "d 1\nq\n");
    assert!(stderr(&o).contains("unsaved changes"));
    assert!(std::fs::read_to_string(&cfg)
        .unwrap_or_default()
        .starts_with("set timeout=5\n"));
    let o = kboot_in(d.path(), "edit", &["new.txt"], "i 1 hello\nw\nq\n");
    assert_eq!(code(&o), 0);
    assert_eq!(
        std::fs::read_to_string(d.join("new.txt")).unwrap_or_default(),
        "hello\n"
    );
}
