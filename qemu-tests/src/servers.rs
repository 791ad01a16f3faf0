//! Servers the network tests run on the host's loopback: a test CA made with the openssl
//! CLI (`TestCa`), and nginx with a temporary configuration (`Nginx`: HTTPS, WebDAV
//! uploads, a POST collector), stopped when the handle drops. Nothing system-wide is
//! used: no system nginx service, no files outside the test's directory.

use std::net::TcpStream;
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
