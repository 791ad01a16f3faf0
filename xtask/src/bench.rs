//! `cargo xtask bench`: artifact sizes, and the time from QEMU start to `kboot: ready`
//! for each boot path (median of 3 under TCG), with Debian's own kernel booting our
//! initramfs measured side by side in the same run; triage (with `crash` on the genuine
//! vmcore), menu and kdump figures.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

use crate::bench_crash;
use crate::bench_kdump;
use crate::bench_kernels;
use crate::image_cmd::{self, ImageOptions};
use crate::report::{human_size, print_table, stage};
use crate::Workspace;

const RUNS: usize = 3;
const DEADLINE: Duration = Duration::from_secs(180);

/// `cargo xtask bench` options: one part only, or everything.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
pub struct BenchOptions {
    /// Only the triage figures (on the dumps `cargo xtask test` made)
    #[arg(long)]
    triage: bool,
    /// Only the boot menu figures
    #[arg(long)]
    menu: bool,
    /// Only dump saving vs makedumpfile and the smallest crashkernel=
    #[arg(long)]
    kdump: bool,
}

pub fn run(ws: &Workspace, options: &BenchOptions) -> crate::Result<()> {
    let outputs = image_cmd::run_image(ws, &ImageOptions::default())?;
    if options.triage {
        return triage_figures(ws, &outputs.kboot_binary);
    }
    if options.kdump {
        return bench_kdump::kdump_figures(ws, &outputs.kboot_binary);
    }
    if options.menu {
        return menu_figures(ws);
    }

    let debian = qemu_tests::machine::find_debian_kernel();
    print_sizes(&outputs, debian.as_deref());
    userspace_vs_busybox(&outputs.kboot_binary)?;
    triage_figures(ws, &outputs.kboot_binary)?;
    boot_time_figures(ws, debian.as_deref())?;
    menu_figures(ws)?;
    bench_kdump::kdump_figures(ws, &outputs.kboot_binary)
}

/// Artifact sizes, with Debian's kernel as the peer when there is one.
fn print_sizes(outputs: &image_cmd::Outputs, debian: Option<&Path>) {
    println!("\nSizes");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut rows = vec![
        row("bzImage (kboot lean kernel)", size(&outputs.bzimage)),
        row(
            "kboot binary (static, stripped)",
            size(&outputs.kboot_binary),
        ),
        row("userspace (raw cpio)", size(&outputs.initramfs_raw)),
        row(
            "userspace (compressed; budget 2 MiB)",
            size(&outputs.userspace),
        ),
    ];
    if let Some(modules) = &outputs.modules_cpio {
        rows.push(row("modules.cpio (appended)", size(modules)));
    }
    rows.extend([
        row("initramfs (userspace + modules)", size(&outputs.initramfs)),
        row(
            "kboot.efi (kernel + initramfs + cmdline; budget 12 MiB)",
            size(&outputs.kboot_efi),
        ),
        row("disk.img", size(&outputs.disk_img)),
    ]);
    if let Some(k) = debian {
        rows.push(row(&format!("peer: Debian {}", file_name(k)), size(k)));
    }
    print_table(&["artifact", "size", "bytes"], &rows);
    if size(&outputs.userspace) > 2 << 20 || size(&outputs.kboot_efi) > 12 << 20 {
        println!("  WARNING: over the size budget");
    }
    let staged = outputs.out_dir.join("modules-staged");
    if let Ok(tree) = crate::modules::ModuleTree::under(&staged) {
        if let Ok(classes) = crate::modules::sizes_by_class(&tree) {
            println!("\nModules by class (as stored, compressed by the kernel's own scheme)");
            let rows: Vec<Vec<String>> = classes
                .into_iter()
                .map(|(class, (count, bytes))| {
                    vec![
                        class.to_string(),
                        count.to_string(),
                        human_size(bytes),
                        bytes.to_string(),
                    ]
                })
                .collect();
            print_table(&["class", "modules", "size", "bytes"], &rows);
        }
    }
}

