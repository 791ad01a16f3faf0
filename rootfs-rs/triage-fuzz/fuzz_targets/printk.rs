//! cargo fuzz run printk: the printk parser on arbitrary bytes (entry point shared with tests/fuzz_parsers.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rootfs_rs::dump::fuzz::printk(data));
