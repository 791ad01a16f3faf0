//! kboot as the capture kernel saving over the network: a target list whose first entry
//! is down (nothing listens there) and whose second is nginx with WebDAV over HTTPS (a test
//! CA, added to the capture initramfs as /etc/kboot/ca.pem), and a report collector (a
//! Python script) that refuses the first POST. All servers run on the host's loopback; the
//! guest reaches them as 10.0.2.2. The dump must arrive whole under its final name only,
//! and re-open with kboot triage and makedumpfile.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use qemu_tests::kdump::{crash_and_capture, work_dir, Production};
use qemu_tests::servers::{free_port, Nginx, TestCa};

const HOST: &str = "10.0.2.2";

/// Answers the first POST with 503, stores the body of the next one in the file named by
/// its second argument.
const COLLECTOR: &str = r#"
import http.server, sys
posts = 0
class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global posts
        posts += 1
        body = self.rfile.read(int(self.headers['Content-Length']))
        if posts == 1:
            self.send_response(503)
        else:
            with open(sys.argv[2], 'wb') as f:
                f.write(body)
            self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Collector).serve_forever()
"#;

struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_collector(port: u16, into: &Path) -> Collector {
    let child = qemu_tests::host_tools::command("python3")
        .args(["-c", COLLECTOR, &port.to_string()])
        .arg(into)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let collector = Collector(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the collector did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    collector
}

fn port() -> u16 {
    free_port().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_capture_falls_back_to_webdav_over_https_and_posts_its_report() {
    let dir = work_dir("webdav");
    let ca = TestCa::new(&dir.join("pki"), "site").unwrap_or_else(|e| panic!("{e}"));
    let cert = ca
        .issue("server", &format!("IP:{HOST}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("upload")).expect("mkdir");
    let (dav, down, collector_port) = (port(), port(), port());
    let site = format!(
        "server {{ listen 127.0.0.1:{dav} ssl; ssl_certificate {}; ssl_certificate_key {}; \
         root {}; location /upload/ {{ dav_methods PUT DELETE MKCOL MOVE; }} }}\n",
        cert.cert.display(),
        cert.key.display(),
        www.display()
    );
    let nginx = Nginx::start(&dir, &site, &[dav]).unwrap_or_else(|e| panic!("{e}"));
    let posted = dir.join("posted.json");
    let _collector = start_collector(collector_port, &posted);
    let disk = dir.join("other-disk.img");
    qemu_tests::disks::ext4_image(&disk, "NOT-A-DUMP", 16).unwrap_or_else(|e| panic!("{e}"));

    let trust = dir.join("trust-root");
    std::fs::create_dir_all(trust.join("etc/kboot")).expect("mkdir");
    std::fs::copy(&ca.cert, trust.join("etc/kboot/ca.pem")).expect("copy CA");
    let capture_extra = format!(
        "kboot.dump=http://{HOST}:{down}/upload/,https://{HOST}:{dav}/upload/ \
         kboot.dump.report_url=http://{HOST}:{collector_port}/report"
    );
    let production = Production {
        crashkernel: None,
        extra: "",
        capture_extra: &capture_extra,
        disks: vec![disk.clone()],
        extra_args: vec!["-nic".into(), "user,model=virtio-net-pci".into()],
        capture_overlay: Some(
            qemu_tests::disks::cpio_newc(&trust).unwrap_or_else(|e| panic!("{e}")),
        ),
        before_crash: "",
        netns: None,
    };
    let console = crash_and_capture("capture_webdav", &dir, production).replace('\r', "");
    let has = |text: &str| console.contains(text);
    assert!(
        has(&format!(
            "kboot: dump: error: can't connect to {HOST}:{down}"
        )) && has("trying the next target"),
        "the dead target was not reported (log in target/qemu-logs/capture_webdav.log)"
    );
    assert!(
        has("kboot: dump: used target 2 of 2: https://"),
        "the target used is not said"
    );
    assert!(has("(attempt 1 of 4)"), "the refused POST was not retried");
    assert!(has(&format!(
        "report posted to http://{HOST}:{collector_port}/report"
    )));

    let captures: Vec<_> = std::fs::read_dir(www.join("upload"))
        .expect("upload dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(captures.len(), 1, "{captures:?}\n{}", nginx.error_log());
    let capture = &captures[0];
    let name = capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(has(&format!(
        "kboot: dump: saved to https://{HOST}:{dav}/upload/{name}/"
    )));
    let mut files: Vec<String> = std::fs::read_dir(capture)
        .expect("capture dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let dump_name = format!("dump.{}.flat", &name[..15]);
    assert_eq!(
        files,
        ["dmesg.txt", dump_name.as_str(), "triage.json", "triage.txt"],
        "no temporary file may stay"
    );
    let saved_json = std::fs::read(capture.join("triage.json")).expect("triage.json");
    assert_eq!(std::fs::read(&posted).expect("posted report"), saved_json);

    // The streamed (flattened) dump re-opens: kboot reads it as is, makedumpfile after -R.
    let dump = capture.join(&dump_name);
    qemu_tests::kdump::assert_dump_shows_sysrq_panic(&dump);
    let plain = dir.join("dump.plain");
    let rearranged = qemu_tests::host_tools::command("makedumpfile")
        .arg("-R")
        .arg(&plain)
        .stdin(std::fs::File::open(&dump).expect("open dump"))
        .output()
        .expect("makedumpfile -R");
    assert!(
        rearranged.status.success(),
        "{}",
        String::from_utf8_lossy(&rearranged.stdout)
    );
    let log = dir.join("makedumpfile.dmesg");
    let m = qemu_tests::host_tools::command("makedumpfile")
        .arg("--dump-dmesg")
        .arg(&plain)
        .arg(&log)
        .output()
        .expect("makedumpfile --dump-dmesg");
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stdout));
    let dmesg = std::fs::read_to_string(&log).expect("dmesg");
    assert!(dmesg.contains("sysrq triggered crash"));
}
