//! Small POSIX basic-regex matcher for grep and sed: . * ^ $ [] [^] [:class:], \+ \? \( \).
//! Backtracking over bytes; patterns are short, inputs are lines.

#[derive(Clone, Debug)]
enum Atom {
    Byte(u8),
    Any,
    Set(Box<[bool; 256]>),
    GroupOpen(usize),
    GroupClose(usize),
    BackRef(usize),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Repeat {
    One,
    Star,
    Plus,
    Optional,
}

#[derive(Clone, Debug)]
struct Node {
    atom: Atom,
    repeat: Repeat,
}

#[derive(Clone, Debug)]
pub struct Regex {
    nodes: Vec<Node>,
    anchor_start: bool,
    anchor_end: bool,
    icase: bool,
}

pub const MAX_GROUPS: usize = 10;

#[derive(Clone, Copy, Debug, Default)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub groups: [Option<(usize, usize)>; MAX_GROUPS],
}

fn class_matches(name: &str, b: u8) -> Option<bool> {
    Some(match name {
        "alpha" => b.is_ascii_alphabetic(),
        "digit" => b.is_ascii_digit(),
        "alnum" => b.is_ascii_alphanumeric(),
        "space" => b.is_ascii_whitespace() || b == 0x0b,
        "blank" => b == b' ' || b == b'\t',
        "upper" => b.is_ascii_uppercase(),
        "lower" => b.is_ascii_lowercase(),
        "xdigit" => b.is_ascii_hexdigit(),
        "punct" => b.is_ascii_punctuation(),
        "print" => (0x20..0x7f).contains(&b),
        "cntrl" => b.is_ascii_control(),
        _ => return None,
    })
}

/// Parse a bracket expression starting after '['; returns the set and the index after ']'.
fn parse_bracket(p: &[u8], mut i: usize) -> Result<(Box<[bool; 256]>, usize), String> {
    let mut set = Box::new([false; 256]);
    let negate = p.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = p.get(i) else {
            return Err("unmatched [".into());
        };
        if c == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        if c == b'[' && p.get(i + 1) == Some(&b':') {
            let rest = &p[i + 2..];
            let Some(end) = rest.windows(2).position(|w| w == b":]") else {
                return Err("unmatched [:".into());
            };
            let name = String::from_utf8_lossy(&rest[..end]);
            if class_matches(&name, 0).is_none() {
                return Err(format!("invalid character class '{name}'"));
            }
            for b in 0..=255u8 {
                if class_matches(&name, b) == Some(true) {
                    set[b as usize] = true;
                }
            }
            i += 2 + end + 2;
            continue;
        }
        if p.get(i + 1) == Some(&b'-') && p.get(i + 2).is_some_and(|&e| e != b']') {
            let hi = p[i + 2];
            for b in c..=hi.max(c) {
                set[b as usize] = true;
            }
            i += 3;
            continue;
        }
        set[c as usize] = true;
        i += 1;
    }
    if negate {
        for v in set.iter_mut() {
            *v = !*v;
        }
    }
    Ok((set, i))
}

/// The byte after a backslash: a repeat, group or back reference is added to `nodes`
/// (None); anything else is the atom to add.
fn escape(
    e: u8,
    nodes: &mut Vec<Node>,
    open_groups: &mut Vec<usize>,
    group_count: &mut usize,
) -> Result<Option<Atom>, String> {
    match e {
        b'+' | b'?' if can_repeat(nodes) => {
            set_repeat(
                nodes,
                if e == b'+' {
                    Repeat::Plus
                } else {
                    Repeat::Optional
                },
            );
            Ok(None)
        }
        b'(' => {
            *group_count += 1;
            if *group_count >= MAX_GROUPS {
                return Err("too many groups".into());
            }
            open_groups.push(*group_count);
            nodes.push(Node {
                atom: Atom::GroupOpen(*group_count),
                repeat: Repeat::One,
            });
            Ok(None)
        }
        b')' => {
            let Some(g) = open_groups.pop() else {
                return Err("unmatched \\)".into());
            };
            nodes.push(Node {
                atom: Atom::GroupClose(g),
                repeat: Repeat::One,
            });
            Ok(None)
        }
        b'1'..=b'9' => {
            let g = (e - b'0') as usize;
            if g > *group_count {
                return Err("invalid back reference".into());
            }
            nodes.push(Node {
                atom: Atom::BackRef(g),
                repeat: Repeat::One,
            });
            Ok(None)
        }
        b'n' => Ok(Some(Atom::Byte(b'\n'))),
        b't' => Ok(Some(Atom::Byte(b'\t'))),
        other => Ok(Some(Atom::Byte(other))),
    }
}

