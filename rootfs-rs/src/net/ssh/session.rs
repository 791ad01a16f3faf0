//! The connection protocol (RFC 4254) for one "session" channel: `exec` runs a command
//! through kboot's shell, `shell` starts the menu (or the shell with `kboot.ssh=shell`),
//! on a pseudo-terminal when the client asked for one (`pty-req`, `window-change`). The
//! child's output is sent by pump threads that respect the client's window; its exit
//! status ends the channel.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use rustix::termios::Winsize;

use super::server::{send, Incoming, SharedWriter};
use super::wire::{msg, Reader, Writer};

/// What an interactive session (`ssh host`, no command) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Menu,
    Shell,
}

/// Our receive window and largest packet, as announced to the client.
const WINDOW: u32 = 2 * 1024 * 1024;
const MAX_PACKET: u32 = 32 * 1024;

/// The client's receive window: output waits here for credit.
struct Window {
    state: Mutex<(u32, bool)>,
    changed: Condvar,
}

impl Window {
    fn new(credit: u32) -> Window {
        Window {
            state: Mutex::new((credit, false)),
            changed: Condvar::new(),
        }
    }

    /// Up to `want` bytes of credit, waiting for some; None once the channel is closed.
    fn take(&self, want: u32) -> Option<u32> {
        let mut state = self.state.lock().ok()?;
        while state.0 == 0 && !state.1 {
            state = self.changed.wait(state).ok()?;
        }
        if state.1 {
            return None;
        }
        let granted = want.min(state.0);
        state.0 -= granted;
        Some(granted)
    }

    fn add(&self, credit: u32) {
        if let Ok(mut state) = self.state.lock() {
            state.0 = state.0.saturating_add(credit);
            self.changed.notify_all();
        }
    }

    fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.1 = true;
            self.changed.notify_all();
        }
    }
}

struct Channel {
    client_id: u32,
    client_max_packet: u32,
    window: Arc<Window>,
    /// What we still accept before the client must wait for our WINDOW_ADJUST.
    our_window: u32,
    terminal: Option<(String, Winsize)>,
    running: Option<Running>,
    close_sent: Arc<AtomicBool>,
}

struct Running {
    pid: u32,
    input: Option<Box<dyn Write + Send>>,
    /// The pseudo-terminal's master side, for window changes.
    master: Option<Arc<File>>,
}

pub fn run(incoming: &mut Incoming, kind: SessionKind) -> Result<(), String> {
    let mut channel: Option<Channel> = None;
    let result = loop {
        let message = match incoming.receive() {
            Ok(message) => message,
            Err(err) => break Err(err),
        };
        match handle(incoming, &mut channel, &message, kind) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(err) => break Err(err),
        }
    };
    if let Some(channel) = channel {
        channel.window.close();
        if let Some(running) = channel.running {
            // The client is gone: the session's programs get the hang-up a terminal gives.
            if let Some(pid) = rustix::process::Pid::from_raw(running.pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::HUP);
            }
        }
    }
    result
}

