//! System facts like crash's `sys`: utsname, CPUs, crash time, uptime, load average, memory,
//! KASLR offset.

use super::cpumask_cpus;
use crate::dump::error::DumpError;
use crate::dump::kernel::x86_64::KernelMemory;
use crate::dump::kernel::Dump;
use crate::dump::Value;

#[derive(Debug, Clone, Default)]
pub struct SysInfo {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    /// nr_cpu_ids (possible CPU ids).
    pub cpus: u32,
    pub cpus_online: Option<u32>,
    /// Seconds since the epoch: VMCOREINFO CRASHTIME, else the timekeeper's wall clock.
    pub crash_time: Option<u64>,
    pub uptime_secs: Option<f64>,
    /// avenrun as floats (fixed point, FSHIFT = 11).
    pub load_avg: [f64; 3],
    pub memory_total_kib: u64,
    pub kaslr_offset: Option<u64>,
    /// Ticks per second, inferred from jiffies and the timekeeper.
    pub hz: Option<u64>,
    pub jiffies: Option<u64>,
    /// The crashed kernel's command line (`saved_command_line`).
    pub cmdline: Option<String>,
    /// `tainted_mask` as the kernel prints it: "Not tainted" or "Tainted: G        W"
    /// (letters from the crashed kernel's own `taint_flags` table).
    pub tainted: Option<String>,
}

const FSHIFT: u32 = 11;
const EPOCH_2000: u64 = 946_684_800;
const EPOCH_2200: u64 = 7_258_118_400;

/// avenrun[] fixed-point value as a float.
pub fn load_float(raw: u64) -> f64 {
    raw as f64 / f64::from(1u32 << FSHIFT)
}

/// crash's two-decimal rendering of a load value (LOAD_INT.LOAD_FRAC).
pub fn load_text(v: f64) -> String {
    format!("{v:.2}")
}

/// The `struct timekeeper` inside the static tk_core { seqcount; timekeeper }, or (6.17+,
/// with auxiliary clocks) timekeeper_data[TIMEKEEPER_CORE = 0], a `struct tk_data`.
fn timekeeper(dump: &Dump) -> Result<Value<'_>, DumpError> {
    if dump.symbol("tk_core").is_err() {
        let data = dump.value_at(dump.symbol("timekeeper_data")?, "struct tk_data")?;
        return plausible(data.field("timekeeper")?);
    }
    let base = dump.symbol("tk_core")?;
    let seq_size = ["seqcount_raw_spinlock_t", "seqcount_t"]
        .iter()
        .find_map(|t| dump.value_at(0, t).ok()?.size().ok())
        .unwrap_or(4);
    let tk_off = seq_size
        .checked_next_multiple_of(8)
        .ok_or_else(|| DumpError::Format("seqcount size overflows".into()))?;
    plausible(dump.value_at(base.wrapping_add(tk_off), "struct timekeeper")?)
}

/// The timekeeper, if its wall clock is a date this century or the next.
fn plausible(tk: Value<'_>) -> Result<Value<'_>, DumpError> {
    let wall = tk.field("xtime_sec")?.as_u64()?;
    if !(EPOCH_2000..EPOCH_2200).contains(&wall) {
        return Err(DumpError::Format(format!(
            "timekeeper wall clock {wall} is implausible"
        )));
    }
    Ok(tk)
}

/// Seconds since boot (CLOCK_BOOTTIME) and the wall clock, from the timekeeper.
pub fn clocks(dump: &Dump) -> Result<(f64, u64), DumpError> {
    let tk = timekeeper(dump)?;
    let mono_ns = tk.field("tkr_mono.base")?.as_i64()?;
    let boot_off = tk.field("offs_boot").and_then(|v| v.as_i64()).unwrap_or(0);
    Ok((
        mono_ns.saturating_add(boot_off) as f64 / 1e9,
        tk.field("xtime_sec")?.as_u64()?,
    ))
}

/// INITIAL_JIFFIES for a given HZ: jiffies start 5 minutes before the 32-bit wrap.
pub fn initial_jiffies(hz: u64) -> u64 {
    u64::from((-(300 * hz as i64)) as u32)
}

/// HZ is not recorded anywhere in the dump: pick the candidate under which jiffies agree
/// with the uptime.
pub fn infer_hz(jiffies: u64, uptime: f64) -> Option<u64> {
    [100u64, 250, 300, 1000]
        .into_iter()
        .map(|hz| {
            (
                hz,
                (jiffies.wrapping_sub(initial_jiffies(hz)) as f64 / hz as f64 - uptime).abs(),
            )
        })
        .filter(|&(_, err)| err < 2.0 + uptime * 0.01)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(hz, _)| hz)
}

