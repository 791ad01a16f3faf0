//! `cargo xtask` — builds and tests kboot-rs boot media. The command line is declared
//! once, with clap, so `cargo xtask --help` is generated from it and cannot go stale.

mod apt_sources;
mod bench;
mod bench_crash;
mod bench_kdump;
mod bench_kernels;
mod bt_compare;
mod ci;
mod config;
mod debug_kernel;
mod deps;
mod docs;
mod fuzz;
mod fuzz_results;
mod image_cmd;
mod image_modules;
mod install;
mod kdump_bundle;
mod kernel;
mod modules;
mod process;
mod report;
mod signing;
mod test_run;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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

/// Builds and tests kboot-rs boot media.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build target/kboot/{bzImage,initramfs.cpio.*,kboot.efi,disk.img}
    Image(image_cmd::ImageOptions),
    /// Boot the media on this terminal (serial console; Ctrl-A X quits)
    Qemu(tools::QemuOptions),
    /// Unit tests, then QEMU boot tests (builds the media first)
    Test {
        /// Only the unit and host tests: no media, no QEMU
        #[arg(long)]
        no_qemu: bool,
    },
    /// Put kboot and one boot-loader entry into a mounted system (backs up, never overwrites)
    Install(install::InstallArgs),
    /// Sizes, boot times and triage figures, side by side with the peers
    Bench(bench::BenchOptions),
    /// Fetch Debian's debug vmlinux for a kernel release (crash's input; the bench's peer)
    /// into target/debug-kernels/RELEASE/vmlinux, without touching the system's apt
    DebugKernel {
        /// Kernel release, like 6.1.0-57-amd64 (default: the kdump fixture's)
        release: Option<String>,
    },
    /// Install the host packages and rustup target the build needs
    Deps {
        /// Only report what is missing; install nothing
        #[arg(long)]
        check: bool,
    },
    /// Run .ci/run on a fresh clone of HEAD
    Ci {
        /// Inside a minimal Debian root (debootstrap, cached under target/ci-clean), only
        /// the Rust toolchain bound in
        #[arg(long)]
        clean: bool,
        /// Keep the clone (or the root) afterwards
        #[arg(long)]
        keep: bool,
    },
    /// Build the docs/ folder as a book into target/book (installs mdBook once)
    Docs,
    /// Fuzz the parsers of outside input with libFuzzer (installs cargo-fuzz once; stable
    /// toolchain); updates the campaign table target/fuzz/campaign.md
    Fuzz(fuzz::FuzzOptions),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit with 1
            // like every other error of xtask (clap's own default would be 2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let ws = Workspace::locate();
    let result = match cli.command {
        Some(Command::Image(options)) => image_cmd::run_image(&ws, &options).map(|_| ()),
        Some(Command::Qemu(options)) => tools::qemu_command(&ws, &options),
        Some(Command::Test { no_qemu }) => test_run::test_command(&ws, !no_qemu),
        Some(Command::Install(args)) => install::cli(&ws, args.into()),
        Some(Command::Bench(options)) => bench::run(&ws, &options),
        Some(Command::DebugKernel { release }) => debug_kernel::cli(&ws, release),
        Some(Command::Deps { check }) => deps::run_cli(check),
        Some(Command::Ci { clean, keep }) => ci::cli(&ws, clean, keep),
        Some(Command::Docs) => docs::build(&ws),
        Some(Command::Fuzz(options)) => fuzz::run(&ws, &options),
        // `cargo xtask` alone shows what it can do.
        None => Cli::command().print_help().map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_parse_as_before() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("xtask").chain(args.iter().copied()))
        };
        assert!(matches!(
            parse(&["test", "--no-qemu"]).map(|c| c.command),
            Ok(Some(Command::Test { no_qemu: true }))
        ));
        assert!(matches!(
            parse(&["ci", "--clean", "--keep"]).map(|c| c.command),
            Ok(Some(Command::Ci {
                clean: true,
                keep: true
            }))
        ));
        assert!(parse(&["bench", "--triage", "--menu"]).is_err());
        assert!(parse(&["qemu", "--uefi", "--bios"]).is_err());
        assert!(parse(&["deps", "--force"]).is_err());
        assert!(
            parse(&["image", "--sign-key", "db.key"]).is_err(),
            "a key without its certificate"
        );
        assert!(parse(&["image", "--sign-key", "k", "--sign-cert", "c"]).is_ok());
        assert!(matches!(parse(&[]).map(|c| c.command), Ok(None)));
        let Ok(Some(Command::Qemu(q))) =
            parse(&["qemu", "--bios", "--disk", "a", "--disk", "b"]).map(|c| c.command)
        else {
            panic!("qemu options did not parse");
        };
        assert_eq!(q.boot_path(), qemu_tests::BootPath::Bios);
        assert_eq!(q.disks, [PathBuf::from("a"), PathBuf::from("b")]);
    }
}
