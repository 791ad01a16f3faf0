//! `[security] require_signed` for network menus (issue #18): a kboot.toml served over
//! HTTP on loopback is read only with a `.minisig` by a trusted key (made by the real
//! minisign); an unsigned one and one changed after signing are refused with the reason.
//! Its own test binary: the policy is process-wide once installed.
mod common;

use common::servers::http_server;
use common::TempDir;
use rootfs_rs::boot::scan::netsource::network_entries;
use rootfs_rs::boot::signature::install_from;
use rootfs_rs::config::toml::Document;

#[test]
fn only_a_signed_network_menu_is_read() {
    let served = TempDir::new("signed-net");
    let dir = served.path();
    let (public, _) = qemu_tests::minisign::keypair(dir, "menu");
    let menu = |label: &str| {
        format!(
            "[entry.net]\nlabel = \"{label}\"\nkernel = \"vmlinuz\"\ncmdline = \"console=ttyS0\"\n"
        )
    };
    std::fs::write(dir.join("signed.toml"), menu("Signed Menu")).expect("write");
    std::fs::write(dir.join("unsigned.toml"), menu("Unsigned Menu")).expect("write");
    std::fs::write(dir.join("changed.toml"), menu("Changed Menu")).expect("write");
    qemu_tests::minisign::sign(dir, "menu", &["signed.toml", "changed.toml"], false);
    std::fs::write(dir.join("changed.toml"), menu("Changed Menu!")).expect("write");

    let security = format!("[security]\nrequire_signed = true\ntrusted_keys = [\"{public}\"]\n");
    let policy = install_from(&Document::parse(&security), "test.toml");
    assert!(policy.require_signed && policy.keys.len() == 1);

    let (_server, port) = http_server(dir);
    let url = |name: &str| format!("http://127.0.0.1:{port}/{name}");
    let found = network_entries(&[
        url("signed.toml"),
        url("unsigned.toml"),
        url("changed.toml"),
    ]);
    let labels: Vec<&str> = found
        .entries
        .iter()
        .map(|e| e.entry.label.as_str())
        .collect();
    assert_eq!(labels, ["Signed Menu"], "{:?}", found.warnings);
    let warnings = found.warnings.join("\n");
    assert!(
        warnings.contains(&format!(
            "{}: no signature {}.minisig",
            url("unsigned.toml"),
            url("unsigned.toml")
        )),
        "{warnings}"
    );
    assert!(
        warnings.contains(&format!(
            "{}: signature does not match: file changed",
            url("changed.toml")
        )),
        "{warnings}"
    );
}