/// QEMU start → `kboot: ready` for each boot path, and Debian's kernel with our
/// initramfs side by side.
fn boot_time_figures(ws: &Workspace, debian: Option<&Path>) -> crate::Result<()> {
    println!("\nTime from QEMU start to `kboot: ready` (TCG, {RUNS} runs, median)");
    let artifacts = Artifacts::in_dir(ws.out_dir());
    let mut cases: Vec<(String, MachineConfig)> = BootPath::ALL
        .iter()
        .map(|&p| {
            (
                format!("kboot kernel, {} path", p.name()),
                MachineConfig::new(p, artifacts.clone()),
            )
        })
        .collect();
    match debian {
        Some(kernel) => {
            let mut config = MachineConfig::new(BootPath::Direct, artifacts.clone());
            config.kernel_override = Some(kernel.to_path_buf());
            cases.push((
                format!("peer: Debian {} + our initramfs, direct", file_name(kernel)),
                config,
            ));
        }
        None => println!(
            "  (no Debian kernel in /boot: apt install linux-image-amd64 for the side-by-side row)"
        ),
    }
    let mut rows = Vec::new();
    for (label, config) in &cases {
        let times = stage(&format!("boot: {label}"), || boot_times(label, config))?;
        let mut sorted = times.clone();
        sorted.sort();
        let shown: Vec<String> = times
            .iter()
            .map(|t| format!("{:.2}", t.as_secs_f64()))
            .collect();
        rows.push(vec![
            label.clone(),
            format!("{:.2} s", sorted[sorted.len() / 2].as_secs_f64()),
            shown.join(" / "),
        ]);
    }
    print_table(&["boot", "median", "runs (s)"], &rows);
    Ok(())
}

/// The menu path: QEMU start → menu drawn (disk scan included), and the choice (the
/// countdown's Enter) → the kexec'd kernel's first message.
fn menu_figures(ws: &Workspace) -> crate::Result<()> {
    let artifacts = Artifacts::in_dir(ws.out_dir());
    let disk = ws.target().join("bench/menu-disk.img");
    let bench_dir = ws.target().join("bench");
    std::fs::create_dir_all(&bench_dir)
        .with_context(|| format!("failed to create {}", bench_dir.display()))?;
    let grub_cfg = qemu_tests::disks::debian_grub_cfg(
        "/boot/vmlinuz-kboot",
        "/boot/initrd-kboot",
        "console=ttyS0,115200 kboot.mode=shell",
    );
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "BENCH",
        &[
            ("boot/grub/grub.cfg", grub_cfg),
            ("boot/vmlinuz-kboot", image_cmd::read(&artifacts.bzimage())?),
            (
                "boot/initrd-kboot",
                image_cmd::read(&artifacts.initramfs())?,
            ),
        ],
    )
    .map_err(|e| anyhow!(e))?;
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=1".into();
    config.memory_mib = 768;
    config.extra_disks = vec![disk];
    // Issue #14's budget: the hardware matrix attached must not slow the menu by more
    // than 0.3 s, and its coldplug must take at most 0.5 s of guest time.
    let blank = bench_dir.join("nvme-blank.img");
    std::fs::File::create(&blank)
        .and_then(|f| f.set_len(16 << 20))
        .with_context(|| format!("failed to create {}", blank.display()))?;
    let mut matrix = config.clone();
    matrix.extra_args.extend([
        "-drive".to_string(),
        format!(
            "if=none,id=nvme0,format=raw,snapshot=on,file={}",
            blank.display()
        ),
    ]);
    matrix
        .extra_args
        .extend(HARDWARE_MATRIX.iter().map(|a| a.to_string()));
    let mut no_modules = config.clone();
    no_modules.cmdline.push_str(" kboot.modules=0");
    // The matrix without loading its drivers: what the kernel's own boot pays for the
    // extra devices (built-in drivers, PCI enumeration), apart from the coldplug.
    let mut matrix_no_modules = matrix.clone();
    matrix_no_modules.cmdline.push_str(" kboot.modules=0");
    // The same pair on two vCPUs (MTTCG on the host's two cores): a server with such
    // controllers has many CPUs, and the asynchronous probes then run side by side.
    let two_cpus = |c: &MachineConfig| MachineConfig {
        cpus: 2,
        accel: match c.accel.as_str() {
            "tcg" => "tcg,thread=multi".into(),
            other => other.into(),
        },
        ..c.clone()
    };
    let cases = [
        ("no modules loaded (kboot.modules=0)", no_modules),
        ("coldplug, no extra hardware", config),
        (
            "hardware matrix attached, kboot.modules=0",
            matrix_no_modules.clone(),
        ),
        ("coldplug, hardware matrix attached", matrix.clone()),
        (
            "2 vCPUs: hardware matrix attached, kboot.modules=0",
            two_cpus(&matrix_no_modules),
        ),
        (
            "2 vCPUs: coldplug, hardware matrix attached",
            two_cpus(&matrix),
        ),
    ];
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v.get(v.len() / 2)
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = Vec::new();
    for (label, config) in &cases {
        let mut menu_drawn = Vec::new();
        let mut to_target = Vec::new();
        let mut coldplug = Vec::new();
        for i in 0..RUNS {
            let mut qemu =
                Qemu::start(&format!("bench-menu-{i}"), config).context("failed to start QEMU")?;
            menu_drawn.push(qemu.expect("kboot: menu", DEADLINE)?);
            let chosen = qemu.expect("kboot: booting", DEADLINE)?;
            let target = qemu.expect("Linux version", DEADLINE)?;
            to_target.push(target - chosen);
            if let Some(took) = coldplug_time(&qemu.output()) {
                coldplug.push(took);
            }
        }
        rows.push(vec![
            label.to_string(),
            median(&mut menu_drawn),
            median(&mut coldplug),
            median(&mut to_target),
        ]);
    }
    println!(
        "\nBoot menu (TCG, {RUNS} runs, median; one GPT/ext4 disk with a Debian-style grub.cfg)\n\
         hardware matrix: {}",
        HARDWARE_MATRIX
            .join(" ")
            .replace("-device ", "")
            .replace("-nic ", "")
    );
    print_table(
        &[
            "",
            "QEMU start → menu drawn",
            "coldplug (guest)",
            "entry chosen → target's first message",
        ],
        &rows,
    );
    Ok(())
}

