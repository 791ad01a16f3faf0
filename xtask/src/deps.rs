//! Host prerequisites: Debian/Ubuntu packages and the rustup musl target. `cargo xtask
//! image` checks them first; `.ci/run` calls `cargo xtask deps` so CI installs exactly
//! what a developer's machine gets. The bootstrap programs here (dpkg-query, apt-get,
//! rustup, id) are run by name: they are what installs everything else.

use std::process::Command;

use anyhow::bail;

use crate::process::run;

/// (package, why it is needed): the one list, next to the tools that need it
/// (qemu-tests/src/host_tools.rs), so a test cannot run a program deps does not install.
pub use qemu_tests::host_tools::PACKAGES as APT_PACKAGES;

pub const RUST_TARGET: &str = "x86_64-unknown-linux-musl";

/// One dpkg-query for all packages (it prints nothing for unknown ones).
pub fn missing_packages() -> Vec<&'static str> {
    let names: Vec<&str> = APT_PACKAGES.iter().map(|(p, _)| *p).collect();
    let listing = Command::new("dpkg-query")
        .arg("-W")
        .arg("-f=${Package} ${Status}\n")
        .args(&names)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let installed: Vec<&str> = listing
        .lines()
        .filter(|l| l.ends_with("install ok installed"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    names
        .into_iter()
        .filter(|p| !installed.contains(p))
        .collect()
}

pub fn musl_target_installed() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == RUST_TARGET)
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs what is missing; when not root, says exactly what to run instead.
pub fn ensure() -> crate::Result<()> {
    let missing = missing_packages();
    if !missing.is_empty() {
        if !is_root() {
            bail!(
                "missing host packages: {}\n  fix: sudo apt-get install -y --no-install-recommends {}",
                missing.join(" "),
                missing.join(" ")
            );
        }
        println!("    installing: {}", missing.join(" "));
        let apt = |args: &[&str]| {
            let mut c = Command::new("apt-get");
            c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
            c
        };
        run(&mut apt(&["update", "-qq"]))?;
        run(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(&missing))?;
    }
    if !musl_target_installed() {
        match run(Command::new("rustup").args(["target", "add", RUST_TARGET])) {
            Ok(()) => {}
            Err(e) => println!("    warning: {e:#}; the userspace will be built for the gnu target with +crt-static instead"),
        }
    }
    Ok(())
}

pub fn run_cli(check_only: bool) -> crate::Result<()> {
    if check_only {
        let missing = missing_packages();
        for (p, why) in APT_PACKAGES {
            let state = if missing.contains(p) { "MISSING" } else { "ok" };
            println!("  {state:<8} {p:<18} {why}");
        }
        let musl = if musl_target_installed() {
            "ok"
        } else {
            "MISSING"
        };
        println!("  {musl:<8} {RUST_TARGET} (rustup target)");
        return if missing.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!("{} package(s) missing", missing.len()))
        };
    }
    crate::report::stage("host dependencies", ensure)
}
