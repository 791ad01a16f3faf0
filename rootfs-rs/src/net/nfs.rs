//! NFS mounts for path names (`server:/export/path`, read only) and capture targets
//! (`nfs://server/export`, writable). No rpcbind or lockd runs in kboot, so mounts are
//! NFSv3 over TCP without locking, with the server's address resolved here (the kernel does
//! not resolve names).
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use crate::blockdev::mounts::Mounted;

/// Mounts `server:export` on `at`; the guard unmounts it.
pub fn mount(server: &str, export: &str, at: &Path, writable: bool) -> Result<Mounted, String> {
    let (source, options) = mount_args(server, export, writable)?;
    std::fs::create_dir_all(at).map_err(|e| format!("{}: {e}", at.display()))?;
    let data = std::ffi::CString::new(options).map_err(|_| format!("{source}: bad options"))?;
    use rustix::mount::MountFlags;
    let mut flags = MountFlags::NOSUID | MountFlags::NODEV;
    if !writable {
        flags |= MountFlags::RDONLY;
    }
    rustix::mount::mount(source.as_str(), at, "nfs", flags, Some(data.as_c_str())).map_err(
        |e| match e {
            rustix::io::Errno::NODEV => format!("{source}: this kernel has no NFS client"),
            e => format!("{source}: mount failed: {}", crate::util::reason(&e.into())),
        },
    )?;
    Ok(Mounted::adopt(at))
}

/// `(source, options)` for mount(2) with type "nfs".
pub fn mount_args(server: &str, export: &str, writable: bool) -> Result<(String, String), String> {
    if server.is_empty() || !export.starts_with('/') {
        return Err(format!("{server}:{export}: need SERVER:/EXPORT"));
    }
    let address: IpAddr = match server.parse() {
        Ok(ip) => ip,
        Err(_) => (server, 2049)
            .to_socket_addrs()
            .map_err(|e| format!("{server}: {}", crate::util::reason(&e)))?
            .next()
            .ok_or_else(|| format!("{server}: unknown host"))?
            .ip(),
    };
    Ok((
        format!("{server}:{export}"),
        format!(
            "{},vers=3,proto=tcp,nolock,soft,timeo=50,retrans=2,addr={address}",
            if writable { "rw" } else { "ro" }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_for_the_kernel_client() {
        assert_eq!(
            mount_args("192.168.1.10", "/srv/boot", false),
            Ok((
                "192.168.1.10:/srv/boot".into(),
                "ro,vers=3,proto=tcp,nolock,soft,timeo=50,retrans=2,addr=192.168.1.10".into()
            ))
        );
        assert!(mount_args("", "/x", false).is_err());
        assert!(mount_args("srv", "relative", true).is_err());
        assert!(
            mount_args("10.0.0.1", "/crash", true).is_ok_and(|(_, o)| o.starts_with("rw,vers=3"))
        );
    }
}