pub fn jiffies(dump: &Dump) -> Result<u64, DumpError> {
    dump.var("jiffies_64")
        .or_else(|_| dump.var("jiffies"))?
        .as_u64()
}

/// The system facts; each one that cannot be read is left at its default and its error
/// returned alongside (a truncated dump still yields what it holds).
pub fn sys_info(dump: &Dump) -> (SysInfo, Vec<String>) {
    let mut errors = Vec::new();
    let mut note = |what: &str, e: DumpError| errors.push(format!("{what}: {e}"));
    let mut s = SysInfo::default();
    match dump.var("init_uts_ns").and_then(|u| u.field("name")) {
        Ok(uts) => {
            for (slot, f) in [
                (&mut s.sysname, "sysname"),
                (&mut s.nodename, "nodename"),
                (&mut s.release, "release"),
                (&mut s.version, "version"),
                (&mut s.machine, "machine"),
            ] {
                match uts.field(f).and_then(|v| v.string()) {
                    Ok(v) => *slot = v,
                    Err(e) => note(&format!("utsname.{f}"), e),
                }
            }
        }
        Err(e) => note("init_uts_ns", e),
    }
    if s.release.is_empty() {
        s.release = dump.vmcoreinfo.osrelease.clone().unwrap_or_default();
    }
    match dump.nr_cpu_ids() {
        Ok(n) => s.cpus = n,
        Err(e) => note("nr_cpu_ids", e),
    }
    s.cpus_online = cpumask_cpus(dump, "__cpu_online_mask", s.cpus)
        .ok()
        .map(|v| v.len() as u32);
    let load = dump.var("avenrun").and_then(|a| {
        (0..3)
            .map(|i| Ok(load_float(a.index(i)?.as_u64()?)))
            .collect::<Result<Vec<_>, _>>()
    });
    match load {
        Ok(l) => s.load_avg.copy_from_slice(&l),
        Err(e) => note("avenrun", e),
    }
    let clocks = clocks(dump).map_err(|e| note("timekeeper", e)).ok();
    s.jiffies = jiffies(dump).ok();
    s.hz = match (s.jiffies, clocks) {
        (Some(j), Some((up, _))) => infer_hz(j, up),
        _ => None,
    };
    s.crash_time = dump.vmcoreinfo.crash_time.or(clocks.map(|c| c.1));
    s.uptime_secs = clocks.map(|c| c.0);
    match total_ram_kib(dump) {
        Ok(kib) => s.memory_total_kib = kib,
        Err(e) => note("totalram_pages", e),
    }
    s.kaslr_offset = dump.vmcoreinfo.kernel_offset;
    match saved_command_line(dump) {
        Ok(c) => s.cmdline = Some(c),
        Err(e) => note("saved_command_line", e),
    }
    match tainted(dump) {
        Ok(t) => s.tainted = Some(t),
        Err(e) => note("tainted_mask", e),
    }
    (s, errors)
}

