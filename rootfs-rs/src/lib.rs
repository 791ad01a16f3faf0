//! kboot's runtime: everything the `kboot` multi-call binary does, as a library so that
//! host tests can reach each layer directly.

pub mod boot;
pub mod cmdline;
pub mod console;
pub mod getty;
pub mod init;
pub mod multicall;
pub mod netlink;
pub mod power;
pub mod prompt;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
