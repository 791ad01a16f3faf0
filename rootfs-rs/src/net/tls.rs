//! TLS for https:// (rustls with ring's primitives): the server must present a chain to one
//! of the CAs the image carries (/etc/kboot/ca.pem, written at build time from `[net] ca`
//! and `system_ca` in kboot.toml), for the host name in the URL. When it does not, the
//! error says which check failed; for the validity period it also shows this machine's
//! clock, because a boot environment's clock is often wrong (no NTP, a flat RTC battery).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, Error, RootCertStore};

/// The CA certificates the image trusts (PEM, concatenated).
pub const CA_BUNDLE: &str = "/etc/kboot/ca.pem";

/// An established TLS connection.
pub struct TlsStream(rustls::StreamOwned<ClientConnection, TcpStream>);

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            // A server that closes without close_notify: the end of the body. HTTP's
            // Content-Length check still catches a body cut short.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The trust store and protocol settings, read once per process from `CA_BUNDLE`.
fn image_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let pem = std::fs::read(CA_BUNDLE).map_err(|e| {
                format!(
                    "{CA_BUNDLE}: {} (the image trusts no CA: set [net] ca = [\"ca.pem\"] \
                     or system_ca = true in kboot.toml when building it)",
                    crate::util::reason(&e)
                )
            })?;
            client_config(&pem, Arc::new(rustls::time_provider::DefaultTimeProvider))
                .map_err(|e| format!("{CA_BUNDLE}: {e}"))
        })
        .clone()
}

/// A client configuration trusting the certificates in `pem`, checking validity against
/// `clock`.
pub fn client_config(
    pem: &[u8],
    clock: Arc<dyn rustls::time_provider::TimeProvider>,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let mut skipped = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("bad PEM: {e:?}"))?;
        // A system bundle can hold certificates webpki cannot use; one of them must not
        // make the others useless.
        if roots.add(cert).is_err() {
            skipped += 1;
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "no usable CA certificate ({skipped} rejected, or no PEM CERTIFICATE block)"
        ));
    }
    // Deprecated only because ring has no post-quantum key exchange; aws-lc-rs has one
    // but needs cmake and a C toolchain for musl, and is larger.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_details(provider, clock)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects to `host:port` and completes the TLS handshake with the image's trust store.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TlsStream, String> {
    let config = image_config()?;
    connect_with(config, host, port, timeout)
}

/// `connect` with a given configuration (tests use their own CA and clock).
pub fn connect_with(
    config: Arc<ClientConfig>,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TlsStream, String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host}: not a host name or IP address TLS can check"))?;
    let mut conn = ClientConnection::new(config, name).map_err(|e| format!("{host}: {e}"))?;
    let mut socket = crate::net::transfer::connect(host, port, timeout)?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut socket) {
            let why = match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
                Some(tls) => describe(tls, host),
                None => format!("connection failed: {}", crate::util::reason(&e)),
            };
            return Err(format!("{host}:{port}: TLS handshake: {why}"));
        }
    }
    Ok(TlsStream(rustls::StreamOwned::new(conn, socket)))
}

/// What failed, in words an operator can act on.
pub fn describe(err: &Error, host: &str) -> String {
    match err {
        Error::InvalidCertificate(cert) => describe_certificate(cert, host),
        Error::AlertReceived(alert) => {
            format!("the server refused the connection (alert {alert:?})")
        }
        Error::PeerIncompatible(why) => {
            format!("the server offers no TLS version, cipher or group kboot supports ({why:?})")
        }
        other => other.to_string(),
    }
}

fn describe_certificate(err: &CertificateError, host: &str) -> String {
    use CertificateError as C;
    match err {
        C::UnknownIssuer => format!(
            "the server's certificate is not signed by a CA this image trusts \
             (unknown CA; the image trusts {CA_BUNDLE}, from [net] ca in kboot.toml)"
        ),
        C::NotValidForNameContext { presented, .. } => format!(
            "the certificate is not valid for {host} (name mismatch: it names {})",
            if presented.is_empty() {
                "nothing".to_string()
            } else {
                presented
                    .iter()
                    .map(|p| plain_name(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        C::NotValidForName => format!("the certificate is not valid for {host} (name mismatch)"),
        C::ExpiredContext { time, not_after } => format!(
            "the certificate expired on {} and this machine's clock says {} (expired, or is the clock wrong?)",
            date(*not_after),
            date(*time)
        ),
        C::NotValidYetContext { time, not_before } => format!(
            "the certificate is not valid before {} and this machine's clock says {} (not yet valid, or is the clock wrong?)",
            date(*not_before),
            date(*time)
        ),
        C::Expired | C::NotValidYet => format!(
            "the certificate is outside its validity period and this machine's clock says {} (is the clock wrong?)",
            date(UnixTime::now())
        ),
        C::BadSignature => "the certificate's signature does not verify".to_string(),
        other => format!("bad certificate: {other}"),
    }
}

/// `boot.example` of webpki's `DnsName("boot.example")` (how it lists a certificate's names).
fn plain_name(presented: &str) -> &str {
    match (presented.find('('), presented.rfind(')')) {
        (Some(open), Some(close)) if open < close => presented[open + 1..close].trim_matches('"'),
        _ => presented,
    }
}

fn date(t: UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    format!("{} UTC", crate::util::fmt::civil(secs).iso())
}

#[cfg(test)]
mod tests;
