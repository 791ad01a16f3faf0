//! Text applets compared with GNU coreutils on the same inputs.
mod common;
use common::*;

const SAMPLE: &str =
    "banana 3 yellow\napple 10 red\ncherry 2 red\napple 10 red\n\ndate 7 brown\nBanana 1 green\n";

fn sample_dir() -> TempDir {
    let d = TempDir::new("text");
    d.write("fruit.txt", SAMPLE);
    d.write("nums.txt", "10\n9\n-3\n100\n2.5\nx\n9\n");
    d.write("noeol.txt", "one\ntwo\nthree");
    d.write("csv.txt", "a,b,c,d\n1,2,3,4\nno-delimiter\n,,x,\n");
    d
}

#[test]
fn wc_matches_coreutils() {
    let d = sample_dir();
    for args in [
        &["fruit.txt"][..],
        &["-l", "fruit.txt"],
        &["-w", "fruit.txt", "nums.txt"],
        &["-c", "noeol.txt"],
        &["-lwc", "fruit.txt", "noeol.txt"],
        &[],
    ] {
        same_as_host(d.path(), "wc", "wc", args, SAMPLE);
    }
    same_as_host(d.path(), "wc", "wc", &["-l", "missing.txt"], "");
}

#[test]
fn sort_matches_coreutils() {
    let d = sample_dir();
    for args in [
        &["fruit.txt"][..],
        &["-r", "fruit.txt"],
        &["-n", "nums.txt"],
        &["-u", "fruit.txt"],
        &["-rn", "nums.txt"],
        &["-k", "2", "-n", "fruit.txt"],
        &["-t", ",", "-k", "3", "csv.txt"],
        &["-nu", "nums.txt"],
    ] {
        same_as_host(d.path(), "sort", "sort", args, "");
    }
}

#[test]
fn uniq_and_cut_and_tr_match_coreutils() {
    let d = sample_dir();
    let sorted = stdout(&host_in(d.path(), "sort", &["fruit.txt"], ""));
    for args in [&[][..], &["-c"], &["-d"], &["-u"], &["-ci"]] {
        same_as_host(d.path(), "uniq", "uniq", args, &sorted);
    }
    for args in [
        &["-d", ",", "-f", "2"][..],
        &["-d", ",", "-f", "1,3-"],
        &["-d", ",", "-s", "-f", "-2"],
        &["-c", "2-4", "fruit.txt"],
        &["-d", " ", "-f", "3", "fruit.txt"],
    ] {
        same_as_host(
            d.path(),
            "cut",
            "cut",
            args,
            "a,b,c,d\n1,2,3,4\nno-delimiter\n",
        );
    }
    for args in [
        &["a-z", "A-Z"][..],
        &["-d", "aeiou"],
        &["-s", "a-z"],
        &["[:lower:]", "[:upper:]"],
        &["-cd", "a-z\\n"],
        &["abc", "x"],
        &["-s", " "],
    ] {
        same_as_host(
            d.path(),
            "tr",
            "tr",
            args,
            "hello   world, the quick brown fox\nzzz  aaa\n",
        );
    }
}

#[test]
fn head_and_tail_match_coreutils() {
    let d = sample_dir();
    for args in [
        &["fruit.txt"][..],
        &["-n", "2", "fruit.txt"],
        &["-n2", "fruit.txt"],
        &["-c", "5", "fruit.txt"],
        &["-n", "-2", "fruit.txt"],
        &["-n", "1", "fruit.txt", "noeol.txt"],
        &["-3", "nums.txt"],
    ] {
        same_as_host(d.path(), "head", "head", args, "");
    }
    for args in [
        &["fruit.txt"][..],
        &["-n", "2", "fruit.txt"],
        &["-n", "+3", "fruit.txt"],
        &["-c", "4", "noeol.txt"],
        &["-n", "1", "noeol.txt"],
        &["-n", "2", "fruit.txt", "noeol.txt"],
        &["-2", "nums.txt"],
    ] {
        same_as_host(d.path(), "tail", "tail", args, "");
    }
}

#[test]
fn tail_follow_sees_appended_lines() {
    let d = sample_dir();
    let log = d.write("grow.log", "first\n");
    let mut child = std::process::Command::new(KBOOT)
        .args(["tail", "-f", "-n", "1"])
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tail -f");
    std::thread::sleep(std::time::Duration::from_millis(400));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open log");
        f.write_all(b"second\n").expect("append");
    }
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first\nsecond\n");
}

