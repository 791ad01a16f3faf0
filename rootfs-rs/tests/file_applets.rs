//! File applets against real temp directories, compared with coreutils where output matters.
mod common;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;

fn tree() -> TempDir {
    let d = TempDir::new("files");
    d.write("src/a.txt", "alpha\n");
    d.write("src/sub/b.txt", "beta\n");
    d.write("src/sub/deeper/c.dat", "gamma gamma\n");
    d.write("src/.hidden", "h\n");
    std::os::unix::fs::symlink("a.txt", d.join("src/link")).expect("symlink");
    d
}

#[test]
fn ls_one_per_line_matches_coreutils() {
    let d = tree();
    for args in [
        &["-1", "src"][..],
        &["-1a", "src"],
        &["-1A", "src"],
        &["-1", "src", "src/sub"],
        &["-1R", "src"],
        &["-1d", "src"],
        &["src/a.txt", "src/sub"],
        &["-1", "missing", "src/sub"],
    ] {
        same_as_host(d.path(), "ls", "ls", args, "");
    }
}

#[test]
fn ls_long_format_columns() {
    let d = tree();
    let o = kboot_in(d.path(), "ls", &["-l", "src"], "");
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        stdout(&host_in(d.path(), "ls", &["-l", "src"], ""))
            .lines()
            .next()
            .unwrap_or(""),
        "total line"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("-rw-") && l.ends_with(" a.txt")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("lrwxrwxrwx") && l.ends_with(" link -> a.txt")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("drwx") && l.ends_with(" sub")),
        "{text}"
    );
    // Mode, links, owner, group and size columns agree with coreutils.
    let ours: Vec<Vec<String>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().take(5).map(String::from).collect())
        .collect();
    let host_text = stdout(&host_in(d.path(), "ls", &["-l", "src"], ""));
    let theirs: Vec<Vec<String>> = host_text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(5).map(String::from).collect())
        .collect();
    assert_eq!(ours, theirs);
    let big = d.join("big");
    std::fs::write(&big, vec![0u8; 5000]).expect("write");
    let o = kboot_in(d.path(), "ls", &["-lh", "big"], "");
    assert!(stdout(&o).contains(" 4.9K "), "{}", stdout(&o));
}

