//! kboot's sshd on the host, driven by the real OpenSSH client: a command runs and its
//! output and exit status come back, the fingerprint `sshd -f` prints is the one the client
//! recorded, and a key that is not authorized is refused.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use qemu_tests::host_tools::command;

const KBOOT: &str = env!("CARGO_BIN_EXE_kboot");

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn keygen(path: &Path) {
    let status = command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "kboot-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client, installed by cargo xtask deps)");
    assert!(status.success());
}

fn start(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("kboot-sshd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    keygen(&dir.join("user"));
    keygen(&dir.join("stranger"));
    let public = std::fs::read_to_string(dir.join("user.pub")).expect("user.pub");
    std::fs::write(dir.join("authorized_keys"), format!("# test\n{public}")).expect("write");
    // A free port: bind, note it, release it for the server.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(KBOOT)
        .arg("sshd")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-s", "shell"])
        .arg("-k")
        .arg(dir.join("authorized_keys"))
        .arg("-h")
        .arg(dir.join("no-such-host-key"))
        .arg("-g")
        .arg(dir.join("host_seed"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("kboot sshd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port, dir }
}

/// `ssh` under coreutils' `timeout` (a hung session fails the test, status 124).
fn ssh(server: &Server, key: &str, remote_command: &str) -> Output {
    qemu_tests::host_tools::require(&["ssh", "seq"]);
    command("timeout")
        .args(["30", "ssh", "-p", &server.port.to_string(), "-i"])
        .arg(server.dir.join(key))
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            server.dir.join("known_hosts").display()
        ))
        .args(["-o", "ConnectTimeout=10", "root@127.0.0.1", remote_command])
        .stdin(Stdio::null())
        .output()
        .expect("ssh")
}

#[test]
fn a_command_runs_for_an_authorized_key_with_its_output_and_status() {
    let server = start("exec");
    let output = ssh(
        &server,
        "user",
        "echo hello from kboot; echo to-stderr >&2; false",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stdout, "hello from kboot\n", "stderr: {stderr}");
    assert!(stderr.contains("to-stderr"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // 6.9 MB: more than the client's 2 MiB window and hundreds of packets; all of it
    // arrives, in order (the host's seq: the shell runs what is not an applet from PATH).
    let output = ssh(&server, "user", "seq 1 1000000");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.lines().count(), 1_000_000);
    assert!(text
        .lines()
        .map(str::parse::<u32>)
        .enumerate()
        .all(|(i, n)| n == Ok(i as u32 + 1)));
}

#[test]
fn the_printed_fingerprint_is_the_key_the_client_saw() {
    let server = start("fingerprint");
    let output = ssh(&server, "user", "true");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = Command::new(KBOOT)
        .args(["sshd", "-f", "-h"])
        .arg(server.dir.join("no-such-host-key"))
        .arg("-g")
        .arg(server.dir.join("host_seed"))
        .output()
        .expect("sshd -f");
    let printed = String::from_utf8_lossy(&printed.stdout).to_string();
    let seen = command("ssh-keygen")
        .arg("-lf")
        .arg(server.dir.join("known_hosts"))
        .output()
        .expect("ssh-keygen -lf");
    let seen = String::from_utf8_lossy(&seen.stdout).to_string();
    let fingerprint = printed.split_whitespace().next().unwrap_or("none");
    assert!(fingerprint.starts_with("SHA256:"), "{printed}");
    assert!(
        seen.contains(fingerprint),
        "printed {printed}, client saw {seen}"
    );
}

#[test]
fn a_key_that_is_not_authorized_is_refused() {
    let server = start("refused");
    let output = ssh(&server, "stranger", "echo should not run");
    assert!(output.stdout.is_empty());
    assert_eq!(output.status.code(), Some(255));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Permission denied (publickey)"), "{stderr}");
}
