//! The TFTP state machine against a simulated server on byte strings: no sockets, no
//! waiting (an empty queue is a timeout).
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::packet::{self, Packet};
use super::{receive, Transport};
use crate::net::transfer::Transfer;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 2, 2], port))
}
const SERVER: u16 = 69;
const TID: u16 = 40000;
const STRAY: u16 = 40001;

/// A TFTP server in memory: answers what the client sends by queueing packets.
#[derive(Default)]
struct Sim {
    file: Vec<u8>,
    /// The OACK's blksize and windowsize; `None` ignores options (RFC 1350 server).
    honour: Option<(usize, u16)>,
    refuse_options: bool,
    error: Option<(u16, &'static str)>,
    /// DATA transmissions (1-based count) that get lost.
    lose: Vec<usize>,
    duplicate: bool,
    stray: bool,
    silent: bool,
    blksize: usize,
    window: u16,
    data_count: usize,
    highest: u64,
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
    received: Vec<(Vec<u8>, SocketAddr)>,
}

impl Sim {
    fn new(file: Vec<u8>) -> Sim {
        Sim {
            file,
            blksize: 512,
            window: 1,
            ..Sim::default()
        }
    }

    fn data(&mut self, block: u64) -> bool {
        let start = ((block - 1) as usize * self.blksize).min(self.file.len());
        let end = (start + self.blksize).min(self.file.len());
        let mut p = vec![0, 3];
        p.extend_from_slice(&(block as u16).to_be_bytes());
        p.extend_from_slice(&self.file[start..end]);
        self.highest = self.highest.max(block);
        self.data_count += 1;
        if !self.lose.contains(&self.data_count) {
            self.queue.push_back((p.clone(), addr(TID)));
            if self.duplicate {
                self.queue.push_back((p, addr(TID)));
            }
        }
        end - start < self.blksize
    }

