//! Signatures made by the real `minisign` tool (a throwaway key per test), checked by
//! kboot: both algorithms, and every way a payload or its signature can be wrong.

use std::path::PathBuf;

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kboot-sig-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

use qemu_tests::minisign::{keypair, sign};

fn policy_trusting(keys: &[&str]) -> Policy {
    let list: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    let text = format!(
        "[security]\nrequire_signed = true\ntrusted_keys = [{}]\n",
        list.join(", ")
    );
    let (policy, warnings) = Policy::from_config(&Document::parse(&text), "kboot.toml");
    assert!(warnings.is_empty(), "{warnings:?}");
    policy
}

#[test]
fn signed_files_pass_and_tampered_ones_are_refused_for_both_algorithms() {
    let dir = scratch("both");
    let (public, id) = keypair(&dir, "good");
    let policy = policy_trusting(&[&public]);
    assert_eq!(
        policy.keys[0].id.to_string(),
        id,
        "key ID shown as minisign shows it"
    );
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for (legacy, algorithm) in [(false, "ED"), (true, "Ed")] {
        let name = format!("vmlinuz-{algorithm}");
        std::fs::write(dir.join(&name), &payload).expect("payload");
        sign(&dir, "good", &[&name], legacy);
        let sig_text = std::fs::read_to_string(dir.join(format!("{name}.minisig"))).expect("sig");
        assert_eq!(
            Signature::parse(&sig_text).expect("parses").algorithm(),
            algorithm
        );
        assert_eq!(
            policy.read_verified(&dir.join(&name)).as_deref(),
            Ok(payload.as_slice()),
            "{algorithm}"
        );
        // One flipped byte in the middle of the file.
        let mut flipped = payload.clone();
        flipped[100_000] ^= 0x01;
        std::fs::write(dir.join(&name), &flipped).expect("flipped");
        let refused = policy.read_verified(&dir.join(&name)).unwrap_err();
        assert!(
            refused.ends_with("signature does not match: file changed"),
            "{algorithm}: {refused}"
        );
        // An altered trusted comment fails the global signature.
        let altered = sig_text.replacen("\ntrusted comment: ", "\ntrusted comment: X", 1);
        let refused = policy.check(&name, &payload, Ok(altered)).unwrap_err();
        assert!(
            refused.contains("trusted comment"),
            "{algorithm}: {refused}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_key_a_missing_and_a_truncated_signature_are_refused_with_the_reason() {
    let dir = scratch("wrong");
    let (trusted, _) = keypair(&dir, "trusted");
    let (_, other_id) = keypair(&dir, "other");
    let policy = policy_trusting(&[&trusted]);
    std::fs::write(dir.join("initrd.img"), b"an initrd").expect("payload");
    sign(&dir, "other", &["initrd.img"], false);
    let refused = policy.read_verified(&dir.join("initrd.img")).unwrap_err();
    assert!(
        refused.contains(&format!("signed by an untrusted key ID {other_id}")),
        "{refused}"
    );

    let sig_path = dir.join("initrd.img.minisig");
    sign(&dir, "trusted", &["initrd.img"], false);
    let whole = std::fs::read_to_string(&sig_path).expect("sig");
    assert!(policy.read_verified(&dir.join("initrd.img")).is_ok());
    for cut in [whole.len() / 2, whole.len() - 20, 10] {
        std::fs::write(&sig_path, &whole[..cut]).expect("truncated");
        let refused = policy.read_verified(&dir.join("initrd.img")).unwrap_err();
        assert!(
            refused.starts_with(&format!("{}: ", sig_path.display())),
            "cut at {cut}: {refused}"
        );
    }

    std::fs::remove_file(&sig_path).expect("rm");
    let refused = policy.read_verified(&dir.join("initrd.img")).unwrap_err();
    assert!(
        refused.contains(&format!("no signature {}", sig_path.display())),
        "{refused}"
    );
    // Without the policy nothing is asked for.
    assert_eq!(
        Policy::default()
            .read_verified(&dir.join("initrd.img"))
            .as_deref(),
        Ok(&b"an initrd"[..])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_security_table_fails_closed() {
    let parse = |text: &str| Policy::from_config(&Document::parse(text), "k.toml");
    let (policy, warnings) =
        parse("[security]\nrequire_signed = yes\ntrusted_keys = [\"RWQnot-a-key\"]\ncolour = 1\n");
    assert!(
        policy.require_signed,
        "a typo does not switch the check off"
    );
    assert!(policy.keys.is_empty());
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(warnings[0].contains("taken as true"), "{warnings:?}");
    assert!(warnings[1].contains("trusted_keys"), "{warnings:?}");
    assert!(warnings[2].contains("unknown key 'colour'"), "{warnings:?}");
    assert!(warnings[3].contains("will be refused"), "{warnings:?}");
    let refused = policy
        .check("vmlinuz", b"k", Err("absent".into()))
        .unwrap_err();
    assert_eq!(refused, "vmlinuz: no signature vmlinuz.minisig (absent)");
    let (off, warnings) = parse("[menu]\ntimeout = 3\n");
    assert_eq!((off, warnings.len()), (Policy::default(), 0));
}

#[test]
fn a_sealed_payload_cannot_be_changed_after_the_check() {
    let file = sealed("kernel", b"verified bytes").expect("memfd");
    let mut writer = &file;
    assert!(writer.write_all(b"other").is_err(), "writes are sealed");
    assert!(file.set_len(3).is_err(), "shrinking is sealed");
    let mut reread = String::new();
    std::fs::File::open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&file)
    ))
    .and_then(|mut f| f.read_to_string(&mut reread))
    .expect("reread");
    assert_eq!(reread, "verified bytes");
}

#[test]
fn key_ids_print_like_minisign_without_leading_zeros() {
    let id = minisign::KeyId([0x25, 0x2A, 0xFB, 0x7F, 0x08, 0x2D, 0xDB, 0x01]);
    assert_eq!(id.to_string(), "1DB2D087FFB2A25");
}
