//! kboot's runtime: everything the `kboot` multi-call binary does, as a library so that
//! host tests can reach each layer directly.
//!
//! `unsafe` is denied everywhere except `sys`, the one module that talks to the kernel
//! below rustix (raw syscalls and ioctls); each block there says why it is sound.
#![deny(unsafe_code)]

pub mod applets;
pub mod blockdev;
pub mod boot;
pub mod capture;
pub mod cmdline;
pub mod config;
pub mod console;
pub mod dump;
pub mod fuzz;
pub mod init;
pub mod kmod;
pub mod multicall;
pub mod net;
pub mod pathname;
pub mod power;
pub mod shell;
#[allow(unsafe_code)]
pub mod sys;
pub mod tpm2;
pub mod util;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