/// Devices whose drivers are modules, attached together for the time-to-menu budget.
const HARDWARE_MATRIX: &[&str] = &[
    "-device",
    "nvme,serial=bench0001,drive=nvme0",
    "-device",
    "qemu-xhci,id=xhci",
    "-device",
    "usb-kbd,bus=xhci.0",
    "-device",
    "usb-ehci,id=ehci",
    "-device",
    "sdhci-pci",
    "-device",
    "megasas-gen2",
    "-device",
    "virtio-scsi-pci",
    "-nic",
    "user,model=e1000e",
    "-nic",
    "user,model=vmxnet3",
];

/// The guest's own coldplug time from `kboot: modules: N loaded in X s`.
fn coldplug_time(console: &str) -> Option<Duration> {
    let line = console.lines().find(|l| l.contains("kboot: modules:"))?;
    let after = line.split(" in ").nth(1)?;
    let secs: f64 = after.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_secs_f64(secs))
}

/// The multi-call binary against Debian's busybox-static: size, and the wall time of
/// 1000 runs of `true` and of `ls -l /bin` (process start-up dominates both).
fn userspace_vs_busybox(kboot: &Path) -> crate::Result<()> {
    const BUSYBOX: &str = "/bin/busybox";
    const RUNS: u32 = 1000;
    println!("\nUserspace: kboot vs busybox-static ({RUNS} runs each, on this host)");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let applets = image_cmd::list_applets(kboot)?.len();
    let busybox_applets = std::process::Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .map(|o| {
            o.stdout
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
        })
        .unwrap_or(0);
    if busybox_applets == 0 {
        bail!("{BUSYBOX} not found: apt install busybox-static (cargo xtask deps)");
    }
    // Spawned directly, not through process::run: the spawn itself is what is measured.
    let time_runs = |binary: &Path, args: &[&str]| -> crate::Result<f64> {
        let start = std::time::Instant::now();
        for _ in 0..RUNS {
            let status = std::process::Command::new(binary)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .with_context(|| format!("failed to run {}", binary.display()))?;
            if !status.success() {
                bail!("{} {args:?} failed: {status}", binary.display());
            }
        }
        Ok(start.elapsed().as_secs_f64())
    };
    let busybox = Path::new(BUSYBOX);
    let mut rows = vec![
        vec![
            "binary size (static, stripped)".into(),
            human_size(size(kboot)),
            human_size(size(busybox)),
        ],
        vec![
            "applets".into(),
            applets.to_string(),
            busybox_applets.to_string(),
        ],
    ];
    // "/bin/" with the slash: on merged-/usr systems /bin is a symlink to usr/bin.
    for args in [&["true"][..], &["ls", "-l", "/bin/"][..]] {
        let ours = time_runs(kboot, args)?;
        let theirs = time_runs(busybox, args)?;
        rows.push(vec![
            format!("{RUNS} x `{}`", args.join(" ")),
            format!("{ours:.2} s"),
            format!("{theirs:.2} s"),
        ]);
    }
    print_table(&["", "kboot", "busybox-static"], &rows);
    Ok(())
}