/// One message of the connection protocol; false when the channel is closed.
fn handle(
    incoming: &mut Incoming,
    channel: &mut Option<Channel>,
    message: &[u8],
    kind: SessionKind,
) -> Result<bool, String> {
    let writer = incoming.writer().clone();
    let mut reader = Reader::new(message, "channel message");
    let number = reader.byte()?;
    match number {
        msg::GLOBAL_REQUEST => {
            reader.string()?;
            if reader.boolean()? {
                send(&writer, &[msg::REQUEST_FAILURE])?;
            }
        }
        msg::CHANNEL_OPEN => {
            let kind = reader.string()?;
            let client_id = reader.u32()?;
            let client_window = reader.u32()?;
            let client_max_packet = reader.u32()?;
            if kind != b"session" || channel.is_some() {
                let refusal = Writer::new(msg::CHANNEL_OPEN_FAILURE)
                    .u32(client_id)
                    .u32(1) // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
                    .string(b"kboot offers one session channel per connection")
                    .string(b"");
                send(&writer, &refusal.bytes)?;
                return Ok(true);
            }
            *channel = Some(Channel {
                client_id,
                client_max_packet: client_max_packet.clamp(1024, MAX_PACKET),
                window: Arc::new(Window::new(client_window)),
                our_window: WINDOW,
                terminal: None,
                running: None,
                close_sent: Arc::new(AtomicBool::new(false)),
            });
            let confirmation = Writer::new(msg::CHANNEL_OPEN_CONFIRMATION)
                .u32(client_id)
                .u32(0)
                .u32(WINDOW)
                .u32(MAX_PACKET);
            send(&writer, &confirmation.bytes)?;
        }
        msg::CHANNEL_REQUEST => {
            let channel = open_channel(channel, &mut reader)?;
            let request = reader.text()?;
            let want_reply = reader.boolean()?;
            let accepted = request_accepted(channel, &request, &mut reader, &writer, kind)?;
            if want_reply {
                let reply = if accepted {
                    msg::CHANNEL_SUCCESS
                } else {
                    msg::CHANNEL_FAILURE
                };
                send(&writer, &Writer::new(reply).u32(channel.client_id).bytes)?;
            }
        }
        msg::CHANNEL_DATA => {
            let channel = open_channel(channel, &mut reader)?;
            let data = reader.string()?;
            if let Some(input) = channel.running.as_mut().and_then(|r| r.input.as_mut()) {
                // A child that stopped reading just loses its input.
                let _ = input.write_all(data).and_then(|()| input.flush());
            }
            channel.our_window = channel.our_window.saturating_sub(data.len() as u32);
            if channel.our_window < WINDOW / 2 {
                let adjust = Writer::new(msg::CHANNEL_WINDOW_ADJUST)
                    .u32(channel.client_id)
                    .u32(WINDOW - channel.our_window);
                send(&writer, &adjust.bytes)?;
                channel.our_window = WINDOW;
            }
        }
        msg::CHANNEL_WINDOW_ADJUST => {
            let channel = open_channel(channel, &mut reader)?;
            channel.window.add(reader.u32()?);
        }
        msg::CHANNEL_EOF => {
            let channel = open_channel(channel, &mut reader)?;
            // Pipes: the child sees end of input. A terminal stays open (as with OpenSSH).
            if let Some(running) = channel.running.as_mut() {
                if running.master.is_none() {
                    running.input = None;
                }
            }
        }
        msg::CHANNEL_CLOSE => {
            let channel = open_channel(channel, &mut reader)?;
            if !channel.close_sent.swap(true, Ordering::SeqCst) {
                send(
                    &writer,
                    &Writer::new(msg::CHANNEL_CLOSE).u32(channel.client_id).bytes,
                )?;
            }
            return Ok(false);
        }
        msg::CHANNEL_EXTENDED_DATA | msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {}
        _ => incoming.unimplemented()?,
    }
    Ok(true)
}

fn open_channel<'a>(
    channel: &'a mut Option<Channel>,
    reader: &mut Reader,
) -> Result<&'a mut Channel, String> {
    let id = reader.u32()?;
    match channel {
        Some(channel) if id == 0 => Ok(channel),
        _ => Err(format!("ssh: message for channel {id}, which is not open")),
    }
}

/// Acts on a CHANNEL_REQUEST; whether it was accepted.
fn request_accepted(
    channel: &mut Channel,
    request: &str,
    reader: &mut Reader,
    writer: &SharedWriter,
    kind: SessionKind,
) -> Result<bool, String> {
    match request {
        "pty-req" => {
            let term = reader.text()?;
            let size = window_size(reader)?;
            channel.terminal = Some((term, size));
            Ok(true)
        }
        "window-change" => {
            let size = window_size(reader)?;
            if let Some(master) = channel.running.as_ref().and_then(|r| r.master.as_ref()) {
                let _ = rustix::termios::tcsetwinsize(&**master, size);
            }
            Ok(true)
        }
        "shell" | "exec" if channel.running.is_some() => Ok(false),
        "shell" => {
            let program: Vec<OsString> = match kind {
                // In a session nobody should be booted by a countdown: wait for a key.
                SessionKind::Menu => vec!["frontend".into(), "--timeout".into(), "-1".into()],
                SessionKind::Shell => vec!["sh".into()],
            };
            start(channel, program, writer)
        }
        "exec" => {
            let command = reader.text()?;
            start(
                channel,
                vec!["sh".into(), "-c".into(), command.into()],
                writer,
            )
        }
        _ => Ok(false),
    }
}

/// RFC 4254 §6.2: columns, rows, then the size in pixels.
fn window_size(reader: &mut Reader) -> Result<Winsize, String> {
    let clamp = |value: u32| value.min(u32::from(u16::MAX)) as u16;
    Ok(Winsize {
        ws_col: clamp(reader.u32()?),
        ws_row: clamp(reader.u32()?),
        ws_xpixel: clamp(reader.u32()?),
        ws_ypixel: clamp(reader.u32()?),
    })
}

