//! The handshake against nginx on loopback with certificates made by openssl: one that
//! verifies, and each way one can fail, with the message an operator sees.

use super::*;
use qemu_tests::servers::{free_port, Nginx, TestCa};
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};

/// A clock stuck at a given time, as on a machine whose RTC is wrong.
#[derive(Debug)]
struct FixedClock(u64);

impl TimeProvider for FixedClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(self.0)))
    }
}

fn tls_server(port: u16, cert: &Path, key: &Path) -> String {
    format!(
        "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {}; ssl_certificate_key {}; \
         location / {{ return 200 \"hello over tls\\n\"; }} }}\n",
        cert.display(),
        key.display()
    )
}

use std::path::Path;

#[test]
fn handshakes_verify_the_ca_the_name_and_the_dates_and_say_what_failed() {
    let dir = std::env::temp_dir().join(format!("kboot-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let trusted = TestCa::new(&dir, "trusted").unwrap_or_else(|e| panic!("{e}"));
    let stranger = TestCa::new(&dir, "stranger").unwrap_or_else(|e| panic!("{e}"));
    let good = trusted
        .issue("good", "IP:127.0.0.1,DNS:localhost")
        .unwrap_or_else(|e| panic!("{e}"));
    let other_name = trusted
        .issue("other-name", "DNS:boot.example")
        .unwrap_or_else(|e| panic!("{e}"));
    let unknown = stranger
        .issue("unknown", "IP:127.0.0.1")
        .unwrap_or_else(|e| panic!("{e}"));
    let ports: Vec<u16> = (0..3).map(|_| free_port().expect("port")).collect();
    let servers = tls_server(ports[0], &good.cert, &good.key)
        + &tls_server(ports[1], &other_name.cert, &other_name.key)
        + &tls_server(ports[2], &unknown.cert, &unknown.key);
    let _nginx = Nginx::start(&dir, &servers, &ports).unwrap_or_else(|e| panic!("{e}"));
    let pem = std::fs::read(&trusted.cert).expect("CA");
    let timeout = Duration::from_secs(10);
    let with_clock = |clock: Arc<dyn TimeProvider>| client_config(&pem, clock).expect("config");

    let now = with_clock(Arc::new(DefaultTimeProvider));
    let mut stream =
        connect_with(now.clone(), "127.0.0.1", ports[0], timeout).expect("a trusted server");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("request");
    let (head, body) = crate::net::http::read_head(&mut stream).expect("response");
    assert_eq!(crate::net::http::parse_head(&head).map(|h| h.0), Ok(200));
    let mut rest = body;
    stream.read_to_end(&mut rest).expect("body");
    assert_eq!(rest, b"hello over tls\n");
    // (The certificate also names `localhost`, but resolving it depends on the host's
    // /etc/hosts, which a minimal Debian root lacks: the name checks are the IP's here and
    // the mismatch case below.)

    let err = connect_with(now.clone(), "127.0.0.1", ports[2], timeout).err();
    let err = err.expect("a server of an unknown CA is refused");
    assert!(err.contains("unknown CA"), "{err}");
    assert!(
        err.starts_with(&format!("127.0.0.1:{}: TLS handshake: ", ports[2])),
        "{err}"
    );

    let err = connect_with(now, "127.0.0.1", ports[1], timeout).err();
    let err = err.expect("a certificate for another name is refused");
    assert!(
        err.contains("not valid for 127.0.0.1 (name mismatch: it names boot.example)"),
        "{err}"
    );

    // 2100-01-01 and 2000-01-01: the certificates are valid for 30 days from today.
    let future = with_clock(Arc::new(FixedClock(4_102_444_800)));
    let err = connect_with(future, "127.0.0.1", ports[0], timeout).err();
    let err = err.expect("an expired certificate is refused");
    assert!(err.contains("expired on "), "{err}");
    assert!(
        err.contains("this machine's clock says 2100-01-01 00:00:00 UTC"),
        "{err}"
    );
    let past = with_clock(Arc::new(FixedClock(946_684_800)));
    let err = connect_with(past, "127.0.0.1", ports[0], timeout).err();
    let err = err.expect("a certificate not yet valid is refused");
    assert!(err.contains("is not valid before "), "{err}");
    assert!(err.contains("clock says 2000-01-01 00:00:00 UTC"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bundle_without_certificates_is_an_error() {
    let clock = Arc::new(DefaultTimeProvider);
    let err = client_config(b"not a certificate\n", clock).err();
    assert!(err.expect("no CA").contains("no usable CA certificate"));
}