/// `kboot triage` on the real dumps `cargo xtask test` generated: wall time and peak RSS
/// of open + full report (budget: 1 s, 64 MiB, it must fit a crashkernel reservation),
/// the same per kernel (5.10, 6.1, 6.12, 7.x) with every stack and the kallsyms scan's
/// cost, and log extraction against `makedumpfile --dump-dmesg` on the same genuine vmcore.
fn triage_figures(ws: &Workspace, kboot: &Path) -> crate::Result<()> {
    let fixtures = ws.target().join("fixtures");
    let dumps = [
        ("QEMU ELF, 512 MiB guest", "qemu/vmcore.elf"),
        ("QEMU kdump-zlib, flattened", "qemu/vmcore.kdump-zlib.flat"),
        ("genuine /proc/vmcore (ELF)", "kdump/vmcore.proc.elf"),
        ("makedumpfile -c -d 31 (zlib)", "kdump/vmcore.d31.zlib"),
        ("makedumpfile -l -d 31 (lzo)", "kdump/vmcore.d31.lzo"),
        ("-d 31, zstd pages", "kdump/vmcore.d31.zstd"),
    ];
    println!("\nTriage: open + full report (median of 3; budget 1 s and 64 MiB peak RSS)");
    if !fixtures.join(dumps[2].1).exists() {
        println!(
            "  (no dump fixtures in {}: `cargo xtask test` makes them)",
            fixtures.display()
        );
        return bench_kernels::triage_per_kernel(&fixtures, kboot);
    }
    let mut rows = Vec::new();
    for (label, rel) in dumps {
        let dump = fixtures.join(rel);
        let size = std::fs::metadata(&dump).map(|m| m.len()).unwrap_or(0);
        let (secs, rss_kib) =
            timed_median(kboot.as_os_str(), &["triage".as_ref(), dump.as_os_str()], 3)?;
        let verdict = if secs <= 1.0 && rss_kib <= 64 * 1024 {
            "ok"
        } else {
            "OVER BUDGET"
        };
        rows.push(vec![
            label.to_string(),
            human_size(size),
            format!("{secs:.2} s"),
            format!("{:.1} MiB", rss_kib as f64 / 1024.0),
            verdict.to_string(),
        ]);
    }
    print_table(&["dump", "size", "time", "peak RSS", ""], &rows);
    bench_kernels::triage_per_kernel(&fixtures, kboot)?;
    log_figures(kboot, &fixtures.join(dumps[2].1))?;
    bench_crash::crash_figures(ws, kboot, &fixtures.join(dumps[2].1))
}

