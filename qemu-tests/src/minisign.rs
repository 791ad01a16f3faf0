//! Throwaway minisign keys and signatures made by the real `minisign` tool, for the
//! tests of kboot's signature policy (unit, loopback and QEMU tests alike).

use std::path::Path;

fn run(dir: &Path, args: &[&str]) {
    let out = crate::host_tools::command("minisign")
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("minisign {args:?}: {e}"));
    assert!(
        out.status.success(),
        "minisign {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key pair `NAME.pub`/`NAME.key` in `dir` made by `minisign -G -W` (no password):
/// (the public key line, the key ID from the comment minisign wrote above it).
pub fn keypair(dir: &Path, name: &str) -> (String, String) {
    let (public, secret) = (format!("{name}.pub"), format!("{name}.key"));
    run(dir, &["-G", "-W", "-p", &public, "-s", &secret]);
    let text = std::fs::read_to_string(dir.join(&public)).expect("minisign wrote the key");
    let mut lines = text.lines();
    let comment = lines.next().expect("comment line");
    let id = comment.rsplit(' ').next().expect("key ID").to_string();
    (lines.next().expect("key line").trim().to_string(), id)
}

/// `FILE.minisig` for each of `files` (relative to `dir`) with key `NAME.key`; `legacy`
/// signs the file itself ("Ed", `-l`) instead of its BLAKE2b hash ("ED").
pub fn sign(dir: &Path, name: &str, files: &[&str], legacy: bool) {
    let secret = format!("{name}.key");
    let mut args = vec!["-S", "-s", secret.as_str()];
    if legacy {
        args.push("-l");
    }
    args.push("-m");
    args.extend_from_slice(files);
    run(dir, &args);
}

/// Starts kboot's menu from its shell under a `require_signed` policy trusting `public`
/// (a key line from `keypair`), written to /tmp/kboot.toml by shell commands: `menu
/// --config /tmp/kboot.toml ARGS`, and waits until the menu says it took the policy.
pub fn menu_requiring_signatures(
    qemu: &mut crate::Qemu,
    public: &str,
    menu_args: &str,
    step: std::time::Duration,
) {
    const POLICY: &str = "/tmp/kboot.toml";
    for command in [
        format!("echo '[security]' > {POLICY}"),
        format!("echo 'require_signed = true' >> {POLICY}"),
        format!("echo 'trusted_keys = [\"{public}\"]' >> {POLICY}"),
    ] {
        qemu.shell_ok(&command, step);
    }
    qemu.send(&format!("menu --config {POLICY} {menu_args}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot: signatures required", step)
        .unwrap_or_else(|e| panic!("the policy was not taken: {e}"));
}