impl Regex {
    pub fn new(pattern: &str, icase: bool) -> Result<Regex, String> {
        let p = pattern.as_bytes();
        let mut nodes: Vec<Node> = Vec::new();
        let mut i = 0;
        let anchor_start = p.first() == Some(&b'^');
        if anchor_start {
            i = 1;
        }
        let mut anchor_end = false;
        let mut open_groups: Vec<usize> = Vec::new();
        let mut group_count = 0;
        while i < p.len() {
            let c = p[i];
            let atom = match c {
                b'$' if i + 1 == p.len() => {
                    anchor_end = true;
                    i += 1;
                    continue;
                }
                b'.' => Atom::Any,
                b'*' if !nodes.is_empty() && can_repeat(&nodes) => {
                    set_repeat(&mut nodes, Repeat::Star);
                    i += 1;
                    continue;
                }
                b'[' => {
                    let (set, next) = parse_bracket(p, i + 1)?;
                    i = next;
                    nodes.push(Node {
                        atom: Atom::Set(set),
                        repeat: Repeat::One,
                    });
                    continue;
                }
                b'\\' => {
                    let Some(&e) = p.get(i + 1) else {
                        return Err("trailing backslash".into());
                    };
                    i += 2;
                    match escape(e, &mut nodes, &mut open_groups, &mut group_count)? {
                        Some(atom) => atom,
                        None => continue,
                    }
                }
                other => Atom::Byte(other),
            };
            nodes.push(Node {
                atom,
                repeat: Repeat::One,
            });
            i += 1;
        }
        if !open_groups.is_empty() {
            return Err("unmatched \\(".into());
        }
        Ok(Regex {
            nodes,
            anchor_start,
            anchor_end,
            icase,
        })
    }

    pub fn is_match(&self, text: &[u8]) -> bool {
        self.find_at(text, 0).is_some()
    }

    /// Leftmost match starting at or after `from`.
    pub fn find_at(&self, text: &[u8], from: usize) -> Option<Match> {
        let last_start = if self.anchor_start { 0 } else { text.len() };
        let mut start = from;
        while start <= last_start {
            let mut m = Match {
                start,
                end: start,
                groups: [None; MAX_GROUPS],
            };
            let mut open = [0usize; MAX_GROUPS];
            if let Some(end) = self.match_here(0, text, start, &mut m.groups, &mut open) {
                m.end = end;
                return Some(m);
            }
            start += 1;
        }
        None
    }

    fn atom_matches(&self, atom: &Atom, b: u8) -> bool {
        match atom {
            Atom::Any => b != b'\n',
            Atom::Byte(c) => *c == b || (self.icase && c.eq_ignore_ascii_case(&b)),
            Atom::Set(set) => {
                set[b as usize]
                    || (self.icase
                        && (set[b.to_ascii_lowercase() as usize]
                            || set[b.to_ascii_uppercase() as usize]))
            }
            _ => false,
        }
    }