/// Extracting the kernel log: `kboot triage --dmesg` against `makedumpfile --dump-dmesg`
/// on the same genuine vmcore.
fn log_figures(kboot: &Path, vmcore: &Path) -> crate::Result<()> {
    // makedumpfile refuses an existing output file, so both commands run under the same
    // `sh -c` that removes it first; the shell's start-up is in both figures.
    let vmcore = vmcore.display().to_string();
    let out = std::env::temp_dir()
        .join("kboot-bench-dmesg.txt")
        .display()
        .to_string();
    // One run is ~5 ms, below /usr/bin/time's 10 ms resolution: time 50 in a loop.
    const LOOPS: f64 = 50.0;
    let sh = |script: String| {
        timed_median(
            "sh".as_ref(),
            &[
                "-c".as_ref(),
                format!("for i in $(seq {LOOPS}); do {script} || exit 1; done").as_ref(),
            ],
            3,
        )
        .map(|(secs, rss)| (secs / LOOPS, rss))
    };
    let ours = sh(format!(
        "rm -f '{out}'; '{}' triage '{vmcore}' --section log --dmesg > '{out}'",
        kboot.display()
    ))?;
    let theirs = sh(format!(
        "rm -f '{out}'; makedumpfile --dump-dmesg '{vmcore}' '{out}' > /dev/null"
    ));
    let _ = std::fs::remove_file(&out);
    println!("\nKernel log from the genuine vmcore (per run; median of 3 x 50 runs)");
    let mut rows = vec![vec![
        "kboot triage --section log --dmesg".to_string(),
        format!("{:.1} ms", ours.0 * 1000.0),
        format!("{:.1} MiB", ours.1 as f64 / 1024.0),
    ]];
    match theirs {
        Ok((secs, rss)) => rows.push(vec![
            "peer: makedumpfile --dump-dmesg".into(),
            format!("{:.1} ms", secs * 1000.0),
            format!("{:.1} MiB", rss as f64 / 1024.0),
        ]),
        Err(e) => rows.push(vec![
            "peer: makedumpfile --dump-dmesg".into(),
            format!("failed: {}", format!("{e:#}").lines().next().unwrap_or("")),
            String::new(),
        ]),
    }
    print_table(&["", "time", "peak RSS"], &rows);
    Ok(())
}

/// Median wall time and the largest peak RSS (KiB) over `runs`, via /usr/bin/time.
pub fn timed_median(
    program: &std::ffi::OsStr,
    args: &[&std::ffi::OsStr],
    runs: usize,
) -> crate::Result<(f64, u64)> {
    timed_runs(program, args, runs, false).map(|t| (t.secs, t.peak_rss_kib))
}

/// What `timed_runs` measured.
pub struct Timed {
    /// Median wall time.
    pub secs: f64,
    /// The largest peak RSS of the runs, KiB.
    pub peak_rss_kib: u64,
    /// The last run's stdout (empty unless kept).
    pub stdout: Vec<u8>,
    /// The last run's stderr, without /usr/bin/time's figures.
    pub stderr: String,
}

/// `runs` runs of `program` under /usr/bin/time (wall time and peak RSS, `%e %M`), stdin
/// empty; stdout is discarded unless `keep_stdout`.
pub fn timed_runs(
    program: &std::ffi::OsStr,
    args: &[&std::ffi::OsStr],
    runs: usize,
    keep_stdout: bool,
) -> crate::Result<Timed> {
    let mut times = Vec::new();
    let mut peak = 0;
    let mut last = (Vec::new(), String::new());
    for _ in 0..runs {
        // Not process::output: a failure is worded below with the program's own stderr.
        let out = crate::process::tool("time")?
            .args(["-f", "@@%e %M"])
            .arg(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(if keep_stdout {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .output()
            .context("failed to run /usr/bin/time (apt install time)")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("{} failed: {}", program.to_string_lossy(), stderr.trim());
        }
        let (own, figures) = stderr.rsplit_once("@@").unwrap_or((&stderr, ""));
        let mut it = figures.split_whitespace();
        let secs: f64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no timing in {stderr:?}"))?;
        let rss: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        times.push(secs);
        peak = peak.max(rss);
        last = (out.stdout, own.to_string());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(Timed {
        secs: times[times.len() / 2],
        peak_rss_kib: peak,
        stdout: last.0,
        stderr: last.1,
    })
}

fn boot_times(label: &str, config: &MachineConfig) -> crate::Result<Vec<Duration>> {
    (0..RUNS)
        .map(|i| {
            let name = format!(
                "bench-{}-{i}",
                label
                    .split(',')
                    .next()
                    .unwrap_or("run")
                    .replace([' ', ':', '+'], "_")
            );
            let mut qemu = Qemu::start(&name, config).context("failed to start QEMU")?;
            Ok(qemu.expect("kboot: ready", DEADLINE)?)
        })
        .collect()
}

fn row(name: &str, bytes: u64) -> Vec<String> {
    vec![name.to_string(), human_size(bytes), bytes.to_string()]
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
