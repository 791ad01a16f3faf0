//! `$(( … ))` arithmetic: integers, + - * / % , comparisons, && || !, parentheses, variables.

pub fn eval(text: &str, var: &mut dyn FnMut(&str) -> Option<String>) -> Result<i64, String> {
    let tokens = tokenize(text)?;
    let mut p = Arith {
        tokens,
        pos: 0,
        var,
    };
    let v = p.binary(0)?;
    if p.pos != p.tokens.len() {
        return Err(format!("{text}: syntax error in expression"));
    }
    Ok(v)
}

#[derive(Debug, Clone, PartialEq)]
enum T {
    Num(i64),
    Name(String),
    Op(&'static str),
}

const OPS: [&str; 19] = [
    "<=", ">=", "==", "!=", "&&", "||", "<<", ">>", "+", "-", "*", "/", "%", "<", ">", "(", ")",
    "!", "~",
];

fn tokenize(text: &str) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let end = b[i..]
                .iter()
                .position(|d| !d.is_ascii_alphanumeric())
                .map(|p| i + p)
                .unwrap_or(b.len());
            let n = crate::util::fmt::parse_c_number(&text[i..end])
                .ok_or_else(|| format!("{}: bad number", &text[i..end]))?;
            out.push(T::Num(n as i64));
            i = end;
        } else if c == b'_' || c.is_ascii_alphabetic() {
            let end = b[i..]
                .iter()
                .position(|d| !(d.is_ascii_alphanumeric() || *d == b'_'))
                .map(|p| i + p)
                .unwrap_or(b.len());
            out.push(T::Name(text[i..end].to_string()));
            i = end;
        } else if let Some(op) = OPS.iter().find(|op| text[i..].starts_with(**op)) {
            out.push(T::Op(op));
            i += op.len();
        } else {
            return Err(format!(
                "{text}: syntax error: invalid character '{}'",
                c as char
            ));
        }
    }
    Ok(out)
}

struct Arith<'a> {
    tokens: Vec<T>,
    pos: usize,
    var: &'a mut dyn FnMut(&str) -> Option<String>,
}

fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "==" | "!=" => 3,
        "<" | ">" | "<=" | ">=" => 4,
        "<<" | ">>" => 5,
        "+" | "-" => 6,
        "*" | "/" | "%" => 7,
        _ => return None,
    })
}

impl Arith<'_> {
    fn binary(&mut self, min: u8) -> Result<i64, String> {
        let mut lhs = self.unary()?;
        while let Some(T::Op(op)) = self.tokens.get(self.pos).cloned() {
            let Some(prec) = precedence(op) else { break };
            if prec < min {
                break;
            }
            self.pos += 1;
            let rhs = self.binary(prec + 1)?;
            lhs = match op {
                "||" => i64::from(lhs != 0 || rhs != 0),
                "&&" => i64::from(lhs != 0 && rhs != 0),
                "==" => i64::from(lhs == rhs),
                "!=" => i64::from(lhs != rhs),
                "<" => i64::from(lhs < rhs),
                ">" => i64::from(lhs > rhs),
                "<=" => i64::from(lhs <= rhs),
                ">=" => i64::from(lhs >= rhs),
                "<<" => lhs.wrapping_shl(rhs as u32),
                ">>" => lhs.wrapping_shr(rhs as u32),
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "*" => lhs.wrapping_mul(rhs),
                _ if rhs == 0 => return Err("division by zero".into()),
                "/" => lhs.wrapping_div(rhs),
                _ => lhs.wrapping_rem(rhs),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<i64, String> {
        let tok = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or("syntax error: operand expected")?;
        self.pos += 1;
        match tok {
            T::Num(n) => Ok(n),
            T::Name(name) => {
                let v = (self.var)(&name).unwrap_or_default();
                let t = v.trim();
                let (neg, digits) = match t.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, t),
                };
                let n = if digits.is_empty() {
                    0
                } else {
                    crate::util::fmt::parse_c_number(digits)
                        .ok_or_else(|| format!("{name}: '{v}' is not a number"))?
                        as i64
                };
                Ok(if neg { -n } else { n })
            }
            T::Op("-") => Ok(self.unary()?.wrapping_neg()),
            T::Op("+") => self.unary(),
            T::Op("!") => Ok(i64::from(self.unary()? == 0)),
            T::Op("~") => Ok(!self.unary()?),
            T::Op("(") => {
                let v = self.binary(0)?;
                if self.tokens.get(self.pos) != Some(&T::Op(")")) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(v)
            }
            T::Op(op) => Err(format!("syntax error: unexpected '{op}'")),
        }
    }
}

#[cfg(test)]
mod tests {
    fn calc(s: &str) -> Result<i64, String> {
        super::eval(s, &mut |n| if n == "x" { Some("5".into()) } else { None })
    }

    #[test]
    fn precedence_and_vars() {
        assert_eq!(calc("1 + 2 * 3"), Ok(7));
        assert_eq!(calc("(1 + 2) * 3"), Ok(9));
        assert_eq!(calc("x * 2 - 1"), Ok(9));
        assert_eq!(calc("10 - 2 - 3"), Ok(5));
        assert_eq!(calc("7 % 3 == 1 && 1"), Ok(1));
        assert_eq!(calc("-x + 0x10"), Ok(11));
        assert!(calc("1 / 0").is_err());
        assert!(calc("1 +").is_err());
    }
}
