//! `cargo xtask` — builds and tests kboot-rs boot media.
//!
//!   image [--config kboot.toml] [--kernel BZIMAGE] [--kernel-src DIR]
//!   qemu  [--uefi|--bios|--direct] [--disk EXTRA.img] [--kernel BZIMAGE]
//!   test  [--no-qemu]
//!   bench [--triage|--menu|--kdump]
//!   deps  [--check]
//!   ci    [--clean] [--keep]
//!   install --root DIR [--boot DIR] [--esp DIR] --grub|--bls|--lilo|--efi

mod bench;
mod bench_kdump;
mod ci;
mod config;
mod deps;
mod image_cmd;
mod install;
mod kdump_bundle;
mod kernel;
mod report;
mod test_run;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

/// Errors carry their cause chain; `main` prints it with `{:#}`.
pub use anyhow::Result;

/// Paths every command shares.
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    pub fn locate() -> Workspace {
        Workspace {
            root: qemu_tests::machine::workspace_root(),
        }
    }
    pub fn target(&self) -> PathBuf {
        self.root.join("target")
    }
    pub fn out_dir(&self) -> PathBuf {
        self.target().join("kboot")
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ws = Workspace::locate();
    let result = match args.first().map(String::as_str) {
        Some("image") => image_cmd::ImageOptions::parse(&args[1..])
            .and_then(|o| image_cmd::run_image(&ws, &o).map(|_| ())),
        Some("qemu") => tools::qemu_command(&ws, &args[1..]),
        Some("test") => test_run::test_command(&ws, &args[1..]),
        Some("bench") => bench::run(&ws, &args[1..]),
        Some("deps") => deps::cli(&args[1..]),
        Some("ci") => ci::cli(&ws, &args[1..]),
        Some("install") => install::cli(&ws, &args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{}", USAGE);
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>

  image [--config kboot.toml] [--kernel BZIMAGE] [--kernel-src DIR]
        build target/kboot/{bzImage,initramfs.cpio.*,kboot.efi,disk.img}
  qemu  [--uefi|--bios|--direct] [--disk EXTRA.img] [--kernel BZIMAGE]
        boot the media on this terminal (serial console; Ctrl-A X quits)
  test  [--no-qemu]   unit tests, then QEMU boot tests (builds the media first)
  install --root DIR [--boot DIR] [--esp DIR] --grub|--bls|--lilo|--efi
        put kboot and one boot-loader entry into a mounted system (backs up, never overwrites)
  bench [--triage|--menu|--kdump]  sizes, boot times and triage figures, side by side with the peers
  deps  [--check]     install the host packages and rustup target the build needs
  ci    [--clean] [--keep]
        run .ci/run on a fresh clone of HEAD; --clean: inside a minimal Debian root
        (debootstrap, cached under target/ci-clean), only the Rust toolchain bound in";