    fn match_here(
        &self,
        idx: usize,
        text: &[u8],
        pos: usize,
        groups: &mut [Option<(usize, usize)>; MAX_GROUPS],
        open: &mut [usize; MAX_GROUPS],
    ) -> Option<usize> {
        let Some(node) = self.nodes.get(idx) else {
            return if !self.anchor_end || pos == text.len() {
                Some(pos)
            } else {
                None
            };
        };
        match &node.atom {
            Atom::GroupOpen(g) => {
                let saved = open[*g];
                open[*g] = pos;
                let r = self.match_here(idx + 1, text, pos, groups, open);
                if r.is_none() {
                    open[*g] = saved;
                }
                return r;
            }
            Atom::GroupClose(g) => {
                let saved = groups[*g];
                groups[*g] = Some((open[*g], pos));
                let r = self.match_here(idx + 1, text, pos, groups, open);
                if r.is_none() {
                    groups[*g] = saved;
                }
                return r;
            }
            Atom::BackRef(g) => {
                let (s, e) = groups[*g]?;
                let want = &text[s..e];
                let have = text.get(pos..pos + want.len())?;
                let same = if self.icase {
                    want.eq_ignore_ascii_case(have)
                } else {
                    want == have
                };
                return if same {
                    self.match_here(idx + 1, text, pos + want.len(), groups, open)
                } else {
                    None
                };
            }
            _ => {}
        }
        let (min, max) = match node.repeat {
            Repeat::One => (1, 1),
            Repeat::Star => (0, usize::MAX),
            Repeat::Plus => (1, usize::MAX),
            Repeat::Optional => (0, 1),
        };
        let mut count = 0;
        while count < max
            && pos + count < text.len()
            && self.atom_matches(&node.atom, text[pos + count])
        {
            count += 1;
        }
        // Greedy: try the longest run first.
        loop {
            if count < min {
                return None;
            }
            if let Some(end) = self.match_here(idx + 1, text, pos + count, groups, open) {
                return Some(end);
            }
            if count == 0 {
                return None;
            }
            count -= 1;
        }
    }
}

fn can_repeat(nodes: &[Node]) -> bool {
    nodes.last().is_some_and(|n| {
        n.repeat == Repeat::One && matches!(n.atom, Atom::Byte(_) | Atom::Any | Atom::Set(_))
    })
}

fn set_repeat(nodes: &mut [Node], repeat: Repeat) {
    if let Some(last) = nodes.last_mut() {
        last.repeat = repeat;
    }
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(p: &str, t: &str) -> bool {
        Regex::new(p, false)
            .map(|r| r.is_match(t.as_bytes()))
            .unwrap_or(false)
    }

    #[test]
    fn basics() {
        assert!(m("abc", "xxabcxx"));
        assert!(m("^abc$", "abc"));
        assert!(!m("^abc$", "abcd"));
        assert!(m("a.c", "abc"));
        assert!(m("ab*c", "ac"));
        assert!(m("ab*c", "abbbc"));
        assert!(m("[0-9][0-9]*", "x42"));
        assert!(!m("[^a-z]", "abc"));
        assert!(m("[[:digit:]]", "a1"));
        assert!(m("*a", "*a"));
        assert!(m("a\\+b", "aaab"));
        assert!(!m("a\\+b", "b"));
        assert!(m("\\(ab\\)\\1", "abab"));
        assert!(m("x$", "abx"));
        assert!(Regex::new("[abc", false).is_err());
    }

    #[test]
    fn leftmost_longest_span() {
        let r = Regex::new("b*c", false).map_err(|e| e.to_string());
        let r = r.as_ref().map(|r| r.find_at(b"abbbcd", 0));
        let found = r.ok().flatten().map(|x| (x.start, x.end));
        assert_eq!(found, Some((1, 5)));
    }

    #[test]
    fn case_insensitive() {
        let r = Regex::new("HeLLo", true).map(|r| r.is_match(b"say hello"));
        assert_eq!(r, Ok(true));
    }
}

#[cfg(test)]
mod robustness {
    use super::Regex;

    /// Random patterns and subjects: compile errors are fine, panics are not.
    #[test]
    fn random_patterns_never_panic() {
        const PIECES: &[&str] = &[
            "a",
            ".",
            "*",
            "^",
            "$",
            "[",
            "]",
            "[^",
            "-",
            "\\",
            "\\(",
            "\\)",
            "\\1",
            "\\+",
            "\\?",
            "[:digit:]",
            "é",
            "b",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        for _ in 0..3000 {
            let pattern: String = (0..next() % 10)
                .map(|_| PIECES[next() % PIECES.len()])
                .collect();
            let subject: String = (0..next() % 16)
                .map(|_| PIECES[next() % PIECES.len()])
                .collect();
            if let Ok(re) = Regex::new(&pattern, next() % 2 == 0) {
                let _ = re.find_at(subject.as_bytes(), next() % (subject.len() + 1));
            }
            let _ = crate::util::glob::matches(&pattern, &subject);
        }
    }
}
