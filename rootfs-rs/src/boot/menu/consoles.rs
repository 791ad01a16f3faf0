//! The menu on every console at once, as GRUB and petitboot do: one menu process draws
//! the same state on each terminal (each with its own size and its own copy of what is on
//! it, so a countdown tick is one short line everywhere) and reads keys from all of them
//! with one poll. `takeover` decides which console drives; `hotplug` when to scan again.
//! Console 0 is the process's own stdin/stdout (its controlling terminal); the others are
//! opened here, without becoming controlling terminals.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};
use rustix::termios::tcgetwinsize;

use crate::boot::menu::hotplug::{DeviceWatch, POLL};
use crate::boot::menu::render::{full, repaint, screen_with_notice, Screen};
use crate::boot::menu::state::{Action, Key, MenuChoice, MenuState};
use crate::boot::menu::takeover::{Route, Takeover};
use crate::boot::menu::term::{decode_keys, RawMode};

/// How long a lone ESC waits for the rest of an escape sequence.
const ESCAPE_WAIT: Duration = Duration::from_millis(50);

/// Where block devices are listed for hot-plug.
const SYS_CLASS_BLOCK: &str = "/sys/class/block";

/// Shows the cursor, clears the screen: what a console is left with when the menu ends.
const CLEAR: &[u8] = b"\x1b[?25h\x1b[H\x1b[2J";

enum Fd {
    /// stdin for keys, stdout for the screen.
    Std,
    Owned(OwnedFd),
}

struct Terminal {
    name: String,
    fd: Fd,
    /// 0 for our own terminal, i for `others[i - 1]` (some may not have opened).
    origin: usize,
}

impl Terminal {
    fn input(&self) -> BorrowedFd<'_> {
        match &self.fd {
            Fd::Std => rustix::stdio::stdin(),
            Fd::Owned(fd) => fd.as_fd(),
        }
    }

    fn output(&self) -> BorrowedFd<'_> {
        match &self.fd {
            Fd::Std => rustix::stdio::stdout(),
            Fd::Owned(fd) => fd.as_fd(),
        }
    }

    fn size(&self) -> (u16, u16) {
        tcgetwinsize(self.output())
            .map(|w| (w.ws_col, w.ws_row))
            .unwrap_or((0, 0))
    }

    fn write(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match rustix::io::write(self.output(), bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
        Ok(())
    }
}

/// How the menu on the consoles ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A choice, made on console `console` (0: our own terminal, also when the countdown
    /// ran out; i: `others[i - 1]` as given to `open`).
    Chosen { choice: MenuChoice, console: usize },
    /// The block devices changed and settled: scan again (nothing was cleared).
    DevicesChanged,
}

/// A console's keys not yet decoded and what is on its screen.
struct View {
    pending: Vec<u8>,
    pending_since: Instant,
    drawn: Option<((u16, u16), Screen)>,
    /// Gone (end of input, or an error): no longer polled.
    closed: bool,
}

pub struct Consoles {
    terms: Vec<Terminal>,
    takeover: Takeover,
}

impl Consoles {
    /// stdin/stdout, plus the terminals at `others` (one that cannot be opened is left out
    /// with a warning).
    pub fn open(others: &[PathBuf]) -> Consoles {
        let mut terms = vec![Terminal {
            name: own_terminal_name(),
            fd: Fd::Std,
            origin: 0,
        }];
        for (position, path) in others.iter().enumerate() {
            let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
            match rustix::fs::open(path, flags, Mode::empty()) {
                Ok(fd) => terms.push(Terminal {
                    name: short_name(path),
                    fd: Fd::Owned(fd),
                    origin: position + 1,
                }),
                Err(err) => eprintln!("menu: warning: {}: {err}", path.display()),
            }
        }
        let takeover = Takeover::new(terms.iter().map(|t| t.name.clone()).collect());
        Consoles { terms, takeover }
    }

    /// Whether the menu can run full-screen (its own stdin is a terminal).
    pub fn is_terminal(&self) -> bool {
        rustix::termios::isatty(rustix::stdio::stdin())
    }

