//! A small SSH server (RFC 4251–4254) on ring's primitives, for reaching the boot menu from
//! another room: curve25519-sha256 key exchange, an ssh-ed25519 host key, public-key user
//! authentication with ssh-ed25519 keys only, chacha20-poly1305@openssh.com. One session
//! channel per connection: a command (`ssh host kboot boot --list`) or, with a terminal,
//! the menu (or the shell with `kboot.ssh=shell`).
pub mod kex;
pub mod keys;
pub mod packet;
pub mod pty;
pub mod server;
pub mod session;
pub mod wire;
