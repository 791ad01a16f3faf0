//! tpm: the TPM 2.0's PCRs (every active bank) and the event log of what kboot measured
//! before its last kexec (docs/tpm.md).
use std::ffi::OsString;
use std::io::Write;

use crate::boot::launch::tpm::{EVENT_LOG, TARGET_EVENT_LOG};
use crate::tpm2::{self, Bank, PCR_COUNT};

const USAGE: &str = "usage: tpm pcrs | tpm log
  pcrs  every PCR of every active bank, as BANK PCR HEX
  log   what kboot measured before kexec (/run/kboot/tpm-events.log, or
        /kboot/tpm-events.log in the initramfs kboot handed it to)";

/// `tpm pcrs`' lines: `BANK PCR HEX` for each active bank and PCR 0-23.
pub fn pcr_lines(tpm: &mut (impl std::io::Read + Write)) -> Result<String, String> {
    let banks: Vec<Bank> = tpm2::pcr_banks(tpm)?;
    let mut out = String::new();
    for bank in banks {
        for pcr in 0..PCR_COUNT {
            let value = tpm2::read_pcr(tpm, bank, pcr)?;
            out.push_str(&format!(
                "{} {pcr:2} {}\n",
                bank.name(),
                crate::util::hash::hex(&value)
            ));
        }
    }
    Ok(out)
}

fn event_log() -> Result<String, String> {
    let target = format!("/{TARGET_EVENT_LOG}");
    for path in [EVENT_LOG, target.as_str()] {
        match std::fs::read_to_string(path) {
            Ok(text) => return Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{path}: {e}")),
        }
    }
    Err(format!("no event log ({EVENT_LOG}): nothing measured yet"))
}

pub fn main(args: &[OsString]) -> i32 {
    // The arguments after the applet's name.
    let verb = args.first().map(|a| a.to_string_lossy().into_owned());
    let result = match verb.as_deref() {
        Some("pcrs") if args.len() == 1 => match tpm2::open() {
            Ok(None) => Err(format!("no TPM ({} missing)", tpm2::DEVICE)),
            Ok(Some(mut tpm)) => pcr_lines(&mut tpm),
            Err(e) => Err(e),
        },
        Some("log") if args.len() == 1 => event_log(),
        Some("-h" | "--help") => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return 0;
        }
        _ => {
            let _ = writeln!(std::io::stderr(), "{USAGE}");
            return 2;
        }
    };
    match result {
        Ok(text) => crate::util::finish(
            "tpm",
            std::io::stdout().write_all(text.as_bytes()).map(|_| 0),
        ),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "tpm: {e}");
            1
        }
    }
}
