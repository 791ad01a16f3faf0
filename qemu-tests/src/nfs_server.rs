//! nfs-ganesha (a userspace NFS server: no kernel nfsd) exporting a test directory over
//! NFSv3/TCP on the host's loopback, for the guest to reach as 10.0.2.2 through QEMU's
//! user networking. Everything it writes (config, log, pid, NFSv4 recovery directory)
//! stays under the test's directory; it is killed when the handle drops.
//!
//! NFSv3 needs rpcbind: ganesha 4.3 refuses to start when it cannot register NFS v3 and
//! MOUNT with it ("__Register_program :DISP :MAJ :Cannot register NFS V3 on TCP", then
//! exit 2), and the guest kernel's NFSv3 client (kboot's kernel has no v4) asks the
//! server's rpcbind (10.0.2.2:111, i.e. the host's 127.0.0.1:111) for the NFS and MOUNT
//! ports. When nothing listens on port 111, the test runs its own `rpcbind -f` in a
//! private mount namespace with a tmpfs on /run, so its socket, lock and state files never
//! touch the system's /run; ganesha then registers over 127.0.0.1:111 (libtirpc's
//! fallback when /run/rpcbind.sock is absent). Debian 12's rpcbind 1.2.6 aborts with
//! "double free detected" when given `-h 127.0.0.1`, so it listens on every address
//! while the test runs.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::host_tools::command;
use crate::servers::{free_port, Daemon};

/// The pseudo path the export is mounted by (NFSv3 mounts use it too:
/// `Mount_Path_Pseudo = true`).
pub const EXPORT: &str = "/export";
const RPCBIND_PORT: u16 = 111;

/// ganesha.nfsd (and the rpcbind it registered with, when the test started one).
pub struct Ganesha {
    // Dropped in order: ganesha before its rpcbind.
    _ganesha: Daemon,
    _rpcbind: Option<Daemon>,
    pub log: PathBuf,
}

fn rpcbind_listens() -> bool {
    TcpStream::connect(("127.0.0.1", RPCBIND_PORT)).is_ok()
}

/// A running rpcbind: the machine's own if one listens, else the test's.
fn start_rpcbind(dir: &Path) -> Result<Option<Daemon>, String> {
    if rpcbind_listens() {
        return Ok(None);
    }
    crate::host_tools::require(&["mount", "rpcbind"]);
    let mut unshare = command("unshare");
    unshare
        .args(["--mount", "--propagation", "private", "--"])
        .arg(crate::host_tools::find("sh")?)
        .args([
            "-c",
            "mount -t tmpfs kboot-test-run /run && exec rpcbind -f",
        ]);
    let mut daemon = Daemon::spawn(unshare, &dir.join("rpcbind.log"))?;
    daemon
        .wait_until("rpcbind", Duration::from_secs(20), rpcbind_listens)
        .map_err(|e| {
            format!(
                "{e}: {}",
                std::fs::read_to_string(dir.join("rpcbind.log")).unwrap_or_default()
            )
        })?;
    Ok(Some(daemon))
}

/// The configuration: NFSv3 over TCP only, bound to 127.0.0.1 on `nfs_port` (NFS) and
/// `mount_port` (MOUNT), no NLM (kboot mounts with `nolock`), no rquota, no Kerberos
/// (AUTH_SYS only), one export of
/// `export_dir` as `/export`, writable by root (the capture kernel writes as root).
pub fn config(dir: &Path, export_dir: &Path, nfs_port: u16, mount_port: u16) -> String {
    format!(
        "NFS_CORE_PARAM {{
  Protocols = 3;
  Bind_addr = 127.0.0.1;
  NFS_Port = {nfs_port};
  MNT_Port = {mount_port};
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
  Mount_Path_Pseudo = true;
}}
NFSV4 {{
  RecoveryBackend = fs;
  RecoveryRoot = \"{recovery}\";
  Graceless = true;
}}
EXPORT {{
  Export_Id = 1;
  Path = \"{export}\";
  Pseudo = {EXPORT};
  Protocols = 3;
  Transports = TCP;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  PrivilegedPort = false;
  FSAL {{ Name = VFS; }}
}}
NFS_KRB5 {{ Active_krb5 = false; }}
LOG {{ Default_Log_Level = EVENT; }}
",
        recovery = dir.join("recovery").display(),
        export = export_dir.display(),
    )
}

impl Ganesha {
    /// Exports `export_dir`; config, log, pid and recovery files go to `dir`.
    pub fn start(dir: &Path, export_dir: &Path) -> Result<Ganesha, String> {
        let dir = dir.join("ganesha");
        std::fs::create_dir_all(dir.join("recovery"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let rpcbind = start_rpcbind(&dir)?;
        let conf = dir.join("ganesha.conf");
        let text = config(&dir, export_dir, free_port()?, free_port()?);
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
        let log = dir.join("ganesha.log");
        let mut ganesha = command("ganesha.nfsd");
        ganesha
            .arg("-F")
            .arg("-L")
            .arg(&log)
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(dir.join("ganesha.pid"))
            .args(["-N", "NIV_EVENT"]);
        let mut daemon = Daemon::spawn(ganesha, &dir.join("ganesha.stderr"))?;
        let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
        // Ganesha binds its ports before it registers them; the log says when all is done.
        daemon
            .wait_until("ganesha.nfsd", Duration::from_secs(60), || {
                read_log().contains("NFS SERVER INITIALIZED")
            })
            .map_err(|e| format!("{e}; its log ({}):\n{}", log.display(), read_log()))?;
        Ok(Ganesha {
            _ganesha: daemon,
            _rpcbind: rpcbind,
            log,
        })
    }
}