#[test]
fn cp_mv_rm_mkdir_rmdir_ln() {
    let d = tree();
    std::fs::set_permissions(
        d.join("src/sub/b.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    assert_eq!(
        code(&kboot_in(d.path(), "cp", &["-a", "src", "copy"], "")),
        0
    );
    assert_eq!(
        std::fs::read_to_string(d.join("copy/sub/deeper/c.dat")).unwrap_or_default(),
        "gamma gamma\n"
    );
    assert_eq!(
        std::fs::read_link(d.join("copy/link")).ok(),
        Some("a.txt".into())
    );
    assert_eq!(
        std::fs::metadata(d.join("copy/sub/b.txt"))
            .map(|m| m.mode() & 0o777)
            .ok(),
        Some(0o640)
    );
    let mtime = |p: &str| std::fs::metadata(d.join(p)).map(|m| m.mtime()).unwrap_or(0);
    assert_eq!(mtime("copy/sub/b.txt"), mtime("src/sub/b.txt"));
    // Without -r a directory is refused.
    let o = kboot_in(d.path(), "cp", &["src", "nope"], "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("cp: -r not specified; omitting directory 'src'"));
    // Copy into a directory.
    assert_eq!(
        code(&kboot_in(
            d.path(),
            "cp",
            &["src/a.txt", "src/sub/b.txt", "copy/sub/deeper"],
            ""
        )),
        0
    );
    assert!(d.join("copy/sub/deeper/a.txt").exists() && d.join("copy/sub/deeper/b.txt").exists());
    assert_eq!(
        code(&kboot_in(d.path(), "mv", &["copy/a.txt", "moved.txt"], "")),
        0
    );
    assert!(d.join("moved.txt").exists() && !d.join("copy/a.txt").exists());
    assert_eq!(code(&kboot_in(d.path(), "mkdir", &["-p", "x/y/z"], "")), 0);
    assert!(d.join("x/y/z").is_dir());
    let o = kboot_in(d.path(), "mkdir", &["x"], "");
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "mkdir: cannot create directory 'x': File exists\n"
    );
    assert_eq!(code(&kboot_in(d.path(), "rmdir", &["-p", "x/y/z"], "")), 0);
    assert!(!d.join("x").exists());
    assert_eq!(
        code(&kboot_in(d.path(), "ln", &["-s", "moved.txt", "sym"], "")),
        0
    );
    assert_eq!(
        std::fs::read_link(d.join("sym")).ok(),
        Some("moved.txt".into())
    );
    assert_eq!(
        code(&kboot_in(d.path(), "ln", &["-s", "src/a.txt", "sym"], "")),
        1
    );
    assert_eq!(
        code(&kboot_in(d.path(), "ln", &["-sf", "src/a.txt", "sym"], "")),
        0
    );
    assert_eq!(
        std::fs::read_to_string(d.join("sym")).unwrap_or_default(),
        "alpha\n"
    );
    assert_eq!(
        code(&kboot_in(d.path(), "ln", &["moved.txt", "hard"], "")),
        0
    );
    assert_eq!(
        std::fs::metadata(d.join("hard")).map(|m| m.nlink()).ok(),
        Some(2)
    );
    let o = kboot_in(d.path(), "rm", &["copy"], "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("rm: cannot remove 'copy': Is a directory"));
    assert_eq!(code(&kboot_in(d.path(), "rm", &["-r", "copy"], "")), 0);
    assert!(!d.join("copy").exists());
    assert_eq!(
        code(&kboot_in(d.path(), "rm", &["-f", "does-not-exist"], "")),
        0
    );
    let o = kboot_in(d.path(), "rm", &["does-not-exist"], "");
    assert_eq!(
        (code(&o), stderr(&o)),
        (
            1,
            "rm: cannot remove 'does-not-exist': No such file or directory\n".to_string()
        )
    );
}

#[test]
fn chmod_touch_stat_mknod() {
    let d = tree();
    let mode = |p: &str| {
        std::fs::metadata(d.join(p))
            .map(|m| m.mode() & 0o7777)
            .unwrap_or(0)
    };
    assert_eq!(
        code(&kboot_in(d.path(), "chmod", &["600", "src/a.txt"], "")),
        0
    );
    assert_eq!(mode("src/a.txt"), 0o600);
    assert_eq!(
        code(&kboot_in(
            d.path(),
            "chmod",
            &["u+x,g+r,o=r", "src/a.txt"],
            ""
        )),
        0
    );
    assert_eq!(mode("src/a.txt"), 0o744);
    assert_eq!(
        code(&kboot_in(
            d.path(),
            "chmod",
            &["-R", "go-rwx", "src/sub"],
            ""
        )),
        0
    );
    assert_eq!(
        (mode("src/sub"), mode("src/sub/deeper/c.dat")),
        (0o700, 0o600)
    );
    assert_eq!(
        code(&kboot_in(d.path(), "chmod", &["bogus", "src/a.txt"], "")),
        1
    );
    assert_eq!(
        code(&kboot_in(
            d.path(),
            "touch",
            &["-d", "2020-02-03 04:05:06", "new.txt"],
            ""
        )),
        0
    );
    same_as_host(
        d.path(),
        "stat",
        "stat",
        &["-c", "%n %s %a %A %F %h %Y", "new.txt", "src", "src/link"],
        "",
    );
    same_as_host(
        d.path(),
        "stat",
        "stat",
        &["-L", "-c", "%n %s %F", "src/link"],
        "",
    );
    same_as_host(d.path(), "stat", "stat", &["-c", "%n", "missing"], "");
    let full = stdout(&kboot_in(d.path(), "stat", &["new.txt"], ""));
    assert!(
        full.contains("  File: new.txt\n")
            && full.contains("regular empty file")
            && full.contains("Modify: 2020-02-03 04:05:06.000000000"),
        "{full}"
    );
    assert_eq!(code(&kboot_in(d.path(), "mknod", &["fifo", "p"], "")), 0);
    same_as_host(d.path(), "stat", "stat", &["-c", "%F", "fifo"], "");
    assert_eq!(
        code(&kboot_in(d.path(), "mknod", &["dev", "c", "1"], "")),
        1
    );
}

#[test]
fn find_matches_gnu_find() {
    let d = tree();
    let sorted = |o: std::process::Output| {
        let mut l: Vec<String> = stdout(&o).lines().map(String::from).collect();
        l.sort();
        (l, code(&o))
    };
    let cases: [&[&str]; 8] = [
        &["src"],
        &["src", "-name", "*.txt"],
        &["src", "-type", "d"],
        &["src", "-type", "l"],
        &["src", "-maxdepth", "1", "-type", "f"],
        &["src", "!", "-name", "*.txt", "-type", "f"],
        &["src", "-name", "b*", "-o", "-name", "c*"],
        &["src/sub", "src/a.txt", "-iname", "*.TXT"],
    ];
    for args in cases {
        assert_eq!(
            sorted(kboot_in(d.path(), "find", args, "")),
            sorted(host_in(d.path(), "find", args, "")),
            "find {args:?}"
        );
    }
    let o = kboot_in(d.path(), "find", &["src", "-bogus"], "");
    assert_eq!(code(&o), 1);
    let o = kboot_in(
        d.path(),
        "find",
        &["src", "-name", "a.txt", "-exec", "cat", "{}", ";"],
        "",
    );
    assert_eq!(stdout(&o), "alpha\n");
}

#[test]
fn dd_copies_blocks_and_reports_records() {
    let d = TempDir::new("dd");
    let data: Vec<u8> = (0..10000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(d.join("in"), &data).expect("write");
    for args in [
        &["if=in", "of=out", "bs=1024"][..],
        &["if=in", "of=out2", "bs=512", "count=3", "skip=2"],
        &["if=in", "of=out3", "bs=1k", "seek=2", "count=1"],
    ] {
        let ours = kboot_in(d.path(), "dd", args, "");
        let out_name = args[1].trim_start_matches("of=");
        let our_bytes: Vec<u8> = std::fs::read(d.join(out_name)).unwrap_or_default();
        let host_args: Vec<String> = args
            .iter()
            .map(|a| a.replace(out_name, &format!("{out_name}.ref")))
            .collect();
        let host_args: Vec<&str> = host_args.iter().map(|s| s.as_str()).collect();
        let theirs = host_in(d.path(), "dd", &host_args, "");
        let ref_bytes: Vec<u8> =
            std::fs::read(d.join(&format!("{out_name}.ref"))).unwrap_or_default();
        assert_eq!(our_bytes, ref_bytes, "dd {args:?}");
        let records = |o: &std::process::Output| {
            stderr(o)
                .lines()
                .take(2)
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(records(&ours), records(&theirs), "dd {args:?}");
        assert_eq!(code(&ours), 0);
    }
    let o = kboot_in(d.path(), "dd", &["if=missing"], "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("dd: failed to open 'missing': No such file or directory"));
}

#[test]
fn du_and_df() {
    let d = tree();
    std::fs::write(d.join("src/big"), vec![1u8; 100_000]).expect("write");
    same_as_host(d.path(), "du", "du", &["-s", "src"], "");
    let ours = stdout(&kboot_in(d.path(), "du", &["src"], ""));
    let theirs = stdout(&host_in(d.path(), "du", &["src"], ""));
    let mut a: Vec<&str> = ours.lines().collect();
    let mut b: Vec<&str> = theirs.lines().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let o = kboot_in(d.path(), "df", &["."], "");
    let text = stdout(&o);
    assert!(
        text.starts_with("Filesystem") && text.lines().count() == 2,
        "{text}"
    );
    let host = stdout(&host_in(d.path(), "df", &["-P", "."], ""));
    let fields = |t: &str| {
        t.lines()
            .nth(1)
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(fields(&text), fields(&host), "total size column");
}

#[test]
fn chown_and_touch_no_create() {
    let d = tree();
    let ids = |p: &str| {
        std::fs::symlink_metadata(d.join(p))
            .map(|m| (m.uid(), m.gid()))
            .unwrap_or((u32::MAX, u32::MAX))
    };
    let me = ids("src/a.txt");
    if me.0 == 0 {
        // As root: change to numeric ids and back, recursively.
        assert_eq!(
            code(&kboot_in(
                d.path(),
                "chown",
                &["-R", "1234:4321", "src/sub"],
                ""
            )),
            0
        );
        assert_eq!(
            (ids("src/sub"), ids("src/sub/deeper/c.dat")),
            ((1234, 4321), (1234, 4321))
        );
        assert_eq!(
            code(&kboot_in(d.path(), "chown", &[":99", "src/a.txt"], "")),
            0
        );
        assert_eq!(ids("src/a.txt"), (0, 99));
        // -h changes the link itself, not its target.
        assert_eq!(
            code(&kboot_in(d.path(), "chown", &["-h", "7", "src/link"], "")),
            0
        );
        assert_eq!((ids("src/link").0, ids("src/a.txt").0), (7, 0));
    }
    let o = kboot_in(d.path(), "chown", &["no-such-user-xyz", "src/a.txt"], "");
    assert_eq!(
        (code(&o), stderr(&o)),
        (1, "chown: invalid user: 'no-such-user-xyz'\n".to_string())
    );
    assert_eq!(
        code(&kboot_in(d.path(), "touch", &["-c", "not-created"], "")),
        0
    );
    assert!(!d.join("not-created").exists());
    assert_eq!(code(&kboot_in(d.path(), "sync", &[], "")), 0);
}
