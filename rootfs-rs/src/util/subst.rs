//! The s/RE/REPLACEMENT/ operation of sed, also used by the line editor: `&` and `\1`..`\9`
//! in the replacement, the Nth or every match.

use crate::util::regex::{Match, Regex};

/// Expand `&` and `\1`..`\9` in the replacement.
fn replacement_text(rep: &[u8], line: &[u8], m: &Match) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rep.len() {
        match rep[i] {
            b'&' => out.extend_from_slice(&line[m.start..m.end]),
            b'\\' if i + 1 < rep.len() => {
                i += 1;
                match rep[i] {
                    d @ b'1'..=b'9' => {
                        if let Some((s, e)) = m.groups[(d - b'0') as usize] {
                            out.extend_from_slice(&line[s..e]);
                        }
                    }
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

pub fn substitute(
    line: &[u8],
    re: &Regex,
    rep: &[u8],
    global: bool,
    nth: usize,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut copied = 0;
    let mut seen = 0;
    let mut changed = false;
    while pos <= line.len() {
        let Some(m) = re.find_at(line, pos) else {
            break;
        };
        seen += 1;
        if seen >= nth {
            out.extend_from_slice(&line[copied..m.start]);
            out.extend_from_slice(&replacement_text(rep, line, &m));
            copied = m.end;
            changed = true;
            if !global {
                break;
            }
        }
        // An empty match must still advance.
        pos = if m.end == m.start { m.end + 1 } else { m.end };
    }
    if !changed {
        return None;
    }
    out.extend_from_slice(&line[copied.min(line.len())..]);
    Some(out)
}
