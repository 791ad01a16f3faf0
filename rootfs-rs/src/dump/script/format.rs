//! Text of values: repr(), str(), the format-spec mini-language of f-strings and format(),
//! and printf-style `%` formatting.

use super::interp::{Interp, R};
use super::value::Obj;

pub fn repr(v: &Obj) -> String {
    match v {
        Obj::None => "None".into(),
        Obj::Bool(true) => "True".into(),
        Obj::Bool(false) => "False".into(),
        Obj::Int(i) => i.to_string(),
        Obj::Float(f) => float_text(*f),
        Obj::Str(s) => quote(s),
        Obj::Bytes(b) => {
            let mut s = String::from("b'");
            for &c in b.iter() {
                match c {
                    b'\'' => s.push_str("\\'"),
                    b'\\' => s.push_str("\\\\"),
                    b'\n' => s.push_str("\\n"),
                    0x20..=0x7e => s.push(c as char),
                    _ => s.push_str(&format!("\\x{c:02x}")),
                }
            }
            s + "'"
        }
        Obj::List(l) => format!("[{}]", join(&l.borrow())),
        Obj::Tuple(t) if t.len() == 1 => format!("({},)", repr(&t[0])),
        Obj::Tuple(t) => format!("({})", join(t)),
        Obj::Dict(d) => {
            let d = d.borrow();
            let items: Vec<String> = d
                .entries
                .iter()
                .map(|(k, v)| format!("{}: {}", repr(k), repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Obj::Set(d) if d.borrow().is_empty() => "set()".into(),
        Obj::Set(d) => {
            let keys: Vec<Obj> = d.borrow().entries.iter().map(|e| e.0.clone()).collect();
            format!("{{{}}}", join(&keys))
        }
        Obj::Range(a, b, 1) => format!("range({a}, {b})"),
        Obj::Range(a, b, s) => format!("range({a}, {b}, {s})"),
        Obj::Func(c) => format!("<function {}>", c.def.name),
        Obj::Builtin(n) => format!("<built-in function {n}>"),
        Obj::Method(m) => format!("<method {} of {}>", m.1, m.0.type_name()),
        Obj::Class(c) => format!("<class '{}'>", c.name),
        Obj::Instance(i) => match i.attrs.borrow().get("args") {
            Some(Obj::Tuple(a)) if a.len() == 1 => format!("{}({})", i.class.name, repr(&a[0])),
            _ => format!("<{} object>", i.class.name),
        },
        Obj::Host(h) => format!("<dump object #{h}>"),
    }
}

fn join(items: &[Obj]) -> String {
    items.iter().map(repr).collect::<Vec<_>>().join(", ")
}

fn quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{f}")
    }
}

/// str(v): strings as they are, host objects by the host's description, the rest as repr.
pub fn to_str(v: &Obj, it: &Interp) -> String {
    match v {
        Obj::Str(s) => s.to_string(),
        Obj::Host(h) => it
            .host
            .as_ref()
            .map_or_else(|| repr(v), |host| host.repr(*h)),
        Obj::Instance(i) => match i.attrs.borrow().get("args") {
            Some(Obj::Tuple(a)) if a.len() == 1 => to_str(&a[0], it),
            Some(Obj::Tuple(a)) if a.is_empty() => String::new(),
            _ => repr(v),
        },
        _ => repr(v),
    }
}

/// A parsed `[[fill]align][sign][#][0][width][,][.precision][type]`.
#[derive(Default)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    alt: bool,
    zero: bool,
    width: usize,
    comma: bool,
    precision: Option<usize>,
    kind: Option<char>,
}

fn parse_spec(s: &str) -> Option<Spec> {
    let c: Vec<char> = s.chars().collect();
    let mut sp = Spec::default();
    let mut i = 0;
    let is_align = |ch: char| matches!(ch, '<' | '>' | '^' | '=');
    if c.len() >= 2 && is_align(c[1]) {
        sp.fill = Some(c[0]);
        sp.align = Some(c[1]);
        i = 2;
    } else if !c.is_empty() && is_align(c[0]) {
        sp.align = Some(c[0]);
        i = 1;
    }
    if let Some(&s @ ('+' | '-' | ' ')) = c.get(i) {
        sp.sign = Some(s);
        i += 1;
    }
    if c.get(i) == Some(&'#') {
        sp.alt = true;
        i += 1;
    }
    if c.get(i) == Some(&'0') {
        sp.zero = true;
        i += 1;
    }
    while let Some(d) = c.get(i).and_then(|ch| ch.to_digit(10)) {
        sp.width = sp.width * 10 + d as usize;
        i += 1;
    }
    if c.get(i) == Some(&',') {
        sp.comma = true;
        i += 1;
    }
    if c.get(i) == Some(&'.') {
        i += 1;
        let mut p = 0;
        while let Some(d) = c.get(i).and_then(|ch| ch.to_digit(10)) {
            p = p * 10 + d as usize;
            i += 1;
        }
        sp.precision = Some(p);
    }
    if let Some(&k) = c.get(i) {
        sp.kind = Some(k);
        i += 1;
    }
    (i == c.len()).then_some(sp)
}

