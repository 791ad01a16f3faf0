//! The SSH data types of RFC 4251 §5 (byte, boolean, uint32, string, mpint, name-list):
//! a writer that builds a message and a reader that takes one apart, every read checked
//! against the message's length (a short or lying message is an error, never a panic).

/// Message numbers (RFC 4250 §4.1.2; 4253, 4252, 4254; 8731 for the ECDH pair).
pub mod msg {
    pub const DISCONNECT: u8 = 1;
    pub const IGNORE: u8 = 2;
    pub const UNIMPLEMENTED: u8 = 3;
    pub const DEBUG: u8 = 4;
    pub const SERVICE_REQUEST: u8 = 5;
    pub const SERVICE_ACCEPT: u8 = 6;
    pub const EXT_INFO: u8 = 7;
    pub const KEXINIT: u8 = 20;
    pub const NEWKEYS: u8 = 21;
    pub const KEX_ECDH_INIT: u8 = 30;
    pub const KEX_ECDH_REPLY: u8 = 31;
    pub const USERAUTH_REQUEST: u8 = 50;
    pub const USERAUTH_FAILURE: u8 = 51;
    pub const USERAUTH_SUCCESS: u8 = 52;
    pub const USERAUTH_PK_OK: u8 = 60;
    pub const GLOBAL_REQUEST: u8 = 80;
    pub const REQUEST_FAILURE: u8 = 82;
    pub const CHANNEL_OPEN: u8 = 90;
    pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
    pub const CHANNEL_OPEN_FAILURE: u8 = 92;
    pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
    pub const CHANNEL_DATA: u8 = 94;
    pub const CHANNEL_EXTENDED_DATA: u8 = 95;
    pub const CHANNEL_EOF: u8 = 96;
    pub const CHANNEL_CLOSE: u8 = 97;
    pub const CHANNEL_REQUEST: u8 = 98;
    pub const CHANNEL_SUCCESS: u8 = 99;
    pub const CHANNEL_FAILURE: u8 = 100;
}

/// A message being built.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn new(message: u8) -> Writer {
        Writer {
            bytes: vec![message],
        }
    }

    pub fn byte(mut self, value: u8) -> Writer {
        self.bytes.push(value);
        self
    }

    pub fn boolean(self, value: bool) -> Writer {
        self.byte(u8::from(value))
    }

    pub fn u32(mut self, value: u32) -> Writer {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub fn string(mut self, value: &[u8]) -> Writer {
        // SSH strings are < 4 GiB by construction here: packets are limited to 256 KiB.
        self = self.u32(value.len() as u32);
        self.bytes.extend_from_slice(value);
        self
    }

    /// A non-negative integer given as big-endian bytes: leading zeros dropped, and a zero
    /// byte prefixed when the top bit is set (the encoding must not read as negative).
    pub fn mpint(self, magnitude: &[u8]) -> Writer {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let digits = &magnitude[start..];
        if digits.first().is_some_and(|&b| b & 0x80 != 0) {
            let mut padded = Vec::with_capacity(digits.len() + 1);
            padded.push(0);
            padded.extend_from_slice(digits);
            self.string(&padded)
        } else {
            self.string(digits)
        }
    }

    pub fn raw(mut self, value: &[u8]) -> Writer {
        self.bytes.extend_from_slice(value);
        self
    }
}

/// A received message being read; `what` names it in errors.
pub struct Reader<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { data, what }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if self.data.len() < count {
            return Err(format!("{}: message ends early", self.what));
        }
        let (head, tail) = self.data.split_at(count);
        self.data = tail;
        Ok(head)
    }

    pub fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub fn boolean(&mut self) -> Result<bool, String> {
        Ok(self.byte()? != 0)
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub fn string(&mut self) -> Result<&'a [u8], String> {
        let length = self.u32()? as usize;
        self.take(length)
    }

    pub fn text(&mut self) -> Result<String, String> {
        let bytes = self.string()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{}: a name is not UTF-8", self.what))
    }

    pub fn name_list(&mut self) -> Result<Vec<String>, String> {
        let text = self.text()?;
        Ok(text
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect())
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4251_mpint_examples() {
        // RFC 4251 §5: the examples of the mpint encoding.
        let cases: [(&[u8], &[u8]); 4] = [
            (&[], &[0, 0, 0, 0]),
            (
                &[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
                &[0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
            ),
            (&[0x80], &[0, 0, 0, 2, 0, 0x80]),
            (&[0, 0, 0x12, 0x34], &[0, 0, 0, 2, 0x12, 0x34]),
        ];
        for (magnitude, encoded) in cases {
            assert_eq!(Writer::default().mpint(magnitude).bytes, encoded);
        }
    }

    #[test]
    fn reads_what_was_written_and_refuses_short_messages() {
        let message = Writer::new(msg::KEXINIT)
            .boolean(true)
            .u32(7)
            .string(b"zlib,none")
            .bytes;
        let mut reader = Reader::new(&message, "test");
        assert_eq!(reader.byte(), Ok(msg::KEXINIT));
        assert_eq!(reader.boolean(), Ok(true));
        assert_eq!(reader.u32(), Ok(7));
        assert_eq!(reader.name_list(), Ok(vec!["zlib".into(), "none".into()]));
        assert!(reader.byte().is_err());
        // A string claiming more bytes than the message has.
        let lying = [0u8, 0, 0, 200, b'a'];
        assert_eq!(
            Reader::new(&lying, "test").string(),
            Err("test: message ends early".to_string())
        );
    }
}
