//! `cargo xtask docs`: the docs/ folder (docs/book.toml, docs/SUMMARY.md) built as an
//! mdBook into target/book.
//!
//! mdBook is not packaged in Debian 12 and is not a dependency of xtask (it would build
//! its hundreds of crates into every `cargo xtask` run): the first `docs` installs one
//! pinned version into target/tools/mdbook with `cargo install` (a few minutes of CPU),
//! later runs reuse it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::process;
use crate::report::stage;
use crate::Workspace;

/// The mdBook release the book is checked with (`cargo info mdbook`, December 2026).
const MDBOOK_VERSION: &str = "0.5.4";

pub fn build(ws: &Workspace) -> crate::Result<()> {
    let mdbook = stage("mdBook (installed once into target/tools/mdbook)", || {
        ensure_mdbook(ws)
    })?;
    let book = ws.target().join("book");
    stage("book (docs/ → target/book)", || {
        process::run(
            Command::new(&mdbook)
                .arg("build")
                .arg(ws.root.join("docs"))
                .arg("--dest-dir")
                .arg(&book),
        )
    })?;
    let index = book.join("index.html");
    if !index.exists() {
        anyhow::bail!("mdbook wrote no {}", index.display());
    }
    println!("    open {}", index.display());
    Ok(())
}

/// target/tools/mdbook/bin/mdbook at MDBOOK_VERSION, installed when missing or when it
/// is another version.
fn ensure_mdbook(ws: &Workspace) -> crate::Result<PathBuf> {
    let root = ws.target().join("tools/mdbook");
    let binary = root.join("bin/mdbook");
    if binary.exists() {
        let version = process::output(Command::new(&binary).arg("--version"))?;
        // `mdbook v0.5.4`
        let version = String::from_utf8_lossy(&version.stdout);
        if version.trim().trim_start_matches("mdbook v") == MDBOOK_VERSION {
            println!("    cached: {} {}", binary.display(), version.trim());
            return Ok(binary);
        }
        println!("    {} is {}: updating", binary.display(), version.trim());
    }
    println!("    cargo install mdbook {MDBOOK_VERSION} (once; a few minutes)");
    // Without default features: no `serve`/`watch` (tokio, axum, notify), so it builds
    // in about half the time; `build` is all xtask uses.
    process::run(
        process::cargo()
            .args(["install", "mdbook", "--locked", "--no-default-features"])
            .args(["--version", MDBOOK_VERSION, "--root"])
            .arg(&root),
    )
    .context("failed to install mdbook")?;
    Ok(binary)
}
