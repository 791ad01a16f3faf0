//! kboot: the whole userspace of kboot-rs in one static binary.
#![deny(unsafe_code)]

fn main() {
    rootfs_rs::multicall::main()
}
