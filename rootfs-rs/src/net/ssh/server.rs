//! One connection, server side: version exchange, key exchange (kex.rs), the
//! `ssh-userauth` service with public-key authentication (RFC 4252 §7), then the
//! connection protocol (session.rs). Errors end the connection with a reason; the reason
//! goes to the kernel log (`dmesg`) as well, so a refused login can be seen on the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::{SecureRandom, SystemRandom};

use super::kex::{self, ExchangeInputs};
use super::keys::{self, HostKey};
use super::packet::{PacketReader, PacketWriter};
use super::session::{self, SessionKind};
use super::wire::{msg, Reader, Writer};

/// How long a client may take to log in (OpenSSH's LoginGraceTime is 120 s).
const LOGIN_GRACE: Duration = Duration::from_secs(60);
/// Failed authentication attempts before the connection is dropped.
const MAX_AUTH_FAILURES: u32 = 10;

pub struct ServerConfig {
    pub host_key: HostKey,
    pub authorized: Vec<Vec<u8>>,
    pub session: SessionKind,
}

pub type SharedWriter = Arc<Mutex<PacketWriter<TcpStream>>>;

/// Sends one message on a writer other threads may share.
pub fn send(writer: &SharedWriter, message: &[u8]) -> Result<(), String> {
    let mut guard = writer
        .lock()
        .map_err(|_| "ssh: a sender thread failed".to_string())?;
    guard
        .send(message)
        .map_err(|err| format!("ssh: sending to the client: {err}"))
}

/// The packet reader after key exchange, with the handling of the messages that may come
/// at any time (IGNORE, DEBUG, UNIMPLEMENTED, DISCONNECT, and a re-key we do not do).
pub struct Incoming {
    reader: PacketReader<BufReader<TcpStream>>,
    writer: SharedWriter,
}

impl Incoming {
    pub fn receive(&mut self) -> Result<Vec<u8>, String> {
        loop {
            let payload = self.reader.receive()?;
            match payload.first().copied() {
                Some(msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED) => continue,
                Some(msg::DISCONNECT) => {
                    let mut reader = Reader::new(&payload[1..], "DISCONNECT");
                    let _code = reader.u32();
                    let reason = reader.text().unwrap_or_default();
                    return Err(format!("ssh: the client disconnected ({reason})"));
                }
                Some(msg::KEXINIT) => {
                    return Err("ssh: the client asked to re-key; kboot does not re-key \
                                (reconnect for a fresh session)"
                        .into())
                }
                Some(_) => return Ok(payload),
                None => return Err("ssh: empty message".into()),
            }
        }
    }

    /// RFC 4253 §11.4: the reply to a message we do not know.
    pub fn unimplemented(&self) -> Result<(), String> {
        let sequence = self.reader.sequence().wrapping_sub(1);
        send(
            &self.writer,
            &Writer::new(msg::UNIMPLEMENTED).u32(sequence).bytes,
        )
    }

    pub fn writer(&self) -> &SharedWriter {
        &self.writer
    }
}

/// Serves one client until it leaves; the error says why a connection ended badly.
pub fn serve(stream: TcpStream, config: &ServerConfig) -> Result<(), String> {
    stream
        .set_read_timeout(Some(LOGIN_GRACE))
        .map_err(|err| format!("ssh: {err}"))?;
    let _ = stream.set_nodelay(true);
    let server_version = format!("SSH-2.0-kboot_{}", crate::VERSION);
    let mut out = stream.try_clone().map_err(|err| format!("ssh: {err}"))?;
    out.write_all(format!("{server_version}\r\n").as_bytes())
        .map_err(|err| format!("ssh: sending the version: {err}"))?;
    let mut input = BufReader::new(stream.try_clone().map_err(|err| format!("ssh: {err}"))?);
    let client_version = read_version(&mut input)?;
    let mut reader = PacketReader::new(input);
    let writer: SharedWriter = Arc::new(Mutex::new(PacketWriter::new(out)));

    let session_id = key_exchange(
        &mut reader,
        &writer,
        config,
        &client_version,
        &server_version,
    )?;
    let mut incoming = Incoming { reader, writer };
    let user = authenticate(&mut incoming, &config.authorized, &session_id)?;
    stream
        .set_read_timeout(None)
        .map_err(|err| format!("ssh: {err}"))?;
    log(&format!("{user} logged in from {}", peer(&stream)));
    session::run(&mut incoming, config.session)
}