#[test]
fn digests_match_coreutils() {
    let d = sample_dir();
    let big: String = (0..20000).map(|i| format!("line {i}\n")).collect();
    d.write("big.txt", &big);
    d.write("empty.txt", "");
    for (ours, theirs) in [("md5sum", "md5sum"), ("sha256sum", "sha256sum")] {
        same_as_host(
            d.path(),
            ours,
            theirs,
            &["fruit.txt", "big.txt", "empty.txt", "noeol.txt"],
            "",
        );
        same_as_host(d.path(), ours, theirs, &[], "from stdin\n");
        let list = stdout(&host_in(d.path(), theirs, &["fruit.txt", "big.txt"], ""));
        d.write("sums", &list);
        same_as_host(d.path(), ours, theirs, &["-c", "sums"], "");
        d.write("bad.txt", "x");
        d.write(
            "sums2",
            &format!(
                "{}  bad.txt\n",
                "0".repeat(if ours == "md5sum" { 32 } else { 64 })
            ),
        );
        assert_eq!(code(&kboot_in(d.path(), ours, &["-c", "sums2"], "")), 1);
    }
}

#[test]
fn grep_matches_coreutils() {
    let d = sample_dir();
    let cases: [&[&str]; 12] = [
        &["-c", "red", "fruit.txt"],
        &["-c", "-v", "red", "fruit.txt"],
        &["-n", "^a", "fruit.txt"],
        &["-i", "banana", "fruit.txt"],
        &["-c", "e.*e", "fruit.txt"],
        &["[0-9][0-9]", "fruit.txt"],
        &["-l", "red", "fruit.txt", "nums.txt"],
        &["y$", "fruit.txt"],
        &["-c", "^$", "fruit.txt"],
        &["nothing-here", "fruit.txt"],
        &["-e", "apple", "-e", "date", "fruit.txt"],
        &["-F", "2.5", "nums.txt"],
    ];
    for args in cases {
        same_as_host(d.path(), "grep", "grep", args, "");
    }
    d.write("tree/a/x.txt", "needle\n");
    d.write("tree/b.txt", "hay\nneedle here\n");
    // GNU grep -r visits entries in readdir order, ours sorts: compare the sets of lines.
    let lines = |o: &std::process::Output| {
        let mut l: Vec<String> = stdout(o).lines().map(String::from).collect();
        l.sort();
        l
    };
    let ours = kboot_in(d.path(), "grep", &["-rn", "needle", "tree"], "");
    let theirs = host_in(d.path(), "grep", &["-rn", "needle", "tree"], "");
    assert_eq!(lines(&ours), lines(&theirs));
    assert_eq!(lines(&ours).len(), 2);
    same_as_host(d.path(), "grep", "grep", &["-c", "x", "missing-file"], "");
}

#[test]
fn sed_substitutions_match_gnu_sed() {
    let d = sample_dir();
    for script in [
        "s/red/RED/",
        "s/a/_/g",
        "s/a/_/2",
        "s/^\\([a-z]*\\) \\([0-9]*\\)/\\2 \\1/",
        "s/[0-9][0-9]*/<&>/g",
        "/apple/d",
        "s|e|E|g",
        "2p",
        "$s/$/ END/",
    ] {
        same_as_host(d.path(), "sed", "sed", &[script, "fruit.txt"], "");
    }
    same_as_host(
        d.path(),
        "sed",
        "sed",
        &["-n", "s/red/RED/p", "fruit.txt"],
        "",
    );
    let f = d.write(
        "inplace.txt",
        "menuentry 'Linux' {\n  linux /vmlinuz root=/dev/sda1\n}\n",
    );
    let o = kboot_in(d.path(), "sed", &["-i", "s/sda1/vda2/", "inplace.txt"], "");
    assert_eq!(code(&o), 0);
    assert_eq!(
        std::fs::read_to_string(f).unwrap_or_default(),
        "menuentry 'Linux' {\n  linux /vmlinuz root=/dev/vda2\n}\n"
    );
}