    /// Runs the menu on every console until a choice is made, or (with `watch`) the
    /// block devices changed. Raw mode lasts for this call only: what is printed between
    /// (booting, warnings) goes to terminals in their normal mode.
    pub fn run(
        &mut self,
        state: &mut MenuState,
        mut watch: Option<&mut DeviceWatch>,
    ) -> io::Result<Outcome> {
        let Consoles { terms, takeover } = self;
        let terms: &[Terminal] = terms;
        // Console 0 must work; another that is not a terminal is left out.
        let primary_raw = RawMode::enter(terms[0].input())?;
        let mut raws = vec![primary_raw];
        let now = Instant::now();
        let mut views: Vec<View> = Vec::new();
        for (index, term) in terms.iter().enumerate() {
            let usable = index == 0
                || match RawMode::enter(term.input()) {
                    Ok(raw) => {
                        raws.push(raw);
                        true
                    }
                    Err(_) => false,
                };
            views.push(View {
                pending: Vec::new(),
                pending_since: now,
                drawn: None,
                closed: !usable,
            });
        }
        draw(terms, takeover, state, &mut views)?;
        let mut next_tick = now + Duration::from_secs(1);
        let mut next_poll = now + POLL;
        loop {
            let poll_at = watch.is_some().then_some(next_poll);
            let ready = wait(terms, &views, timeout(state, &views, next_tick, poll_at))?;
            // Each action with the console it came from.
            let mut actions: Vec<(Action, usize)> = Vec::new();
            for index in ready {
                let mut buf = [0u8; 256];
                let n = match rustix::io::read(terms[index].input(), &mut buf) {
                    Ok(n) => n,
                    Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
                    Err(_) => 0,
                };
                if n == 0 {
                    if index == 0 {
                        // The menu's own console went away.
                        return Ok(Outcome::Chosen {
                            choice: MenuChoice::Shell,
                            console: 0,
                        });
                    }
                    views[index].closed = true;
                    continue;
                }
                let view = &mut views[index];
                if view.pending.is_empty() {
                    view.pending_since = Instant::now();
                }
                view.pending.extend_from_slice(&buf[..n]);
                let (keys, used) = decode_keys(&view.pending);
                view.pending.drain(..used);
                for key in keys {
                    actions.push((key_on(takeover, state, index, key), index));
                }
            }
            let now = Instant::now();
            for (index, view) in views.iter_mut().enumerate() {
                if view.pending.is_empty() || now < view.pending_since + ESCAPE_WAIT {
                    continue;
                }
                // Nothing followed: a pending ESC was the Esc key; anything else was a
                // broken sequence or character, dropped.
                let esc = view.pending[0] == 0x1B;
                view.pending.clear();
                if esc {
                    actions.push((key_on(takeover, state, index, Key::Esc), index));
                }
            }
            if state.countdown.is_some() && now >= next_tick {
                next_tick += Duration::from_secs(1);
                actions.push((state.tick(), 0));
            }
            if let Some(watch) = watch.as_deref_mut() {
                if now >= next_poll {
                    next_poll = now + POLL;
                    if watch.observe(block_devices(Path::new(SYS_CLASS_BLOCK)), now) {
                        return Ok(Outcome::DevicesChanged);
                    }
                }
            }
            if let Some(wait) = state.lock.take_penalty() {
                // Wrong passwords cost time: keys typed meanwhile wait in the terminal.
                std::thread::sleep(wait);
            }
            for (action, console) in actions {
                match action {
                    Action::Choose(choice) => {
                        each(terms, &views, CLEAR)?;
                        drop(raws);
                        let console = terms[console].origin;
                        return Ok(Outcome::Chosen { choice, console });
                    }
                    Action::Redraw => draw(terms, takeover, state, &mut views)?,
                    Action::None => {}
                }
            }
        }
    }
}

/// A key on `console`: for the menu, or only taking the menu over.
fn key_on(takeover: &mut Takeover, state: &mut MenuState, console: usize, key: Key) -> Action {
    match takeover.key_on(console) {
        Route::Menu => state.handle_key(key),
        Route::TookOver => Action::Redraw,
    }
}

/// Brings every console up to date: only what changed, all of it after a resize.
fn draw(
    terms: &[Terminal],
    takeover: &Takeover,
    state: &MenuState,
    views: &mut [View],
) -> io::Result<()> {
    for (index, (term, view)) in terms.iter().zip(views.iter_mut()).enumerate() {
        if view.closed {
            continue;
        }
        let size = term.size();
        let notice = takeover.notice_for(index);
        let next = screen_with_notice(state, size.0, size.1, notice.as_deref());
        let text = match &view.drawn {
            Some((drawn_size, drawn)) if *drawn_size == size => repaint(drawn, &next),
            _ => full(&next),
        };
        let written = term.write(text.as_bytes());
        view.drawn = Some((size, next));
        primary_only(index, written)?;
    }
    Ok(())
}

fn each(terms: &[Terminal], views: &[View], bytes: &[u8]) -> io::Result<()> {
    for (index, (term, view)) in terms.iter().zip(views).enumerate() {
        if !view.closed {
            primary_only(index, term.write(bytes))?;
        }
    }
    Ok(())
}

/// Until the next thing to do without a key: an ESC's wait, a countdown tick, a look
/// at the block devices. None: only a key.
fn timeout(
    state: &MenuState,
    views: &[View],
    next_tick: Instant,
    next_poll: Option<Instant>,
) -> Option<Duration> {
    let escapes = views
        .iter()
        .filter(|v| !v.closed && !v.pending.is_empty())
        .map(|v| v.pending_since + ESCAPE_WAIT);
    let tick = state.countdown.is_some().then_some(next_tick);
    let next = escapes.chain(tick).chain(next_poll).min()?;
    Some(next.saturating_duration_since(Instant::now()))
}

/// The consoles with input (or a hang-up) after waiting up to `timeout`.
fn wait(terms: &[Terminal], views: &[View], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    let open: Vec<usize> = (0..views.len()).filter(|&i| !views[i].closed).collect();
    let inputs: Vec<BorrowedFd<'_>> = open.iter().map(|&i| terms[i].input()).collect();
    let mut fds: Vec<PollFd<'_>> = inputs
        .iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    let timeout = timeout.map(|t| rustix::event::Timespec {
        tv_sec: t.as_secs() as i64,
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    loop {
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(open
        .iter()
        .zip(&fds)
        .filter(|(_, fd)| !fd.revents().is_empty())
        .map(|(&i, _)| i)
        .collect())
}

/// A write error on console 0 ends the menu; on another console it only loses that
/// console's picture (a serial line that went away must not stop the menu).
fn primary_only(index: usize, result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(err) if index == 0 => Err(err),
        _ => Ok(()),
    }
}

/// "ttyS0" for /dev/ttyS0.
fn short_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The name of the terminal on stdin ("ttyS0"), or "console".
fn own_terminal_name() -> String {
    std::fs::read_link("/proc/self/fd/0")
        .ok()
        .filter(|p| p.starts_with("/dev"))
        .map(|p| short_name(&p))
        .unwrap_or_else(|| "console".to_string())
}

/// The names in /sys/class/block (disks and partitions); empty when unreadable.
pub fn block_devices(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The block devices as hot-plug sees them, now.
pub fn current_block_devices() -> Vec<String> {
    block_devices(Path::new(SYS_CLASS_BLOCK))
}