fn group(digits: &str) -> String {
    let mut out = String::new();
    for (n, ch) in digits.chars().enumerate() {
        if n > 0 && (digits.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// format(v, spec).
pub fn format_spec(it: &Interp, v: &Obj, spec: &str) -> R<String> {
    if spec.is_empty() {
        return Ok(to_str(v, it));
    }
    let sp = parse_spec(spec)
        .ok_or_else(|| it.exc("ValueError", format!("invalid format spec {spec:?}")))?;
    let (body, numeric, negative) = match (v, sp.kind) {
        (Obj::Float(_), _) | (_, Some('f' | 'e' | 'g' | '%')) if num(v).is_some() => {
            let f = num(v).unwrap_or(0.0);
            let p = sp.precision.unwrap_or(6);
            let text = match sp.kind {
                Some('e') => format!("{:.*e}", p, f.abs()),
                Some('%') => format!("{:.*}%", p, f.abs() * 100.0),
                Some('f') => format!("{:.*}", p, f.abs()),
                _ if sp.precision.is_some() => format!("{:.*}", p, f.abs()),
                _ => float_text(f.abs()),
            };
            let text = if sp.comma {
                match text.split_once('.') {
                    Some((i, fr)) => format!("{}.{fr}", group(i)),
                    None => group(&text),
                }
            } else {
                text
            };
            (text, true, f < 0.0)
        }
        (_, kind) if v.as_int().is_some() && !matches!(kind, Some('s')) => {
            let i = v.as_int().unwrap_or(0);
            let m = i.unsigned_abs();
            let text = match kind {
                Some('x') => format!("{}{m:x}", if sp.alt { "0x" } else { "" }),
                Some('X') => format!("{}{m:X}", if sp.alt { "0X" } else { "" }),
                Some('o') => format!("{}{m:o}", if sp.alt { "0o" } else { "" }),
                Some('b') => format!("{}{m:b}", if sp.alt { "0b" } else { "" }),
                Some('c') => char::from_u32(m as u32)
                    .map(String::from)
                    .unwrap_or_default(),
                Some('d') | Some('n') | None if sp.comma => group(&m.to_string()),
                Some('d') | Some('n') | None => m.to_string(),
                Some(k) => {
                    return Err(it.exc("ValueError", format!("unknown format code '{k}' for int")))
                }
            };
            (text, true, i < 0)
        }
        _ => {
            let mut s = to_str(v, it);
            if let Some(p) = sp.precision {
                s = s.chars().take(p).collect();
            }
            (s, false, false)
        }
    };
    let sign = match (negative, sp.sign) {
        (true, _) => "-",
        (false, Some('+')) => "+",
        (false, Some(' ')) => " ",
        _ => "",
    };
    let len = body.chars().count() + sign.len();
    if len >= sp.width {
        return Ok(format!("{sign}{body}"));
    }
    let pad = sp.width - len;
    let (fill, align) = if sp.zero && sp.align.is_none() && numeric {
        ('0', '=')
    } else {
        (
            sp.fill.unwrap_or(' '),
            sp.align.unwrap_or(if numeric { '>' } else { '<' }),
        )
    };
    let f = |n: usize| fill.to_string().repeat(n);
    Ok(match align {
        '<' => format!("{sign}{body}{}", f(pad)),
        '^' => format!("{}{sign}{body}{}", f(pad / 2), f(pad - pad / 2)),
        '=' => {
            // Zero padding goes after an 0x prefix, as Python does.
            let (prefix, digits) = match body.get(..2) {
                Some(p @ ("0x" | "0X" | "0o" | "0b")) => (p, &body[2..]),
                _ => ("", &body[..]),
            };
            format!("{sign}{prefix}{}{digits}", f(pad))
        }
        _ => format!("{}{sign}{body}", f(pad)),
    })
}

fn num(v: &Obj) -> Option<f64> {
    match v {
        Obj::Float(f) => Some(*f),
        _ => v.as_int().map(|i| i as f64),
    }
}

/// `fmt % args` with conversions s r d i u x X o c f e g and flags - 0 + space #.
pub fn percent(it: &Interp, fmt: &str, args: &Obj) -> R<String> {
    let args: Vec<Obj> = match args {
        Obj::Tuple(t) => t.to_vec(),
        other => vec![other.clone()],
    };
    let mut args = args.into_iter();
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut flags = String::new();
        while let Some(&c @ ('-' | '0' | '+' | ' ' | '#')) = chars.get(i) {
            flags.push(c);
            i += 1;
        }
        let mut width = String::new();
        while let Some(&c) = chars.get(i).filter(|c| c.is_ascii_digit() || **c == '.') {
            width.push(c);
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err(it.exc("ValueError", "incomplete format"));
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = args
            .next()
            .ok_or_else(|| it.exc("TypeError", "not enough arguments for format string"))?;
        let align = if flags.contains('-') { "<" } else { "" };
        let zero = if flags.contains('0') && !flags.contains('-') {
            "0"
        } else {
            ""
        };
        let sign = if flags.contains('+') { "+" } else { "" };
        let alt = if flags.contains('#') { "#" } else { "" };
        let spec = match conv {
            's' => format!("{align}{width}"),
            'r' => {
                let r = Obj::Str(repr(&arg).into());
                out.push_str(&format_spec(it, &r, &format!("{align}{width}"))?);
                continue;
            }
            'd' | 'i' | 'u' => format!("{align}{sign}{zero}{width}d"),
            'x' | 'X' | 'o' | 'c' => format!("{align}{alt}{zero}{width}{conv}"),
            'f' | 'e' | 'g' => format!("{align}{sign}{zero}{width}{conv}"),
            other => {
                return Err(it.exc(
                    "ValueError",
                    format!("unsupported format character '{other}'"),
                ))
            }
        };
        let arg = match (conv, &arg) {
            ('s', Obj::Str(_)) => arg,
            ('s', _) => Obj::Str(to_str(&arg, it).into()),
            ('d' | 'i' | 'u', Obj::Float(f)) => Obj::Int(*f as i128),
            _ => arg,
        };
        out.push_str(&format_spec(it, &arg, &spec)?);
    }
    Ok(out)
}
