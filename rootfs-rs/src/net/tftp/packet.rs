//! TFTP packets (RFC 1350) with the option extension (RFC 2347): encoding the client's
//! side (RRQ, ACK, ERROR), decoding the server's (DATA, OACK, ERROR).

const RRQ: u16 = 1;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;

/// ERROR codes the client sends (RFC 1350, RFC 2347).
pub const ERR_UNDEFINED: u16 = 0;
pub const ERR_DISK_FULL: u16 = 3;
pub const ERR_UNKNOWN_TID: u16 = 5;
pub const ERR_OPTION: u16 = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Data {
        block: u16,
        data: &'a [u8],
    },
    Ack(u16),
    Error {
        code: u16,
        message: String,
    },
    /// Option acknowledgement: names lower-cased, values as sent.
    Oack(Vec<(String, String)>),
}

/// A read request for `path` in octet mode with `options` (name, value).
pub fn read_request(path: &str, options: &[(&str, String)]) -> Vec<u8> {
    let mut p = RRQ.to_be_bytes().to_vec();
    for field in [path, "octet"] {
        p.extend_from_slice(field.as_bytes());
        p.push(0);
    }
    for (name, value) in options {
        p.extend_from_slice(name.as_bytes());
        p.push(0);
        p.extend_from_slice(value.as_bytes());
        p.push(0);
    }
    p
}

pub fn ack(block: u16) -> Vec<u8> {
    let mut p = ACK.to_be_bytes().to_vec();
    p.extend_from_slice(&block.to_be_bytes());
    p
}

pub fn error(code: u16, message: &str) -> Vec<u8> {
    let mut p = ERROR.to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(message.as_bytes());
    p.push(0);
    p
}

/// Decodes a packet; `None` for anything malformed or of an unknown opcode.
pub fn parse(packet: &[u8]) -> Option<Packet<'_>> {
    let opcode = u16::from_be_bytes([*packet.first()?, *packet.get(1)?]);
    let rest = &packet[2..];
    let number = || Some(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    match opcode {
        DATA => Some(Packet::Data {
            block: number()?,
            data: &rest[2..],
        }),
        ACK => Some(Packet::Ack(number()?)),
        ERROR => {
            let text = &rest.get(2..)?;
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            Some(Packet::Error {
                code: number()?,
                message: String::from_utf8_lossy(&text[..end]).trim().to_string(),
            })
        }
        OACK => {
            let mut fields = rest
                .split(|&b| b == 0)
                .map(|f| String::from_utf8_lossy(f).into_owned());
            let mut options = Vec::new();
            while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
                if !name.is_empty() {
                    options.push((name.to_ascii_lowercase(), value));
                }
            }
            Some(Packet::Oack(options))
        }
        _ => None,
    }
}

/// RFC 1350's name for an error code, for messages.
pub fn error_name(code: u16) -> &'static str {
    match code {
        1 => "file not found",
        2 => "access violation",
        3 => "disk full or allocation exceeded",
        4 => "illegal TFTP operation",
        5 => "unknown transfer ID",
        6 => "file already exists",
        7 => "no such user",
        8 => "option negotiation refused",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_encode_and_decode() {
        let rrq = read_request("pxelinux.cfg/default", &[("blksize", "1468".into())]);
        assert_eq!(rrq, b"\0\x01pxelinux.cfg/default\0octet\0blksize\x001468\0");
        assert_eq!(ack(0x1234), b"\0\x04\x12\x34");
        assert_eq!(error(8, "no"), b"\0\x05\0\x08no\0");
        assert_eq!(
            parse(b"\0\x03\xff\xffabc"),
            Some(Packet::Data {
                block: 0xffff,
                data: b"abc"
            })
        );
        assert_eq!(
            parse(b"\0\x05\0\x01File not found\0"),
            Some(Packet::Error {
                code: 1,
                message: "File not found".into()
            })
        );
        assert_eq!(
            parse(b"\0\x06BLKSIZE\0512\0tsize\x0042\0"),
            Some(Packet::Oack(vec![
                ("blksize".into(), "512".into()),
                ("tsize".into(), "42".into())
            ]))
        );
        assert_eq!(parse(b"\0\x04\0"), None);
        assert_eq!(parse(b"\0"), None);
        assert_eq!(parse(b"\0\x09"), None);
        assert_eq!(parse(b"\0\x05"), None);
    }
}
