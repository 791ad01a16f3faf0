//! Networking for the boot environment, in layers: rtnetlink (links, addresses, routes),
//! DHCPv4 and static set-up, then the clients that fetch files (`fetch` dispatches to
//! `http` (over `tls` for https), `ftp` or `tftp`, which share `url` and `transfer`) and the NFS mount options, used by
//! `wget`, remote path names and network menu sources.
pub mod dhcp;
pub mod fetch;
pub mod ftp;
pub mod http;
pub mod netlink;
pub mod nfs;
pub mod setup;
pub mod ssh;
pub mod tftp;
pub mod tls;
pub mod transfer;
pub mod upload;
pub mod url;
