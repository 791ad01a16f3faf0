//! The `sh` applet: quoting, expansion, control flow, pipelines, redirections and scripts.
mod common;
use common::*;

fn sh(script: &str) -> (String, String, i32) {
    let d = TempDir::new("sh");
    let o = sh_in(d.path(), script);
    (stdout(&o), stderr(&o), code(&o))
}

fn out(script: &str) -> String {
    sh(script).0
}

#[test]
fn quoting_and_escapes() {
    assert_eq!(
        out(r#"echo 'single $HOME "x"' "double \"q\" \$ \\" back\ slash"#),
        "single $HOME \"x\" double \"q\" $ \\ back slash\n"
    );
    assert_eq!(out(r#"printf '[%s]' a"b"'c' "" ''; echo"#), "[abc][][]\n");
    assert_eq!(out("echo a\\\nb"), "ab\n");
    assert_eq!(out("echo '#not' a#b # comment"), "#not a#b\n");
}

#[test]
fn variables_and_parameters() {
    assert_eq!(
        out(r#"x="a  b"; echo $x; echo "$x"; echo ${x}c "${x}c""#),
        "a b\na  b\na bc a  bc\n"
    );
    assert_eq!(
        out(r#"echo ${unset:-dflt} ${unset-d2} ${e:=set}; echo $e; y=v; echo ${y:+alt} ${#y}"#),
        "dflt d2 set\nset\nalt 1\n"
    );
    assert_eq!(
        out(r#"p=/boot/vmlinuz-6.1.tar.gz; echo ${p##*/} ${p%%.*} ${p#/} ${p%.gz}"#),
        "vmlinuz-6.1.tar.gz /boot/vmlinuz-6 boot/vmlinuz-6.1.tar.gz /boot/vmlinuz-6.1.tar\n"
    );
    let d = TempDir::new("params");
    let o = kboot_in(
        d.path(),
        "sh",
        &[
            "-c",
            r#"echo $0 $# $1 "$2"; for a in "$@"; do echo "<$a>"; done; shift; echo $*"#,
            "zero",
            "one",
            "two words",
        ],
        "",
    );
    assert_eq!(
        stdout(&o),
        "zero 2 one two words\n<one>\n<two words>\ntwo words\n"
    );
    let (o, _, _) = sh("echo $$ > pid; read p < pid; test \"$p\" -gt 0 && echo pid-ok");
    assert_eq!(o, "pid-ok\n");
    assert_eq!(out("export FOO=bar; env | grep ^FOO="), "FOO=bar\n");
    assert_eq!(out("BAR=local; env | grep -c ^BAR="), "0\n");
    assert_eq!(out("Z=1 env | grep ^Z="), "Z=1\n");
    assert_eq!(out("x=1; unset x; echo \"[$x]\""), "[]\n");
}

#[test]
fn status_and_and_or() {
    assert_eq!(out("false; echo $?; true; echo $?"), "1\n0\n");
    assert_eq!(
        out("true && echo yes || echo no; false && echo yes || echo no"),
        "yes\nno\n"
    );
    assert_eq!(out("! false && echo negated"), "negated\n");
    let (o, e, c) = sh("no-such-command-xyz; echo $?");
    assert_eq!(o, "127\n");
    assert!(e.contains("sh: no-such-command-xyz: not found"), "{e}");
    assert_eq!(c, 0);
    assert_eq!(sh("exit 7").2, 7);
    assert_eq!(sh("false").2, 1);
    assert_eq!(sh("set -e; false; echo unreachable").0, "");
    assert_eq!(
        sh("set -e; false || true; if false; then :; fi; echo reached").0,
        "reached\n"
    );
}

#[test]
fn pipelines_and_substitution() {
    assert_eq!(out("printf 'b\\na\\nc\\n' | sort | head -n 2"), "a\nb\n");
    assert_eq!(out("echo hello | tr a-z A-Z | sed s/L/_/g"), "HE__O\n");
    assert_eq!(
        out("printf '1\\n2\\n3\\n' | while read n; do echo \"n=$n\"; done"),
        "n=1\nn=2\nn=3\n"
    );
    assert_eq!(
        out("false | true; echo $?; true | false; echo $?"),
        "0\n1\n"
    );
    assert_eq!(
        out("x=$(echo inner | tr a-z A-Z); echo \"got $x\" `echo back`"),
        "got INNER back\n"
    );
    assert_eq!(out("echo $(( (2 + 3) * 4 - 10 / 3 )) $((7 % 4))"), "17 3\n");
    assert_eq!(out("n=5; n=$((n - 1)); echo $n"), "4\n");
    assert_eq!(out("echo \"$(printf 'a\\nb\\n\\n')\""), "a\nb\n");
    // Functions are visible in pipeline stages and command substitutions (child shells).
    assert_eq!(
        out("up() { tr a-z A-Z; }; echo shout | up; x=$(echo quiet | up); echo $x"),
        "SHOUT\nQUIET\n"
    );
    assert_eq!(
        out("count=0; printf 'a\\nb\\n' | while read l; do count=$((count+1)); echo $count; done"),
        "1\n2\n"
    );
}

#[test]
fn redirections() {
    let d = TempDir::new("redir");
    let o = sh_in(d.path(), "echo one > f; echo two >> f; cat < f; ls missing-file 2> err; cat err | grep -c missing; ls missing-file > both 2>&1; grep -c 'No such file' both; echo x 1>&2");
    assert_eq!(stdout(&o), "one\ntwo\n1\n1\n");
    assert_eq!(stderr(&o), "x\n");
    assert_eq!(
        std::fs::read_to_string(d.join("f")).unwrap_or_default(),
        "one\ntwo\n"
    );
    let o = sh_in(d.path(), "cat < nonexistent; echo status=$?");
    assert_eq!(stdout(&o), "status=1\n");
    assert!(stderr(&o).contains("nonexistent: No such file or directory"));
    let o = sh_in(
        d.path(),
        "for i in 1 2 3; do echo $i; done > loop.txt; cat loop.txt | wc -l",
    );
    assert_eq!(stdout(&o), "3\n");
    let o = sh_in(
        d.path(),
        "{ echo a; echo b; } > grouped; cat grouped; (echo sub; exit 3); echo $?",
    );
    assert_eq!(stdout(&o), "a\nb\nsub\n3\n");
}

#[test]
fn control_flow() {
    assert_eq!(
        out("if false; then echo a; elif true; then echo b; else echo c; fi"),
        "b\n"
    );
    assert_eq!(
        out("if [ 2 -gt 1 ] && [ -d / ]; then echo yes; fi"),
        "yes\n"
    );
    assert_eq!(
        out("for x in a b c; do if [ $x = b ]; then continue; fi; echo $x; done"),
        "a\nc\n"
    );
    assert_eq!(
        out("i=0; while true; do i=$((i+1)); if [ $i -ge 3 ]; then break; fi; done; echo $i"),
        "3\n"
    );
    assert_eq!(
        out("i=0; until [ $i -eq 2 ]; do i=$((i+1)); echo u$i; done"),
        "u1\nu2\n"
    );
    assert_eq!(
        out("f() { echo \"f:$1:$#\"; return 4; }; f x y; echo $?"),
        "f:x:2\n4\n"
    );
    assert_eq!(
        out("for f in a b; do for g in 1 2; do [ $g = 2 ] && break 2; echo $f$g; done; done"),
        "a1\n"
    );
    let d = TempDir::new("glob");
    d.write("one.cfg", "");
    d.write("two.cfg", "");
    d.write("three.txt", "");
    assert_eq!(
        stdout(&sh_in(d.path(), "echo *.cfg; echo '*.cfg'; echo *.none")),
        "one.cfg two.cfg\n*.cfg\n*.none\n"
    );
    assert_eq!(
        stdout(&sh_in(d.path(), "for f in t*; do echo $f; done")),
        "three.txt\ntwo.cfg\n"
    );
}

#[test]
fn scripts_and_syntax_errors() {
    let d = TempDir::new("scripts");
    let script = d.write("s.sh", "#!/bin/sh\n# a comment\nname=$1\nif [ -z \"$name\" ]; then\n  echo usage >&2\n  exit 2\nfi\nfor i in 1 2; do\n  echo \"$name $i\"\ndone\n");
    let o = kboot_in(d.path(), "sh", &[script.to_str().unwrap_or(""), "demo"], "");
    assert_eq!((stdout(&o), code(&o)), ("demo 1\ndemo 2\n".to_string(), 0));
    let o = kboot_in(d.path(), "sh", &["s.sh"], "");
    assert_eq!((stderr(&o), code(&o)), ("usage\n".to_string(), 2));
    d.write("lib.sh", "greet() { echo \"hi $1\"; }\nLIBVAR=loaded\n");
    assert_eq!(
        stdout(&sh_in(d.path(), ". ./lib.sh; greet you; echo $LIBVAR")),
        "hi you\nloaded\n"
    );
    // A script without #! is run by the shell when executed directly.
    let plain = d.write("plain", "echo plain $1\n");
    std::fs::set_permissions(&plain, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    assert_eq!(stdout(&sh_in(d.path(), "./plain arg")), "plain arg\n");
    // Script from stdin.
    let o = kboot_in(d.path(), "sh", &[], "echo from stdin\nexit 5\n");
    assert_eq!((stdout(&o), code(&o)), ("from stdin\n".to_string(), 5));
    for bad in [
        "if true; then echo x",
        "echo 'open",
        "fi",
        "echo a ||",
        "for x in; do",
    ] {
        let o = sh_in(d.path(), bad);
        assert_eq!(code(&o), 2, "{bad}");
        assert!(
            stderr(&o).starts_with("sh: syntax error"),
            "{bad}: {}",
            stderr(&o)
        );
    }
    let o = kboot_in(d.path(), "sh", &["missing.sh"], "");
    assert_eq!(code(&o), 127);
}

#[test]
fn builtins_cd_read_eval() {
    let d = TempDir::new("builtins");
    std::fs::create_dir(d.join("sub")).expect("mkdir");
    assert_eq!(
        stdout(&sh_in(
            d.path(),
            "cd sub && pwd | sed 's|.*/||'; cd ..; cd nowhere; echo $?"
        )),
        "sub\n1\n"
    );
    assert_eq!(
        stdout(&sh_in(
            d.path(),
            "echo 'a b c' | { read x rest; echo \"$x|$rest\"; }"
        )),
        "a|b c\n"
    );
    assert_eq!(
        stdout(&sh_in(
            d.path(),
            "cmd='echo evaluated'; eval $cmd; command -v ls"
        )),
        "evaluated\nls\n"
    );
    assert_eq!(
        stdout(&sh_in(d.path(), "set -- x y z; echo $#; set a; echo $1")),
        "3\na\n"
    );
    assert_eq!(
        stdout(&sh_in(d.path(), "exec echo replaced; echo not-here")),
        "replaced\n"
    );
}

#[test]
fn case_statements() {
    let script = r#"for x in vmlinuz-6.1 initrd.img grub.cfg "a*b" other; do
  case $x in
    vmlinuz*|bzImage) echo "$x: kernel" ;;
    initrd*) echo "$x: initrd" ;;
    *.cfg) echo "$x: config" ;;
    "a*b") echo "$x: literal star" ;;
    *) echo "$x: unknown"
  esac
done
case x in (y) echo no;; esac; echo status=$?"#;
    assert_eq!(
        out(script),
        "vmlinuz-6.1: kernel\ninitrd.img: initrd\ngrub.cfg: config\na*b: literal star\nother: unknown\nstatus=0\n"
    );
    let (_, e, c) = sh("case x in\n  x) echo unterminated ;;\n");
    assert_eq!(c, 2);
    assert!(e.contains("syntax error"), "{e}");
}

#[test]
fn here_documents() {
    let script = "name=kboot\ncat <<EOF\nhello $name \\$HOME '$(echo sub)'\nEOF\ncat <<-'RAW'\n\t$name\n\tRAW\nwhile read a b; do echo \"$b-$a\"; done <<END\n1 2\n3 4\nEND\n";
    assert_eq!(out(script), "hello kboot $HOME 'sub'\n$name\n2-1\n4-3\n");
    let d = TempDir::new("heredoc");
    let o = sh_in(d.path(), "cat > cfg <<EOF\nset timeout=5\nEOF\ncat cfg");
    assert_eq!(stdout(&o), "set timeout=5\n");
}

#[test]
fn background_jobs_and_wait() {
    let d = TempDir::new("jobs");
    let o = sh_in(d.path(), "(sleep 0.3; echo late > late.txt) & echo started; wait; cat late.txt; test -n \"$!\" && echo has-pid");
    assert_eq!(stdout(&o), "started\nlate\nhas-pid\n");
}