/// Starts the applet and its arguments on a new pseudo-terminal (when one was asked for)
/// or on pipes, and the threads that send its output and then its exit status.
fn start(
    channel: &mut Channel,
    program: Vec<OsString>,
    writer: &SharedWriter,
) -> Result<bool, String> {
    let term = channel
        .terminal
        .as_ref()
        .map(|(term, _)| term.clone())
        .unwrap_or_else(|| "dumb".into());
    let mut command = Command::new("/proc/self/exe");
    command
        .env_clear()
        .env("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
        .env("HOME", "/root")
        .env("TERM", &term)
        .current_dir("/");
    let mut outputs: Vec<(Box<dyn Read + Send>, bool)> = Vec::new();
    let (child, running) = match &channel.terminal {
        Some((_, size)) => {
            let (master, terminal) = super::pty::open(*size)?;
            let stdio = |file: &File| file.try_clone().map(Stdio::from);
            let (stdin, stdout, stderr) = (stdio(&terminal), stdio(&terminal), stdio(&terminal));
            let (Ok(stdin), Ok(stdout), Ok(stderr)) = (stdin, stdout, stderr) else {
                return Err("ssh: cannot share the pseudo-terminal".into());
            };
            // getty makes the terminal the child's controlling tty in a new session.
            command
                .arg0("getty")
                .arg(super::pty::name(&terminal)?)
                .args(&program)
                .stdin(stdin)
                .stdout(stdout)
                .stderr(stderr);
            let child = spawn(&mut command, &program)?;
            drop(command); // our copies of the terminal: only the child may hold it
            drop(terminal);
            let master = Arc::new(master);
            let reading = master.try_clone().map_err(|err| format!("ssh: {err}"))?;
            let writing = master.try_clone().map_err(|err| format!("ssh: {err}"))?;
            outputs.push((Box::new(reading), false));
            let running = Running {
                pid: child.id(),
                input: Some(Box::new(writing)),
                master: Some(master),
            };
            (child, running)
        }
        None => {
            command
                .arg0(&program[0])
                .args(&program[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = spawn(&mut command, &program)?;
            let (Some(stdin), Some(stdout), Some(stderr)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err("ssh: the child's pipes are missing".into());
            };
            outputs.push((Box::new(stdout), false));
            outputs.push((Box::new(stderr), true));
            let running = Running {
                pid: child.id(),
                input: Some(Box::new(stdin)),
                master: None,
            };
            (child, running)
        }
    };
    channel.running = Some(running);
    let target = Target {
        writer: writer.clone(),
        window: channel.window.clone(),
        client_id: channel.client_id,
        max_packet: channel.client_max_packet,
        close_sent: channel.close_sent.clone(),
    };
    std::thread::spawn(move || finish(target, outputs, child));
    Ok(true)
}

fn spawn(command: &mut Command, program: &[OsString]) -> Result<Child, String> {
    command.spawn().map_err(|err| {
        format!(
            "ssh: cannot start {}: {err}",
            program
                .first()
                .map(|p| p.to_string_lossy())
                .unwrap_or_default()
        )
    })
}

/// Where a child's output goes.
#[derive(Clone)]
struct Target {
    writer: SharedWriter,
    window: Arc<Window>,
    client_id: u32,
    max_packet: u32,
    close_sent: Arc<AtomicBool>,
}

/// Sends the outputs until they end, then the exit status, EOF and CLOSE (RFC 4254 §6.10).
fn finish(target: Target, outputs: Vec<(Box<dyn Read + Send>, bool)>, mut child: Child) {
    let pumps: Vec<_> = outputs
        .into_iter()
        .map(|(source, extended)| {
            let target = target.clone();
            std::thread::spawn(move || pump(source, extended, &target))
        })
        .collect();
    for pump in pumps {
        let _ = pump.join();
    }
    let status = child.wait().ok();
    let code = status
        .and_then(|s| {
            use std::os::unix::process::ExitStatusExt;
            s.code().or_else(|| s.signal().map(|n| 128 + n))
        })
        .unwrap_or(255) as u32;
    let exit = Writer::new(msg::CHANNEL_REQUEST)
        .u32(target.client_id)
        .string(b"exit-status")
        .boolean(false)
        .u32(code);
    let _ = send(&target.writer, &exit.bytes);
    let _ = send(
        &target.writer,
        &Writer::new(msg::CHANNEL_EOF).u32(target.client_id).bytes,
    );
    if !target.close_sent.swap(true, Ordering::SeqCst) {
        let _ = send(
            &target.writer,
            &Writer::new(msg::CHANNEL_CLOSE).u32(target.client_id).bytes,
        );
    }
}

/// Copies one output to the channel as DATA (or EXTENDED_DATA type 1, stderr) within the
/// client's window, until the output ends (EOF, or EIO once a terminal's last user left).
fn pump(mut source: Box<dyn Read + Send>, extended: bool, target: &Target) {
    let mut buffer = vec![0u8; target.max_packet as usize - 64];
    loop {
        let count = match source.read(&mut buffer) {
            Ok(0) => return,
            Ok(count) => count,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let mut sent = 0;
        while sent < count {
            let Some(credit) = target.window.take((count - sent) as u32) else {
                return;
            };
            let chunk = &buffer[sent..sent + credit as usize];
            let message = if extended {
                Writer::new(msg::CHANNEL_EXTENDED_DATA)
                    .u32(target.client_id)
                    .u32(1)
                    .string(chunk)
            } else {
                Writer::new(msg::CHANNEL_DATA)
                    .u32(target.client_id)
                    .string(chunk)
            };
            if send(&target.writer, &message.bytes).is_err() {
                return;
            }
            sent += credit as usize;
        }
    }
}
