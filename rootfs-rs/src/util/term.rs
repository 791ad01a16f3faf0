//! The terminal as output: its width, for the layouts that fill a line (ls, ps, the
//! shell's completion list). 80 columns when stdout is not a terminal or reports 0 (a
//! serial console).

pub fn terminal_width() -> usize {
    match rustix::termios::tcgetwinsize(rustix::stdio::stdout()) {
        Ok(ws) if ws.ws_col > 0 => ws.ws_col as usize,
        _ => 80,
    }
}
