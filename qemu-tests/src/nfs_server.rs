//! nfs-ganesha (a userspace NFS server: no kernel nfsd) exporting a test directory over
//! NFSv3/TCP on the host's loopback, for the guest to reach as 10.0.2.2 through QEMU's
//! user networking. Everything it writes (config, log, pid, NFSv4 recovery directory)
//! stays under the test's directory; it is killed when the handle drops.
//!
//! NFSv3 needs rpcbind: ganesha 4.3 refuses to start when it cannot register NFS v3 and
//! MOUNT with it ("__Register_program :DISP :MAJ :Cannot register NFS V3 on TCP", then
//! exit 2), and the guest kernel's NFSv3 client (kboot's kernel has no v4) asks the
//! server's rpcbind (10.0.2.2:111) for the NFS and MOUNT ports. Debian 12's rpcbind 1.2.6
//! aborts with "double free detected" when given `-h 127.0.0.1`, so it cannot be held to
//! loopback by its options; instead rpcbind, ganesha and the QEMU that uses them run in a
//! private network namespace (`crate::netns`) whose only interface is its own loopback,
//! with a private /run for rpcbind's socket and state. Nothing listens on the host's
//! interfaces, and a system rpcbind (or NFS server) on the host is neither used nor
//! disturbed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::netns::NetNamespace;
use crate::servers::{free_port, Daemon};

/// The pseudo path the export is mounted by (NFSv3 mounts use it too:
/// `Mount_Path_Pseudo = true`).
pub const EXPORT: &str = "/export";

/// ganesha.nfsd and its rpcbind, in their own network namespace.
pub struct Ganesha {
    // Dropped in order: ganesha, its rpcbind, then the namespace's holder.
    _ganesha: Daemon,
    _rpcbind: Daemon,
    namespace: NetNamespace,
    pub log: PathBuf,
}

/// rpcbind in `namespace`, listening on its loopback (the only addresses there are).
fn start_rpcbind(namespace: &NetNamespace, dir: &Path) -> Result<Daemon, String> {
    crate::host_tools::require(&["rpcbind"]);
    let log = dir.join("rpcbind.log");
    let mut rpcbind = namespace.command("rpcbind")?;
    rpcbind.arg("-f");
    let mut daemon = Daemon::spawn(rpcbind, &log)?;
    // The socket appears once rpcbind has bound its listeners (it creates it last).
    let socket = namespace.path("/run/rpcbind.sock");
    daemon
        .wait_until("rpcbind", Duration::from_secs(20), || socket.exists())
        .map_err(|e| format!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()))?;
    Ok(daemon)
}

/// The configuration: NFSv3 over TCP only on `nfs_port` (NFS) and `mount_port` (MOUNT),
/// no NLM (kboot mounts with `nolock`), no rquota, no Kerberos (AUTH_SYS only), one export
/// of `export_dir` as `/export`, writable by root (the capture kernel writes as root).
/// No `Bind_addr`: the namespace's loopback is its only interface, and glibc resolves
/// "127.0.0.1" with AI_ADDRCONFIG to nothing where no other IPv4 address is configured.
pub fn config(dir: &Path, export_dir: &Path, nfs_port: u16, mount_port: u16) -> String {
    format!(
        "NFS_CORE_PARAM {{
  Protocols = 3;
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
    /// The network namespace QEMU must run in to reach this server
    /// (`MachineConfig::netns`).
    pub fn netns(&self) -> u32 {
        self.namespace.pid()
    }

    /// Exports `export_dir`; config, log, pid and recovery files go to `dir`.
    pub fn start(dir: &Path, export_dir: &Path) -> Result<Ganesha, String> {
        let dir = dir.join("ganesha");
        std::fs::create_dir_all(dir.join("recovery"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let namespace = NetNamespace::create(&dir)?;
        let rpcbind = start_rpcbind(&namespace, &dir)?;
        let conf = dir.join("ganesha.conf");
        let text = config(&dir, export_dir, free_port()?, free_port()?);
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
        let log = dir.join("ganesha.log");
        let mut ganesha = namespace.command("ganesha.nfsd")?;
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
            namespace,
            log,
        })
    }
}
