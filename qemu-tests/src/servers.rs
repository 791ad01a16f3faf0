//! Servers the network tests run on the host's loopback: a test CA made with the openssl
//! CLI (`TestCa`), nginx with a temporary configuration (`Nginx`: HTTPS, WebDAV
//! uploads, a POST collector) and tftpd-hpa (`TftpdHpa`), stopped when the handle drops.
//! Nothing system-wide is used: no system nginx or tftpd-hpa service, no files outside
//! the test's directory.

use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::host_tools::command;

fn openssl(args: &[&str]) -> Result<(), String> {
    let out = command("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("{}: not UTF-8", p.display()))
}

/// A certificate authority made for one test (P-256 key, 30 days).
pub struct TestCa {
    pub cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

/// A server certificate and its key.
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// Makes `dir/NAME-ca.pem` and its key.
    pub fn new(dir: &Path, name: &str) -> Result<TestCa, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cert = dir.join(format!("{name}-ca.pem"));
        let key = dir.join(format!("{name}-ca.key"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
            "-subj",
            &format!("/CN=kboot test CA {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            path_str(&key)?,
            "-out",
            path_str(&cert)?,
        ])?;
        Ok(TestCa {
            cert,
            key,
            dir: dir.to_path_buf(),
        })
    }

    /// Issues `dir/NAME.pem` for the subject alternative names `san`
    /// (`IP:10.0.2.2`, `DNS:host.example`, comma-separated).
    pub fn issue(&self, name: &str, san: &str) -> Result<ServerCert, String> {
        let key = self.dir.join(format!("{name}.key"));
        let csr = self.dir.join(format!("{name}.csr"));
        let cert = self.dir.join(format!("{name}.pem"));
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .map_err(|e| format!("{}: {e}", ext.display()))?;
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            path_str(&key)?,
            "-out",
            path_str(&csr)?,
        ])?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            path_str(&csr)?,
            "-CA",
            path_str(&self.cert)?,
            "-CAkey",
            path_str(&self.key)?,
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            path_str(&ext)?,
            "-out",
            path_str(&cert)?,
        ])?;
        Ok(ServerCert { cert, key })
    }
}

/// A free TCP port on loopback (bound and released; good enough for one test at a time).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// nginx in the foreground with a configuration written for the test; killed on drop.
pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx under `dir` (logs, temp files, pid) with `servers`, the `server { … }`
    /// blocks of the http context; returns once every port in `ports` accepts.
    pub fn start(dir: &Path, servers: &str, ports: &[u16]) -> Result<Nginx, String> {
        let dir = dir.join("nginx");
        for sub in ["", "tmp", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{e}"))?;
        }
        let d = path_str(&dir)?;
        // `user root`: uploads are written into the test's directory, which root owns;
        // every temp path under the test's directory (the packaged defaults under
        // /var/lib/nginx need not exist). `master_process off`: one process, so the kill
        // on drop ends all of nginx (with a master, its worker was orphaned and lived on).
        let conf = format!(
            "daemon off;\nmaster_process off;\nuser root;\n\
             pid {d}/nginx.pid;\nerror_log {d}/logs/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/logs/access.log;\n\
               client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
               fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n\
               scgi_temp_path {d}/tmp/scgi;\n  default_type application/octet-stream;\n\
               client_max_body_size 0;\n{servers}\n}}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("{e}"))?;
        let child = command("nginx")
            .args(["-p", d, "-e", &format!("{d}/logs/error.log"), "-c"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("nginx: {e}"))?;
        let mut server = Nginx { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = server.child.try_wait() {
                    return Err(format!("nginx exited ({status}): {}", server.error_log()));
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "nginx did not listen on {port}: {}",
                        server.error_log()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(server)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }
}

/// A server process the test started; killed (SIGKILL: in.tftpd ignores SIGTERM while it
/// waits) and reaped on drop.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Daemon {
    /// Spawns `command` with stdin closed and stdout/stderr into `log`.
    pub fn spawn(mut command: std::process::Command, log: &Path) -> Result<Daemon, String> {
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{:?}: {e}", command.get_program()))?;
        Ok(Daemon(child))
    }

    /// Polls `ready` every 100 ms until it holds; fails early if the process exits.
    pub fn wait_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while !ready() {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Err(format!("{what} exited ({status})"));
            }
            if Instant::now() > deadline {
                return Err(format!("{what} not ready after {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

/// A free UDP port on loopback (bound and released).
pub fn free_udp_port() -> Result<u16, String> {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free UDP port: {e}"))
}

/// tftpd-hpa serving `root` on 127.0.0.1:`port`, in the foreground as the test's child.
/// The guest reaches it as 10.0.2.2:`port`: slirp relays a guest's UDP to 10.0.2.2 to the
/// host's loopback, and relays the replies from whatever port they come from (tftpd
/// answers each transfer from a new one), so no `--port-range` is needed.
pub struct TftpdHpa {
    _daemon: Daemon,
    pub port: u16,
    pub log: PathBuf,
}

impl TftpdHpa {
    /// `--secure` chroots into `root`, so file names are relative to it, as on a PXE
    /// server; tftpd then runs as `nobody`, so the files must be world-readable.
    pub fn start(root: &Path, log: &Path) -> Result<TftpdHpa, String> {
        let port = free_udp_port()?;
        let mut tftpd = command("in.tftpd");
        tftpd
            .args(["--listen", "--foreground", "--address"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--secure")
            .arg(root);
        let mut daemon = Daemon::spawn(tftpd, log)?;
        // Ready when a read request for a missing file gets TFTP's error packet back.
        let probe = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("UDP socket: {e}"))?;
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| format!("{e}"))?;
        let mut answer = [0u8; 600];
        daemon
            .wait_until("in.tftpd", Duration::from_secs(20), || {
                let _ = probe.send_to(b"\0\x01kboot-readiness-probe\0octet\0", ("127.0.0.1", port));
                matches!(probe.recv_from(&mut answer), Ok((n, _)) if n >= 4 && answer[..2] == [0, 5])
            })
            .map_err(|e| {
                format!("{e}: {}", std::fs::read_to_string(log).unwrap_or_default())
            })?;
        Ok(TftpdHpa {
            _daemon: daemon,
            port,
            log: log.to_path_buf(),
        })
    }
}
