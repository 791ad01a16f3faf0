//! The binary packet protocol (RFC 4253 §6): `uint32 packet_length, byte padding_length,
//! payload, random padding`, in the clear until the first NEWKEYS, then sealed with
//! chacha20-poly1305@openssh.com (OpenSSH's PROTOCOL.chacha20poly1305: the length is
//! encrypted with K_1, the rest with K_2, a Poly1305 tag over both follows; no MAC).
//! Sequence numbers count every packet from the first and wrap at 2^32; with strict key
//! exchange they restart at 0 after each NEWKEYS.

use std::io::{Read, Write};

use ring::aead::chacha20_poly1305_openssh::{OpeningKey, SealingKey, KEY_LEN, TAG_LEN};

/// The cipher's block size, and the alignment of cleartext packets (RFC 4253 §6: 8).
const BLOCK: usize = 8;
const MIN_PADDING: usize = 4;
/// The largest packet accepted (OpenSSH's limit); RFC 4253 requires at least 35000.
pub const MAX_PACKET: usize = 256 * 1024;

/// The length of the random padding for a payload: at least 4 bytes, so that what is
/// aligned is a multiple of the block size. Sealed packets align without the length field
/// (it is authenticated data, not part of the cipher's blocks); cleartext ones with it.
pub fn padding_length(payload: usize, sealed: bool) -> usize {
    let aligned = payload + 1 + if sealed { 0 } else { 4 };
    let mut padding = BLOCK - aligned % BLOCK;
    if padding < MIN_PADDING {
        padding += BLOCK;
    }
    padding
}

/// The 64 bytes of key material chacha20-poly1305@openssh.com takes (K_2 then K_1).
pub type CipherKey = [u8; KEY_LEN];

/// The sending half of a connection.
pub struct PacketWriter<W: Write> {
    out: W,
    sequence: u32,
    key: Option<SealingKey>,
}

impl<W: Write> PacketWriter<W> {
    pub fn new(out: W) -> Self {
        PacketWriter {
            out,
            sequence: 0,
            key: None,
        }
    }

    /// Seal every later packet with `key` (after sending NEWKEYS); `restart` for strict kex.
    pub fn rekey(&mut self, key: &CipherKey, restart: bool) {
        self.key = Some(SealingKey::new(key));
        if restart {
            self.sequence = 0;
        }
    }

    pub fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let packet = self.frame(payload)?;
        self.out.write_all(&packet)?;
        self.out.flush()
    }

    /// The bytes on the wire for `payload`, sealed when a key is in use.
    fn frame(&mut self, payload: &[u8]) -> std::io::Result<Vec<u8>> {
        if payload.len() > MAX_PACKET - 64 {
            return Err(std::io::Error::other("ssh: outgoing message too large"));
        }
        let padding = padding_length(payload.len(), self.key.is_some());
        let length = 1 + payload.len() + padding;
        let mut packet = Vec::with_capacity(4 + length + TAG_LEN);
        packet.extend_from_slice(&(length as u32).to_be_bytes());
        packet.push(padding as u8);
        packet.extend_from_slice(payload);
        let mut random = [0u8; 2 * BLOCK];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| std::io::Error::other("ssh: no random bytes for padding"))?;
        packet.extend_from_slice(&random[..padding]);
        if let Some(key) = &self.key {
            let mut tag = [0u8; TAG_LEN];
            key.seal_in_place(self.sequence, &mut packet, &mut tag);
            packet.extend_from_slice(&tag);
        }
        self.sequence = self.sequence.wrapping_add(1);
        Ok(packet)
    }
}

/// The receiving half of a connection.
pub struct PacketReader<R: Read> {
    input: R,
    sequence: u32,
    key: Option<OpeningKey>,
}

impl<R: Read> PacketReader<R> {
    pub fn new(input: R) -> Self {
        PacketReader {
            input,
            sequence: 0,
            key: None,
        }
    }

    /// Open every later packet with `key` (after receiving NEWKEYS); `restart` for strict kex.
    pub fn rekey(&mut self, key: &CipherKey, restart: bool) {
        self.key = Some(OpeningKey::new(key));
        if restart {
            self.sequence = 0;
        }
    }

