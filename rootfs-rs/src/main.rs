//! kboot: the whole userspace of kboot-rs in one static binary.

fn main() {
    rootfs_rs::multicall::main()
}