#[test]
fn cat_echo_printf_hexdump() {
    let d = sample_dir();
    same_as_host(
        d.path(),
        "cat",
        "cat",
        &["fruit.txt", "-", "noeol.txt"],
        "middle\n",
    );
    same_as_host(d.path(), "cat", "cat", &["-n", "fruit.txt"], "");
    same_as_host(d.path(), "cat", "cat", &["nope.txt"], "");
    same_as_host(d.path(), "echo", "echo", &["-n", "a", "b"], "");
    same_as_host(
        d.path(),
        "echo",
        "/bin/echo",
        &["-e", "tab\\there\\nnew\\0101"],
        "",
    );
    same_as_host(
        d.path(),
        "printf",
        "printf",
        &[
            "%s=%5d|%-3s|%x|%o|%c|%%|%05.1f\\n",
            "k",
            "42",
            "ab",
            "255",
            "8",
            "xyz",
            "3.14159",
        ],
        "",
    );
    same_as_host(d.path(), "printf", "printf", &["%s\\n", "a", "b", "c"], "");
    same_as_host(
        d.path(),
        "printf",
        "printf",
        &["%b|%e\\n", "x\\ty", "12345.678"],
        "",
    );
    let bin: Vec<u8> = (0u8..=255)
        .chain(std::iter::repeat_n(7u8, 64))
        .chain(b"tail".iter().copied())
        .collect();
    std::fs::write(d.join("bin"), bin).expect("write bin");
    same_as_host(d.path(), "hexdump", "hexdump", &["-C", "bin"], "");
    same_as_host(
        d.path(),
        "hexdump",
        "hexdump",
        &["-C", "-n", "20", "-s", "3", "bin"],
        "",
    );
}

#[test]
fn help_and_usage_errors() {
    for applet in [
        "ls", "cat", "grep", "sort", "wc", "cp", "mount", "blkid", "dd", "sed", "find", "kill",
        "printf",
    ] {
        let o = kboot(applet, &["--help"], "");
        assert_eq!(code(&o), 0, "{applet} --help");
        assert!(
            stdout(&o).contains("usage:"),
            "{applet} --help prints usage"
        );
    }
    let o = kboot("ls", &["--bogus"], "");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("ls: unrecognized option '--bogus'"));
    let o = kboot("grep", &["-Z", "x"], "");
    assert_eq!(code(&o), 2);
    let o = kboot("cat", &["-Z"], "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("cat: invalid option -- 'Z'"));
}

#[test]
fn closed_pipe_is_a_quiet_exit() {
    let d = sample_dir();
    let big: String = (0..200000).map(|i| format!("{i}\n")).collect();
    d.write("big.txt", &big);
    for applet in [
        "cat big.txt",
        "sort big.txt",
        "grep 1 big.txt",
        "ls -R /usr/share",
        "hexdump -C big.txt",
    ] {
        let o = sh_in(
            d.path(),
            &format!("{applet} | head -n 1 > /dev/null; echo done"),
        );
        assert_eq!(stdout(&o), "done\n", "{applet}");
        assert!(
            !stderr(&o).contains("Broken pipe") && !stderr(&o).contains("panicked"),
            "{applet}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn more_pages_on_a_terminal_and_cats_otherwise() {
    let d = TempDir::new("more");
    let text: String = (1..=60).map(|i| format!("{i}\n")).collect();
    d.write("sixty.txt", &text);
    // Not a terminal: plain copy.
    assert_eq!(
        stdout(&kboot_in(d.path(), "more", &["sixty.txt"], "")),
        text
    );
    qemu_tests::host_tools::require(&["script"]);
    // On a pty (0x0 window size, so 24 rows): 23 lines, a prompt, space for a page, q to quit.
    let cmd = format!("{KBOOT} more {}", d.join("sixty.txt").display());
    let mut child = qemu_tests::host_tools::command("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn script");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        for key in [" ", "q"] {
            std::thread::sleep(std::time::Duration::from_millis(400));
            let _ = input.write_all(key.as_bytes());
            let _ = input.flush();
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let out = child.wait_with_output().expect("wait");
    let shown = String::from_utf8_lossy(&out.stdout)
        .replace("\x1b[7m", "")
        .replace("\x1b[0m", "")
        .replace("\x1b[K", "");
    let lines: Vec<&str> = shown
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines.iter().filter(|l| **l == "--More--").count(),
        2,
        "{lines:?}"
    );
    assert!(lines.contains(&"46") && !lines.contains(&"47"), "{lines:?}");
}
