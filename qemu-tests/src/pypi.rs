//! Python packages from PyPI that Debian does not ship (virt-firmware's `virt-fw-vars`,
//! pyftpdlib), each in its own venv under target/: made with Debian's python3 and
//! python3-venv (both installed by `cargo xtask deps`), then kept for the next run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv at `venv` with `package` installed from PyPI, made if `module` cannot be
/// imported from it yet; returns the venv's python. The error says what failed (no
/// python3-venv, PyPI unreachable).
pub fn venv_with(venv: &Path, package: &str, module: &str) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let imports = |python: &Path| {
        Command::new(python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if imports(&python) {
        return Ok(python);
    }
    let made = crate::host_tools::try_command("python3")?
        .args(["-m", "venv"])
        .arg(venv)
        .output()
        .map_err(|e| format!("python3 -m venv {}: {e}", venv.display()))?;
    if !made.status.success() {
        return Err(format!(
            "python3 -m venv {} failed (python3-venv missing? `cargo xtask deps`): {}",
            venv.display(),
            String::from_utf8_lossy(&made.stderr).trim()
        ));
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", package])
        .output()
        .map_err(|e| format!("{}/bin/pip: {e}", venv.display()))?;
    if !installed.status.success() || !imports(&python) {
        return Err(format!(
            "pip install {package} into {} failed (is PyPI reachable?): {}",
            venv.display(),
            String::from_utf8_lossy(&installed.stderr).trim()
        ));
    }
    Ok(python)
}
