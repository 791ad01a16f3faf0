use super::*;

/// A throwaway key made with `ssh-keygen -t ed25519 -N '' -C kboot-test` (test data only;
/// no image trusts it), its public line and `ssh-keygen -lf`'s fingerprint of it.
const PRIVATE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACB8I0cS5IlPi9UQ3UWcOrKtUZD7tA5AFzYqnBSQbIRVhgAAAJB5aOGueWjh
rgAAAAtzc2gtZWQyNTUxOQAAACB8I0cS5IlPi9UQ3UWcOrKtUZD7tA5AFzYqnBSQbIRVhg
AAAEAMWVfwOJIdZXybh1grIgTNWB7vsnarIeEbKdUTO4biGXwjRxLkiU+L1RDdRZw6sq1R
kPu0DkAXNiqcFJBshFWGAAAACmtib290LXRlc3QBAgM=
-----END OPENSSH PRIVATE KEY-----
";
const PUBLIC: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHwjRxLkiU+L1RDdRZw6sq1RkPu0DkAXNiqcFJBshFWG kboot-test";
const FINGERPRINT: &str = "SHA256:au9aX8YjNoK5eopZXK5yuEUlLqmjcMz8bzrsl1IWMO4";

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kboot-ssh-keys-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn a_supplied_key_has_ssh_keygens_fingerprint_and_matches_its_public_line() {
    let dir = scratch("supplied");
    std::fs::write(dir.join("key"), PRIVATE).expect("write");
    let host = HostKey::load_or_generate(&dir.join("key"), &dir.join("seed")).expect("key");
    assert_eq!(fingerprint(&host.public_blob()), FINGERPRINT);
    let (keys, warnings) = parse_authorized_keys(PUBLIC);
    assert_eq!(keys, vec![host.public_blob()], "{warnings:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_generated_key_is_kept_for_the_boot_and_signs_verifiably() {
    let dir = scratch("generated");
    let seed = dir.join("run/seed");
    let first = HostKey::load_or_generate(&dir.join("absent"), &seed).expect("generate");
    let again = HostKey::load_or_generate(&dir.join("absent"), &seed).expect("reload");
    assert_eq!(first.public_blob(), again.public_blob());
    assert!(again.origin.starts_with("generated,"), "{}", again.origin);
    let signature = first.sign(b"exchange hash");
    assert!(verify(&first.public_blob(), b"exchange hash", &signature));
    assert!(!verify(&first.public_blob(), b"exchange hasH", &signature));
    let other = HostKey::from_seed(&[9; 32], "other".into()).expect("key");
    assert!(!verify(&other.public_blob(), b"exchange hash", &signature));
    assert!(!verify(b"garbage", b"exchange hash", &signature));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_private_keys_and_unsupported_lines_are_explained() {
    assert!(openssh_private_seed("hello").is_err());
    let encrypted = PRIVATE.replace("AAAABG5vbmUAAAAEbm9uZQ", "AAAABmFlczI1NgAAAAEbm9uZQ");
    assert!(openssh_private_seed(&encrypted).is_err());
    let text = format!(
        "# site keys\n\n{PUBLIC}\nssh-rsa AAAAB3NzaC1yc2E= rsa\nfrom=\"10.0.0.1\" {PUBLIC}\nssh-ed25519 !!!\n"
    );
    let (keys, warnings) = parse_authorized_keys(&text);
    assert_eq!(keys.len(), 1);
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].contains("line 4: a ssh-rsa key is not supported"));
    assert!(warnings[1].contains("line 5: not a key line"));
}
