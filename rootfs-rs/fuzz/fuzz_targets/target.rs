//! Every binary of this crate is built from this file: its name (`cargo fuzz run grub`)
//! is the registry entry it runs (rootfs_rs::fuzz::TARGETS).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rootfs_rs::fuzz::run(env!("CARGO_BIN_NAME"), data));
