//! Evaluates GRUB `test` / `[ … ]` expressions on already-expanded arguments.

/// File tests are answered by the caller (it knows the filesystem and GRUB path syntax).
pub trait FileTests {
    /// `op` is one of 'e', 'f', 'd', 's'. None when the answer cannot be known.
    fn file_test(&self, op: char, path: &str) -> Option<bool>;
}

/// Evaluates the arguments of `test` (without the command word) or of `[` (without `[` and `]`).
/// None when the expression uses something we do not evaluate.
pub fn eval_test(args: &[String], files: &dyn FileTests) -> Option<bool> {
    if args.is_empty() {
        return Some(false);
    }
    let mut eval = Eval {
        args,
        pos: 0,
        files,
    };
    let value = eval.or()?;
    if eval.pos != args.len() {
        return None;
    }
    Some(value)
}

struct Eval<'a> {
    args: &'a [String],
    pos: usize,
    files: &'a dyn FileTests,
}

fn is_binary_op(op: &str) -> bool {
    matches!(
        op,
        "=" | "=="
            | "!="
            | "<"
            | ">"
            | "<="
            | ">="
            | "-eq"
            | "-ne"
            | "-lt"
            | "-le"
            | "-gt"
            | "-ge"
            | "-nt"
            | "-ot"
    ) || op.starts_with("-p")
        || op.starts_with("-b")
}

impl Eval<'_> {
    fn at(&self, offset: usize) -> Option<&str> {
        self.args.get(self.pos + offset).map(String::as_str)
    }

    fn or(&mut self) -> Option<bool> {
        let mut value = self.and()?;
        while self.at(0) == Some("-o") {
            self.pos += 1;
            let rhs = self.and()?;
            value = value || rhs;
        }
        Some(value)
    }

    fn and(&mut self) -> Option<bool> {
        let mut value = self.not()?;
        while self.at(0) == Some("-a") {
            self.pos += 1;
            let rhs = self.not()?;
            value = value && rhs;
        }
        Some(value)
    }

    fn not(&mut self) -> Option<bool> {
        if self.at(0) == Some("!") && self.at(1).is_some() {
            self.pos += 1;
            return self.not().map(|v| !v);
        }
        self.primary()
    }

    fn primary(&mut self) -> Option<bool> {
        let first = self.at(0)?.to_string();
        if first == "(" {
            self.pos += 1;
            let value = self.or()?;
            if self.at(0) != Some(")") {
                return None;
            }
            self.pos += 1;
            return Some(value);
        }
        if let (Some(op), Some(rhs)) = (self.at(1), self.at(2)) {
            if is_binary_op(op) {
                let (op, rhs) = (op.to_string(), rhs.to_string());
                self.pos += 3;
                return binary(&first, &op, &rhs);
            }
        }
        if let Some(operand) = self.at(1) {
            let operand = operand.to_string();
            let unary = match first.as_str() {
                "-n" => Some(Some(!operand.is_empty())),
                "-z" => Some(Some(operand.is_empty())),
                "-e" | "-f" | "-d" | "-s" => {
                    let op = first.chars().nth(1).unwrap_or('e');
                    Some(self.files.file_test(op, &operand))
                }
                _ => None,
            };
            if let Some(result) = unary {
                self.pos += 2;
                return result;
            }
        }
        self.pos += 1;
        Some(!first.is_empty())
    }
}

fn binary(lhs: &str, op: &str, rhs: &str) -> Option<bool> {
    let numbers = || {
        Some((
            lhs.trim().parse::<i64>().ok()?,
            rhs.trim().parse::<i64>().ok()?,
        ))
    };
    Some(match op {
        "=" | "==" => lhs == rhs,
        "!=" => lhs != rhs,
        "<" => lhs < rhs,
        ">" => lhs > rhs,
        "<=" => lhs <= rhs,
        ">=" => lhs >= rhs,
        "-eq" => numbers().map(|(a, b)| a == b)?,
        "-ne" => numbers().map(|(a, b)| a != b)?,
        "-lt" => numbers().map(|(a, b)| a < b)?,
        "-le" => numbers().map(|(a, b)| a <= b)?,
        "-gt" => numbers().map(|(a, b)| a > b)?,
        "-ge" => numbers().map(|(a, b)| a >= b)?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files;
    impl FileTests for Files {
        fn file_test(&self, op: char, path: &str) -> Option<bool> {
            match path {
                "/boot/grub/grubenv" => Some(op == 'f' || op == 'e' || op == 's'),
                "/unknown" => None,
                _ => Some(false),
            }
        }
    }

    fn eval(expr: &str) -> Option<bool> {
        let args: Vec<String> = expr
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        eval_test(&args, &Files)
    }

    #[test]
    fn strings_and_numbers() {
        assert_eq!(eval("xy = xy"), Some(true));
        assert_eq!(eval("x = xy"), Some(false));
        assert_eq!(eval("a != b"), Some(true));
        assert_eq!(eval("-n abc"), Some(true));
        assert_eq!(eval("-z abc"), Some(false));
        assert_eq!(eval("10 -gt 9"), Some(true));
        assert_eq!(eval("x -gt 9"), None);
        assert_eq!(eval("abc"), Some(true));
    }

    #[test]
    fn combinators_and_files() {
        assert_eq!(
            eval("-s /boot/grub/grubenv -a ! -d /boot/grub/grubenv"),
            Some(true)
        );
        assert_eq!(eval("-f /nope -o 1 = 1"), Some(true));
        assert_eq!(eval("( 1 = 2 ) -o ( -e /boot/grub/grubenv )"), Some(true));
        assert_eq!(eval("-f /unknown"), None);
        assert_eq!(eval("a = b c"), None);
    }
}