pub fn peer(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A line in the kernel log (`dmesg`): who logged in, who was refused and why.
pub fn log(line: &str) {
    if let Ok(mut kmsg) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = kmsg.write_all(format!("kboot-sshd: {line}\n").as_bytes());
    }
}

/// The client's identification line (RFC 4253 §4.2), without CR LF. Lines before it that
/// do not start with "SSH-" are skipped, a few at most.
fn read_version(input: &mut impl BufRead) -> Result<Vec<u8>, String> {
    for _ in 0..8 {
        let mut line = Vec::new();
        input
            .by_ref()
            .take(256)
            .read_until(b'\n', &mut line)
            .map_err(|err| format!("ssh: reading the client's version: {err}"))?;
        if line.is_empty() {
            return Err("ssh: the client closed the connection before its version".into());
        }
        while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            line.pop();
        }
        if line.starts_with(b"SSH-2.0-") || line.starts_with(b"SSH-1.99-") {
            return Ok(line);
        }
        if line.starts_with(b"SSH-") {
            return Err(format!(
                "ssh: the client speaks {} (only SSH 2 is supported)",
                String::from_utf8_lossy(&line)
            ));
        }
    }
    Err("ssh: no SSH version line from the client".into())
}

/// KEXINIT both ways, the curve25519-sha256 exchange, NEWKEYS both ways; returns the
/// session identifier (the first exchange hash).
fn key_exchange(
    reader: &mut PacketReader<BufReader<TcpStream>>,
    writer: &SharedWriter,
    config: &ServerConfig,
    client_version: &[u8],
    server_version: &str,
) -> Result<Vec<u8>, String> {
    let rng = SystemRandom::new();
    let mut cookie = [0u8; 16];
    rng.fill(&mut cookie)
        .map_err(|_| "ssh: no random bytes".to_string())?;
    let server_kexinit = kex::server_kexinit(cookie);
    send(writer, &server_kexinit)?;
    let client_kexinit = reader.receive()?;
    if client_kexinit.first() != Some(&msg::KEXINIT) {
        return Err("ssh: the client did not start with KEXINIT".into());
    }
    let negotiated = kex::negotiate(&client_kexinit)?;
    if negotiated.ignore_guess {
        reader.receive()?;
    }
    let init = reader.receive()?;
    let mut init_reader = Reader::new(&init, "KEX_ECDH_INIT");
    if init_reader.byte()? != msg::KEX_ECDH_INIT {
        return Err("ssh: expected the client's KEX_ECDH_INIT".into());
    }
    let client_ephemeral = init_reader.string()?.to_vec();
    if client_ephemeral.len() != 32 {
        return Err("ssh: the client's X25519 key is not 32 bytes".into());
    }
    let private = EphemeralPrivateKey::generate(&X25519, &rng)
        .map_err(|_| "ssh: no random bytes for X25519".to_string())?;
    let server_ephemeral = private
        .compute_public_key()
        .map_err(|_| "ssh: X25519 public key".to_string())?
        .as_ref()
        .to_vec();
    let shared_secret = agree_ephemeral(
        private,
        &UnparsedPublicKey::new(&X25519, &client_ephemeral),
        |secret| secret.to_vec(),
    )
    .map_err(|_| "ssh: the client's X25519 key is invalid".to_string())?;
    let host_key_blob = config.host_key.public_blob();
    let hash = kex::exchange_hash(&ExchangeInputs {
        client_version,
        server_version: server_version.as_bytes(),
        client_kexinit: &client_kexinit,
        server_kexinit: &server_kexinit,
        host_key_blob: &host_key_blob,
        client_ephemeral: &client_ephemeral,
        server_ephemeral: &server_ephemeral,
        shared_secret: &shared_secret,
    });
    let reply = Writer::new(msg::KEX_ECDH_REPLY)
        .string(&host_key_blob)
        .string(&server_ephemeral)
        .string(&config.host_key.sign(&hash));
    send(writer, &reply.bytes)?;
    send(writer, &[msg::NEWKEYS])?;
    let session_id = hash.clone();
    let to_client = kex::derive_key(&shared_secret, &hash, b'D', &session_id);
    writer
        .lock()
        .map_err(|_| "ssh: a sender thread failed".to_string())?
        .rekey(&to_client, negotiated.strict);
    let newkeys = reader.receive()?;
    if newkeys != [msg::NEWKEYS] {
        return Err("ssh: expected the client's NEWKEYS".into());
    }
    let from_client = kex::derive_key(&shared_secret, &hash, b'C', &session_id);
    reader.rekey(&from_client, negotiated.strict);
    Ok(session_id)
}

