//! Symbolic and octal file modes (`u+x`, `go-w`, `a=rX`, `755`) applied to a mode, for
//! chmod, mkdir -m and mknod -m.

/// New mode bits from `spec` applied to `old`; `is_dir` matters for `X`.
pub fn apply_mode(spec: &str, old: u32, is_dir: bool) -> Option<u32> {
    if !spec.is_empty() && spec.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return u32::from_str_radix(spec, 8).ok().filter(|&m| m <= 0o7777);
    }
    let mut mode = old & 0o7777;
    let umask = current_umask();
    for clause in spec.split(',') {
        let who_end = clause.find(|c| !"ugoa".contains(c)).unwrap_or(clause.len());
        let who_text = &clause[..who_end];
        let mut who = 0u32;
        for c in who_text.chars() {
            who |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                _ => 0o7777,
            };
        }
        let mut rest = &clause[who_end..];
        if rest.is_empty() {
            return None;
        }
        while let Some(op) = rest.chars().next() {
            if !"+-=".contains(op) {
                return None;
            }
            let perm_end = rest[1..]
                .find(['+', '-', '='])
                .map(|i| i + 1)
                .unwrap_or(rest.len());
            let perms = &rest[1..perm_end];
            rest = &rest[perm_end..];
            let mut bits = 0u32;
            for c in perms.chars() {
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || mode & 0o111 != 0 => 0o111,
                    'X' => 0,
                    's' => 0o6000,
                    't' => 0o1000,
                    _ => return None,
                };
            }
            // Without a "who", the umask limits what + and = grant.
            let mask = if who == 0 { 0o7777 & !umask } else { who };
            let bits = bits & mask;
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => {
                    let clear = if who == 0 { 0o7777 } else { who };
                    mode = (mode & !clear) | bits;
                }
            }
        }
    }
    Some(mode)
}

fn current_umask() -> u32 {
    let old = rustix::process::umask(rustix::fs::Mode::empty());
    rustix::process::umask(old);
    old.bits()
}