    /// The sequence number the next packet will have (UNIMPLEMENTED replies name it).
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// The next packet's payload. A packet too long, too short, badly padded or failing
    /// its tag is an error (the connection cannot continue after it).
    pub fn receive(&mut self) -> Result<Vec<u8>, String> {
        let mut header = [0u8; 4];
        read_exact(&mut self.input, &mut header)?;
        let clear = match &self.key {
            Some(key) => key.decrypt_packet_length(self.sequence, header),
            None => header,
        };
        let length = u32::from_be_bytes(clear) as usize;
        if !(1 + MIN_PADDING..=MAX_PACKET).contains(&length) {
            return Err(format!("ssh: bad packet length {length}"));
        }
        let tag_length = if self.key.is_some() { TAG_LEN } else { 0 };
        let mut packet = vec![0u8; 4 + length + tag_length];
        packet[..4].copy_from_slice(&header);
        read_exact(&mut self.input, &mut packet[4..])?;
        let body = match &self.key {
            Some(key) => {
                let (sealed, tag) = packet.split_at_mut(4 + length);
                let tag: &[u8; TAG_LEN] = (&*tag)
                    .try_into()
                    .map_err(|_| "ssh: packet tag missing".to_string())?;
                key.open_in_place(self.sequence, sealed, tag)
                    .map_err(|_| {
                        "ssh: packet failed authentication (corrupt or forged)".to_string()
                    })?
                    .to_vec()
            }
            None => packet[4..].to_vec(),
        };
        self.sequence = self.sequence.wrapping_add(1);
        let padding = usize::from(body[0]);
        if padding < MIN_PADDING || padding + 1 >= body.len() {
            return Err(format!(
                "ssh: bad padding length {padding} in a {length}-byte packet"
            ));
        }
        Ok(body[1..body.len() - padding].to_vec())
    }
}

fn read_exact(input: &mut impl Read, buffer: &mut [u8]) -> Result<(), String> {
    input.read_exact(buffer).map_err(|err| match err.kind() {
        std::io::ErrorKind::UnexpectedEof => "ssh: connection closed by the client".to_string(),
        _ => format!("ssh: reading from the client: {err}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_keeps_rfc4253_alignment_and_minimum() {
        for payload in 0..40 {
            for sealed in [false, true] {
                let padding = padding_length(payload, sealed);
                assert!((4..=4 + BLOCK).contains(&padding), "{payload} {sealed}");
                let aligned = payload + 1 + padding + if sealed { 0 } else { 4 };
                assert_eq!(aligned % BLOCK, 0, "{payload} {sealed}");
            }
        }
    }

    #[test]
    fn cleartext_packets_are_framed_as_rfc4253_shows() {
        let mut writer = PacketWriter::new(Vec::new());
        writer.send(&[21]).expect("send"); // NEWKEYS: 1 byte of payload
        let wire = writer.out.clone();
        // length 4 + padding_length 1 + payload 1 = 6: 2 more would align, but the
        // minimum is 4, so 10 bytes of padding and a 16-byte packet.
        assert_eq!(wire.len(), 16);
        assert_eq!(&wire[..6], &[0, 0, 0, 12, 10, 21]);
        let mut reader = PacketReader::new(&wire[..]);
        assert_eq!(reader.receive(), Ok(vec![21]));
        assert_eq!(reader.sequence(), 1);
    }

    #[test]
    fn sealed_packets_round_trip_and_tampering_is_caught() {
        let key: CipherKey = std::array::from_fn(|i| i as u8);
        let mut writer = PacketWriter::new(Vec::new());
        writer.send(b"\x05cleartext first").expect("send");
        writer.rekey(&key, false);
        writer.send(b"\x5esecret payload").expect("send");
        writer.send(b"\x5eanother").expect("send");
        let wire = writer.out.clone();
        let first_len = 4 + u32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]) as usize;
        // The sealed length is not readable: it is encrypted.
        assert_ne!(&wire[first_len..first_len + 4], &[0, 0, 0, 24]);
        assert!(!wire.windows(6).any(|w| w == b"secret"));
        let mut reader = PacketReader::new(&wire[..]);
        assert_eq!(reader.receive().as_deref(), Ok(&b"\x05cleartext first"[..]));
        reader.rekey(&key, false);
        assert_eq!(reader.receive().as_deref(), Ok(&b"\x5esecret payload"[..]));
        assert_eq!(reader.receive().as_deref(), Ok(&b"\x5eanother"[..]));

        // One flipped bit in the ciphertext, or the wrong sequence number: refused.
        let mut tampered = wire.clone();
        tampered[first_len + 6] ^= 1;
        let mut reader = PacketReader::new(&tampered[..]);
        reader.receive().expect("first");
        reader.rekey(&key, false);
        assert!(reader
            .receive()
            .is_err_and(|e| e.contains("authentication")));
        let mut reader = PacketReader::new(&wire[first_len..]);
        reader.rekey(&key, true); // sequence 0 instead of 1: the nonce differs
        assert!(reader.receive().is_err());
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        for header in [[0xff, 0xff, 0xff, 0xff], [0, 0, 0, 2]] {
            let mut reader = PacketReader::new(&header[..]);
            assert!(reader
                .receive()
                .is_err_and(|e| e.contains("bad packet length")));
        }
        // Padding longer than the packet.
        let packet = [0, 0, 0, 8, 200, 1, 2, 3, 4, 5, 6, 7];
        assert!(PacketReader::new(&packet[..])
            .receive()
            .is_err_and(|e| e.contains("bad padding")));
        // The connection ends mid-packet.
        assert!(PacketReader::new(&[0, 0, 0, 12, 4][..])
            .receive()
            .is_err_and(|e| e.contains("closed")));
    }
}
