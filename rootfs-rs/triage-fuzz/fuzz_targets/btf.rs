//! cargo fuzz run btf: the btf parser on arbitrary bytes (entry point shared with tests/fuzz_parsers.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rootfs_rs::dump::fuzz::btf(data));
