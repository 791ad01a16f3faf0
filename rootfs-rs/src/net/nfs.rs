//! NFS path names (`server:/export/path`): the options for the kernel's NFS client.
//! No rpcbind or lockd runs in kboot, so mounts are NFSv3 over TCP without locking, read
//! only, with the server's address resolved here (the kernel does not resolve names).
use std::net::{IpAddr, ToSocketAddrs};

/// `(source, options)` for mount(2) with type "nfs".
pub fn mount_args(server: &str, export: &str) -> Result<(String, String), String> {
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
        format!("ro,vers=3,proto=tcp,nolock,soft,timeo=50,retrans=2,addr={address}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_for_the_kernel_client() {
        assert_eq!(
            mount_args("192.168.1.10", "/srv/boot"),
            Ok((
                "192.168.1.10:/srv/boot".into(),
                "ro,vers=3,proto=tcp,nolock,soft,timeo=50,retrans=2,addr=192.168.1.10".into()
            ))
        );
        assert!(mount_args("", "/x").is_err());
        assert!(mount_args("srv", "relative").is_err());
    }
}
