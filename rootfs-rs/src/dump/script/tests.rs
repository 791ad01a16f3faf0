//! The language on its own (no dump): what the subset runs, and the limits.

use super::{run_source, Limits, ScriptError, DEFAULT_LIMITS};
use std::time::Duration;

fn run(src: &str) -> Result<String, ScriptError> {
    let mut out = Vec::new();
    run_source(src, &["t.py".into()], None, &mut out, DEFAULT_LIMITS)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn ok(src: &str) -> String {
    match run(src) {
        Ok(s) => s,
        Err(e) => panic!("{}", e.describe("t.py")),
    }
}

#[test]
fn the_subset_runs_python() {
    let src = r#"
class Point:
    def __init__(self, x, y=2):
        self.x = x
        self.y = y
    def total(self):
        return self.x + self.y

class Odd(ValueError):
    pass

def adder(n):
    return lambda v: v + n

def walk(*items, **opts):
    return len(items), sorted(opts.items())

squares = {k: [v * v for v in range(k)] for k in range(4) if k % 2}
try:
    raise Odd("bad %d" % 7)
except ValueError as e:
    caught = f"{type(e).__name__}: {e}"
finally:
    done = True
total = 0
i = 0
while True:
    i += 1
    if i > 10:
        break
    if i % 2:
        continue
    total += i
a, *b = [1, 2, 3]
print(Point(3).total(), adder(5)(1), squares, caught, done, total, a, b)
print(walk(1, 2, z=3, a=1), sorted(["b", "a"], key=lambda s: s, reverse=True))
print(f"{255:#x} {255:>6} {'ab':<4}| {3.14159:.2f} {-5:05d} {1234567:,} {'x'!r}")
print("%-5s|%5d|%x|%08.3f" % ("ab", 42, 255, 3.5), "a,b,,c".split(","), " x ".strip())
print(0xffffffff81000000 + 0x10, -7 // 2, -7 % 3, 2 ** 64, 1 << 70 >> 69, divmod(7, 2))
print(set([3, 1, 3]) == {1, 3}, 3 in range(0, 10, 3), "ab" in "cabd", [1, 2][::-1], "hello"[1:3])
print(any(x > 2 for x in [1, 3]), max([3, 9, 2]), min(4, 1), sum(range(5)), abs(-3), int("0x1f", 16))
"#;
    assert_eq!(
        ok(src),
        "5 6 {1: [0], 3: [0, 1, 4]} Odd: bad 7 True 30 1 [2, 3]\n\
         (2, [('a', 1), ('z', 3)]) ['b', 'a']\n\
         0xff    255 ab  | 3.14 -0005 1,234,567 'x'\n\
         ab   |   42|ff|0003.500 ['a', 'b', '', 'c'] x\n\
         18446744071578845200 -4 2 18446744073709551616 2 (3, 1)\n\
         True True True [2, 1] el\n\
         True 9 1 10 3 31\n"
    );
}

#[test]
fn errors_are_python_exceptions_with_lines() {
    let e = run("x = 1\ny = {}\nprint(y['k'])\n").unwrap_err();
    let text = e.describe("t.py");
    assert!(
        text.contains("line 3") && text.ends_with("KeyError: 'k'"),
        "{text}"
    );
    let e = run("def f(:\n  pass\n").unwrap_err();
    assert!(matches!(e, ScriptError::Syntax { line: 1, .. }), "{e}");
    assert!(
        ok("try:\n  open('/etc/passwd')\nexcept PermissionError as e:\n  print('no')\n") == "no\n"
    );
    assert!(matches!(
        run("import sys\nsys.exit(3)\n"),
        Err(ScriptError::Exit(3))
    ));
}

#[test]
fn limits_stop_endless_loops_and_huge_allocations() {
    let limits = Limits {
        time: Duration::from_millis(200),
        memory: 8 << 20,
    };
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    let e = run_source("while True:\n    pass\n", &[], None, &mut out, limits).unwrap_err();
    assert!(
        matches!(&e, ScriptError::Limit(m) if m.contains("time limit")),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // An exception handler cannot swallow a limit.
    let src = "try:\n    x = [0] * 10**9\nexcept Exception:\n    print('caught')\n";
    let e = run_source(src, &[], None, &mut out, limits).unwrap_err();
    assert!(
        matches!(&e, ScriptError::Limit(m) if m.contains("memory limit")),
        "{e}"
    );
    let src = "s = []\nwhile True:\n    s.append('x' * 1000)\n";
    let e = run_source(src, &[], None, &mut out, limits).unwrap_err();
    assert!(
        matches!(&e, ScriptError::Limit(m) if m.contains("memory limit")),
        "{e}"
    );
    assert!(out.is_empty());
}

#[test]
fn hostile_nesting_is_a_syntax_error_not_a_stack_overflow() {
    let deep = format!("x = {}1{}\n", "(".repeat(100_000), ")".repeat(100_000));
    assert!(matches!(run(&deep), Err(ScriptError::Syntax { .. })));
    let mut blocks = String::new();
    for i in 0..200 {
        blocks.push_str(&format!("{}if True:\n", " ".repeat(i)));
    }
    blocks.push_str(&format!("{}pass\n", " ".repeat(200)));
    assert!(matches!(run(&blocks), Err(ScriptError::Syntax { .. })));
    // Prefix chains are parsed in a loop.
    assert_eq!(ok(&format!("print({}1)\n", "-".repeat(200))), "1\n");
    assert_eq!(
        ok(&format!("print({}False)\n", "not ".repeat(200))),
        "False\n"
    );
    assert!(matches!(
        run(&format!("x = {}1\n", "-".repeat(100_000))),
        Err(ScriptError::Syntax { .. })
    ));
}