    fn send_window(&mut self, first: u64) {
        for block in first..first + u64::from(self.window) {
            if self.data(block) {
                break;
            }
        }
    }
}

impl Transport for Sim {
    fn send(&mut self, p: &[u8], to: SocketAddr) -> Result<(), String> {
        self.received.push((p.to_vec(), to));
        if self.silent || to.port() == STRAY {
            return Ok(());
        }
        if p.starts_with(&[0, 1]) {
            let fields: Vec<&[u8]> = p[2..].split(|&b| b == 0).collect();
            let has_options = fields.len() > 3;
            if let Some((code, text)) = self.error {
                self.queue.push_back((packet::error(code, text), addr(TID)));
            } else if has_options && self.refuse_options {
                self.queue
                    .push_back((packet::error(8, "no options"), addr(TID)));
            } else if let (true, Some((blksize, window))) = (has_options, self.honour) {
                (self.blksize, self.window) = (blksize, window);
                let mut oack = vec![0, 6];
                let tsize = self.file.len().to_string();
                for field in [
                    "blksize",
                    &blksize.to_string(),
                    "windowsize",
                    &window.to_string(),
                    "tsize",
                    &tsize,
                ] {
                    oack.extend_from_slice(field.as_bytes());
                    oack.push(0);
                }
                self.queue.push_back((oack, addr(TID)));
            } else {
                (self.blksize, self.window) = (512, 1);
                self.send_window(1);
            }
            if self.stray {
                // After the first block: the server's port is known by then.
                let at = self.queue.len().min(1);
                self.queue
                    .insert(at, (packet::error(0, "stray"), addr(STRAY)));
            }
        } else if let Some(Packet::Ack(n)) = packet::parse(p) {
            // The absolute block this 16-bit number stands for: the latest one sent.
            let acked = (0..=self.highest)
                .rev()
                .find(|b| *b as u16 == n)
                .unwrap_or(0);
            let done = acked > 0 && acked as usize * self.blksize > self.file.len();
            if !done {
                self.send_window(acked + 1);
            }
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], _: Duration) -> Result<Option<(usize, SocketAddr)>, String> {
        Ok(self.queue.pop_front().map(|(p, from)| {
            buf[..p.len()].copy_from_slice(&p);
            (p.len(), from)
        }))
    }
}

fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn run(sim: &mut Sim, limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut transfer = Transfer {
        limit,
        ..Transfer::default()
    };
    receive(sim, addr(SERVER), "boot/file", &mut out, &mut transfer).map(|n| {
        assert_eq!(n as usize, out.len());
        out
    })
}

fn sent_acks(sim: &Sim) -> usize {
    sim.received
        .iter()
        .filter(|(p, _)| p.starts_with(&[0, 4]))
        .count()
}

#[test]
fn the_oack_values_are_used_and_a_window_takes_one_ack() {
    let mut sim = Sim::new(file(10_000));
    sim.honour = Some((1024, 4));
    assert_eq!(run(&mut sim, u64::MAX), Ok(file(10_000)));
    // ACK 0 for the OACK, then one per window of 4 blocks: 10 blocks → 3 ACKs.
    assert_eq!(sent_acks(&sim), 4);
    let rrq = &sim.received[0].0;
    assert!(
        rrq.ends_with(b"blksize\x001468\0tsize\x000\0windowsize\x008\0"),
        "{rrq:?}"
    );
}

#[test]
fn a_server_ignoring_options_sends_512_byte_blocks() {
    let mut sim = Sim::new(file(1024));
    assert_eq!(run(&mut sim, u64::MAX), Ok(file(1024)));
    // Exactly two full blocks: an empty third one ends the transfer.
    assert_eq!(sent_acks(&sim), 3);
    assert_eq!(
        sim.received.last().map(|(p, a)| (p.clone(), *a)),
        Some((packet::ack(3), addr(TID)))
    );
}

#[test]
fn lost_packets_are_sent_again() {
    let mut sim = Sim::new(file(20_000));
    sim.honour = Some((1468, 8));
    sim.lose = vec![3, 9];
    assert_eq!(run(&mut sim, u64::MAX), Ok(file(20_000)));
    let mut plain = Sim::new(file(3000));
    plain.lose = vec![2];
    assert_eq!(run(&mut plain, u64::MAX), Ok(file(3000)));
}

#[test]
fn duplicate_data_is_written_once() {
    let mut sim = Sim::new(file(5000));
    sim.duplicate = true;
    assert_eq!(run(&mut sim, u64::MAX), Ok(file(5000)));
}

#[test]
fn packets_from_another_port_are_answered_with_an_error_and_ignored() {
    let mut sim = Sim::new(file(700));
    sim.stray = true;
    assert_eq!(run(&mut sim, u64::MAX), Ok(file(700)));
    let to_stray: Vec<_> = sim
        .received
        .iter()
        .filter(|(_, a)| a.port() == STRAY)
        .collect();
    assert_eq!(to_stray.len(), 1);
    assert!(to_stray[0].0.starts_with(&[0, 5, 0, 5]));
}

#[test]
fn server_errors_carry_code_and_message() {
    let mut sim = Sim::new(Vec::new());
    sim.error = Some((1, "File not found"));
    assert_eq!(
        run(&mut sim, u64::MAX),
        Err("server error 1 (file not found): File not found".into())
    );
}

#[test]
fn refused_options_are_dropped_and_the_request_repeated() {
    let mut sim = Sim::new(file(600));
    sim.refuse_options = true;
    assert_eq!(run(&mut sim, u64::MAX), Ok(file(600)));
    assert_eq!(sim.received[1].0, b"\0\x01boot/file\0octet\0");
}

#[test]
fn a_silent_server_is_given_up_after_bounded_tries() {
    let mut sim = Sim::new(Vec::new());
    sim.silent = true;
    assert_eq!(
        run(&mut sim, u64::MAX),
        Err("no answer from the TFTP server (6 tries)".into())
    );
    assert_eq!(sim.received.len(), 6);
}

#[test]
fn block_numbers_wrap_past_65535() {
    let len = 8 * 70_000 + 3;
    let mut sim = Sim::new(file(len));
    sim.honour = Some((8, 1));
    assert_eq!(run(&mut sim, u64::MAX).map(|f| f == file(len)), Ok(true));
    assert!(sim.highest > 65_536);
}

#[test]
fn the_size_limit_holds_with_and_without_tsize() {
    let mut sim = Sim::new(file(5000));
    sim.honour = Some((512, 1));
    let e = run(&mut sim, 4096).unwrap_err();
    assert!(e.contains("5000 bytes is over the 4096 byte limit"), "{e}");
    assert!(sim
        .received
        .last()
        .is_some_and(|(p, _)| p.starts_with(&[0, 5, 0, 8])));
    let mut plain = Sim::new(file(5000));
    assert_eq!(
        run(&mut plain, 4096),
        Err("over the 4096 byte limit".into())
    );
}

#[test]
fn a_real_socket_on_loopback() {
    use std::net::UdpSocket;
    let listen = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = listen.local_addr().expect("addr").port();
    let content = file(3000);
    let served = content.clone();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let (_, client) = listen.recv_from(&mut buf).expect("rrq");
        let tid = UdpSocket::bind("127.0.0.1:0").expect("tid");
        tid.send_to(b"\0\x06blksize\x001000\0tsize\x003000\0", client)
            .expect("oack");
        let mut block = 0u16;
        loop {
            let n = tid.recv(&mut buf).expect("ack");
            assert_eq!(&buf[..n], packet::ack(block).as_slice());
            let start = usize::from(block) * 1000;
            if start > served.len() {
                break;
            }
            block += 1;
            let mut p = vec![0, 3];
            p.extend_from_slice(&block.to_be_bytes());
            p.extend_from_slice(&served[start..(start + 1000).min(served.len())]);
            tid.send_to(&p, client).expect("data");
        }
    });
    let url = crate::net::url::parse_url(&format!("tftp://127.0.0.1:{port}/f")).expect("url");
    let mut out = Vec::new();
    let got = super::get(&url, &mut out, &mut Transfer::default());
    assert_eq!(got, Ok(3000));
    assert_eq!(out, content);
    server.join().expect("server");
}
