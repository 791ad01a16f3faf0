//! FTP download (RFC 959): anonymous login, binary type, passive mode (PASV, with RFC
//! 2428's EPSV as the fallback), RETR.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use crate::net::transfer::{connect, copy_body, Transfer};
use crate::net::url::Url;

pub fn retrieve(url: &Url, out: &mut dyn Write, transfer: &mut Transfer) -> Result<u64, String> {
    let fail = |what: &str| format!("{url}: {what}");
    let control = connect(&url.host, url.port, transfer.timeout)?;
    let mut writer = control
        .try_clone()
        .map_err(|e| fail(&crate::util::reason(&e)))?;
    let mut reader = BufReader::new(control);
    let mut command =
        |line: &str, reader: &mut BufReader<TcpStream>| -> Result<(u16, String), String> {
            if !line.is_empty() {
                writer
                    .write_all(format!("{line}\r\n").as_bytes())
                    .map_err(|e| fail(&crate::util::reason(&e)))?;
            }
            read_reply(reader).map_err(|e| fail(&e))
        };
    expect_reply(command("", &mut reader)?, &[220]).map_err(|e| fail(&e))?;
    let (code, text) = command("USER anonymous", &mut reader)?;
    if code == 331 {
        expect_reply(command("PASS kboot@", &mut reader)?, &[230, 202]).map_err(|e| fail(&e))?;
    } else {
        expect_reply((code, text), &[230]).map_err(|e| fail(&e))?;
    }
    expect_reply(command("TYPE I", &mut reader)?, &[200]).map_err(|e| fail(&e))?;
    let (code, text) = command("PASV", &mut reader)?;
    // The address in a PASV reply is ignored, as curl does by default: behind NAT (QEMU's
    // user networking included) it is the server's private one. The data connection
    // goes to the host the control connection went to.
    let port = match code {
        227 => {
            parse_pasv(&text)
                .ok_or_else(|| fail(&format!("bad PASV reply '{text}'")))?
                .1
        }
        _ => {
            let (code, text) = command("EPSV", &mut reader)?;
            expect_reply((code, text.clone()), &[229]).map_err(|e| fail(&e))?;
            parse_epsv(&text).ok_or_else(|| fail(&format!("bad EPSV reply '{text}'")))?
        }
    };
    let mut data = connect(&url.host, port, transfer.timeout)?;
    let (code, text) = command(&format!("RETR {}", url.path), &mut reader)?;
    if code == 550 {
        return Err(fail(&format!("no such file ({text})")));
    }
    expect_reply((code, text.clone()), &[125, 150]).map_err(|e| fail(&e))?;
    let total = announced_size(&text);
    let n = copy_body(b"", &mut data, out, total, transfer).map_err(|e| fail(&e))?;
    drop(data);
    expect_reply(command("", &mut reader)?, &[226, 250]).map_err(|e| fail(&e))?;
    let _ = command("QUIT", &mut reader);
    Ok(n)
}

fn expect_reply((code, text): (u16, String), wanted: &[u16]) -> Result<(), String> {
    if wanted.contains(&code) {
        Ok(())
    } else {
        Err(format!("server said {code} {text}"))
    }
}

/// One reply, joining a multi-line one ("123-…" up to "123 …").
pub(crate) fn read_reply(reader: &mut impl BufRead) -> Result<(u16, String), String> {
    let mut line = String::new();
    let mut read = |line: &mut String| -> Result<(), String> {
        line.clear();
        match reader.read_line(line) {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(crate::util::reason(&e)),
        }
    };
    read(&mut line)?;
    let code: u16 = line
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an FTP reply: '{}'", line.trim_end()))?;
    let mut text = line.get(4..).unwrap_or("").trim_end().to_string();
    if line.as_bytes().get(3) == Some(&b'-') {
        // The last line starts with the same three digits and a space (RFC 959 4.2); the
        // digits as sent, not the number parsed ("+12" parses as 12).
        let end = format!("{} ", line.get(..3).unwrap_or_default());
        loop {
            read(&mut line)?;
            if let Some(last) = line.strip_prefix(&end) {
                text = last.trim_end().to_string();
                break;
            }
        }
    }
    Ok((code, text))
}

/// The size a RETR reply announces: "Opening BINARY mode data connection for f (1234 bytes)".
pub(crate) fn announced_size(text: &str) -> Option<u64> {
    text.rsplit_once('(')
        .and_then(|(_, t)| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// "Entering Passive Mode (h1,h2,h3,h4,p1,p2)".
pub fn parse_pasv(text: &str) -> Option<(String, u16)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let numbers: Vec<u8> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    if numbers.len() != 6 {
        return None;
    }
    let host = format!(
        "{}.{}.{}.{}",
        numbers[0], numbers[1], numbers[2], numbers[3]
    );
    Some((host, u16::from(numbers[4]) << 8 | u16::from(numbers[5])))
}

/// "Entering Extended Passive Mode (|||6446|)".
pub fn parse_epsv(text: &str) -> Option<u16> {
    let inner = &text[text.find("(|||")? + 4..];
    inner[..inner.find('|')?].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_replies() {
        assert_eq!(
            parse_pasv("Entering Passive Mode (127,0,0,1,195,80)."),
            Some(("127.0.0.1".into(), 50000))
        );
        assert_eq!(
            parse_pasv("Entering Passive Mode 10,0,2,2,4,1"),
            Some(("10.0.2.2".into(), 1025))
        );
        assert_eq!(parse_pasv("Entering Passive Mode (1,2,3)"), None);
        assert_eq!(parse_pasv("(300,0,0,1,1,1)"), None);
        assert_eq!(
            parse_epsv("Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(parse_epsv("garbage"), None);
    }

    #[test]
    fn replies_with_odd_codes_are_errors_not_panics() {
        let reply = |text: &str| read_reply(&mut std::io::Cursor::new(text.as_bytes()));
        assert_eq!(
            reply("230-Hi\r\n there\r\n230 ok\r\n"),
            Ok((230, "ok".into()))
        );
        // "+12" parsed as 12, and a last line starting "12 " was sliced at byte 4: out of
        // range at the end of the input, or inside a character.
        assert!(reply("+12-a\n12 ").is_err());
        assert!(reply("+12-a\n12 é\n").is_err());
    }

    #[test]
    fn multi_line_replies() {
        let mut r =
            BufReader::new(&b"220-Welcome\r\n220-to the mirror\r\n220 ready\r\n230 ok\r\n"[..]);
        assert_eq!(read_reply(&mut r), Ok((220, "ready".into())));
        assert_eq!(read_reply(&mut r), Ok((230, "ok".into())));
        assert!(read_reply(&mut r).is_err());
        let mut bad = BufReader::new(&b"hello\r\n"[..]);
        assert!(read_reply(&mut bad).is_err());
    }
}