/// `char *saved_command_line`: the command line the crashed kernel booted with.
fn saved_command_line(dump: &Dump) -> Result<String, DumpError> {
    let pointer = dump.read_u64(dump.symbol("saved_command_line")?)?;
    let bytes = dump.read_cstr(pointer, 4096)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The taint flags a kernel can have: never more than one per bit of the mask.
const MAX_TAINT_FLAGS: u64 = 64;

/// `tainted_mask` printed the way the kernel's print_tainted() does, one column per flag
/// of its `taint_flags[]` table (`struct taint_flag { char c_true, c_false; … }`), so the
/// letters and their number follow the crashed kernel, whatever its version. The table
/// ends where an entry stops looking like one (a letter, and a blank or 'G').
fn tainted(dump: &Dump) -> Result<String, DumpError> {
    let mask = dump.read_u64(dump.symbol("tainted_mask")?)?;
    if mask == 0 {
        return Ok("Not tainted".to_string());
    }
    let table = dump.symbol("taint_flags")?;
    let entry = dump
        .btf
        .find(crate::dump::kernel::btf::Kind::Struct, "taint_flag")
        .map(|id| dump.btf.size_of(id))
        .transpose()?
        .unwrap_or(3)
        .max(2);
    let mut flags = Vec::new();
    for bit in 0..MAX_TAINT_FLAGS {
        let mut pair = [0u8; 2];
        dump.read_virt(table + bit * entry, &mut pair)?;
        flags.push((pair[0], pair[1]));
    }
    Ok(taint_text(mask, &flags))
}

/// The kernel's rendering of `mask` over its (c_true, c_false) table: one column per
/// flag; the table ends at the first entry that is not a letter with a blank or letter.
fn taint_text(mask: u64, flags: &[(u8, u8)]) -> String {
    if mask == 0 {
        return "Not tainted".to_string();
    }
    let mut columns = String::new();
    for (bit, &(c_true, c_false)) in flags.iter().enumerate().take(64) {
        let (c_true, c_false) = (c_true as char, c_false as char);
        if !c_true.is_ascii_uppercase() || !(c_false == ' ' || c_false.is_ascii_uppercase()) {
            break;
        }
        columns.push(if mask & (1 << bit) != 0 {
            c_true
        } else {
            c_false
        });
    }
    format!("Tainted: {columns}")
}

/// totalram_pages in KiB (`_totalram_pages` since 5.0, `totalram_pages` before).
pub fn total_ram_kib(dump: &Dump) -> Result<u64, DumpError> {
    let pages = match dump.var("_totalram_pages") {
        Ok(v) => v.as_u64()?,
        Err(_) => dump.read_u64(dump.symbol("totalram_pages")?)?,
    };
    Ok(pages.saturating_mul(dump.page_size()) / 1024)
}

/// Civil date and time (UTC) of a Unix timestamp, "YYYY-MM-DD HH:MM:SS UTC".
pub fn utc_text(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Days → civil date (Howard Hinnant's algorithm, proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// "1 days, 02:03:04" like crash's UPTIME.
pub fn uptime_text(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d} days, {h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linux 6.1's taint_flags[] (kernel/panic.c): P/G F S R M B U D A W C I O E L K X T N,
    /// then whatever follows the table in memory.
    const LINUX_6_1: &[(u8, u8)] = &[
        (b'P', b'G'),
        (b'F', b' '),
        (b'S', b' '),
        (b'R', b' '),
        (b'M', b' '),
        (b'B', b' '),
        (b'U', b' '),
        (b'D', b' '),
        (b'A', b' '),
        (b'W', b' '),
        (b'C', b' '),
        (b'I', b' '),
        (b'O', b' '),
        (b'E', b' '),
        (b'L', b' '),
        (b'K', b' '),
        (b'X', b' '),
        (b'T', b' '),
        (b'N', b' '),
        (0, 0),
        (b'Q', b' '),
    ];

    #[test]
    fn taint_columns_as_the_kernel_prints_them() {
        assert_eq!(taint_text(0, LINUX_6_1), "Not tainted");
        // W (bit 9), O (12), E (13): an out-of-tree unsigned module and a WARN.
        assert_eq!(
            taint_text(1 << 9 | 1 << 12 | 1 << 13, LINUX_6_1),
            "Tainted: G        W  OE     "
        );
        assert_eq!(taint_text(1, LINUX_6_1), "Tainted: P                  ");
    }

    #[test]
    fn hz_is_inferred_from_jiffies_and_uptime() {
        // 250 Hz, 100 s after boot.
        assert_eq!(
            infer_hz(initial_jiffies(250).wrapping_add(25_000), 100.2),
            Some(250)
        );
        assert_eq!(
            infer_hz(initial_jiffies(1000).wrapping_add(100_000), 100.0),
            Some(1000)
        );
        assert_eq!(infer_hz(12345, 100.0), None);
    }

    #[test]
    fn dates_and_loads_render_like_crash() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(load_text(load_float(2048 + 1024)), "1.50");
        assert_eq!(uptime_text(90061.0), "1 days, 01:01:01");
    }
}