/// The ssh-userauth service: "publickey" with an authorized ssh-ed25519 key, nothing
/// else. Returns the user name the client gave.
fn authenticate(
    incoming: &mut Incoming,
    authorized: &[Vec<u8>],
    session_id: &[u8],
) -> Result<String, String> {
    let request = incoming.receive()?;
    let mut reader = Reader::new(&request, "SERVICE_REQUEST");
    if reader.byte()? != msg::SERVICE_REQUEST || reader.string()? != b"ssh-userauth" {
        return Err("ssh: expected a request for ssh-userauth".into());
    }
    send(
        incoming.writer(),
        &Writer::new(msg::SERVICE_ACCEPT)
            .string(b"ssh-userauth")
            .bytes,
    )?;
    let failure = Writer::new(msg::USERAUTH_FAILURE)
        .string(b"publickey")
        .boolean(false)
        .bytes;
    let mut failures = 0;
    loop {
        let request = incoming.receive()?;
        let mut reader = Reader::new(&request, "USERAUTH_REQUEST");
        if reader.byte()? != msg::USERAUTH_REQUEST {
            incoming.unimplemented()?;
            continue;
        }
        let user = reader.text()?;
        let service = reader.string()?;
        let method = reader.string()?;
        if method == b"publickey" && service == b"ssh-connection" {
            let signed = reader.boolean()?;
            let algorithm = reader.string()?;
            let blob = reader.string()?;
            let known =
                algorithm == kex::HOST_KEY.as_bytes() && authorized.iter().any(|k| k == blob);
            if known && !signed {
                // RFC 4252 §7: "this key would do", the client then signs.
                let ok = Writer::new(msg::USERAUTH_PK_OK)
                    .string(algorithm)
                    .string(blob);
                send(incoming.writer(), &ok.bytes)?;
                continue;
            }
            if known {
                let signature = reader.string()?;
                let signed_data = Writer::default()
                    .string(session_id)
                    .byte(msg::USERAUTH_REQUEST)
                    .string(user.as_bytes())
                    .string(service)
                    .string(b"publickey")
                    .boolean(true)
                    .string(algorithm)
                    .string(blob);
                if keys::verify(blob, &signed_data.bytes, signature) {
                    send(incoming.writer(), &[msg::USERAUTH_SUCCESS])?;
                    return Ok(user);
                }
            }
            log(&format!(
                "refused key {} for {user}",
                keys::fingerprint(blob)
            ));
        }
        failures += 1;
        if failures >= MAX_AUTH_FAILURES {
            return Err("ssh: too many failed authentication attempts".into());
        }
        send(incoming.writer(), &failure)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines_are_read_and_ssh1_refused() {
        let mut input = &b"hello there\r\nSSH-2.0-OpenSSH_9.2p1 Debian-2\r\nrest"[..];
        assert_eq!(
            read_version(&mut input).as_deref(),
            Ok(&b"SSH-2.0-OpenSSH_9.2p1 Debian-2"[..])
        );
        let mut old = &b"SSH-1.5-old\r\n"[..];
        assert!(read_version(&mut old).is_err_and(|e| e.contains("only SSH 2")));
        let mut empty = &b""[..];
        assert!(read_version(&mut empty).is_err());
    }
}
