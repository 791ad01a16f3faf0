//! kboot's switches on the kernel command line:
//! `kboot.shell`, `kboot.timeout=N`, `kboot.debug`, `kboot=local`,
//! `kboot.mode=menu|dump|shell`, `kboot.ssh=menu|shell|off` (what an SSH session gets), `kboot.hostname=NAME`, `kboot.modules=0` (no module
//! loading at boot); the kernel's own `loglevel=` is
//! noted (it keeps kernel messages on the console) (`kboot.dump*`: see capture::settings;
//! `kboot.net*`: see net::setup).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Decide at boot: dump mode when /proc/vmcore exists, else the menu.
    Auto,
    Menu,
    Dump,
    Shell,
}

/// `kboot.ssh=`: what an SSH session without a command gets, or no SSH server at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshSwitch {
    Menu,
    Shell,
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbootArgs {
    pub mode: Mode,
    pub timeout_secs: Option<u32>,
    pub debug: bool,
    /// `loglevel=` on the command line: the user chose what the console shows, so PID 1
    /// leaves the console log level alone after `kboot: ready`.
    pub kernel_loglevel: bool,
    /// kboot 2006's `kboot=local`: the menu uses only the initramfs's configuration.
    pub local_only: bool,
    pub hostname: String,
    /// Load the drivers of the devices found at boot (`kboot.modules=0` turns it off: a
    /// module that hangs the machine must not keep the menu from ever showing).
    pub modules: bool,
    pub ssh: SshSwitch,
    /// Switches we did not understand, reported once on the console.
    pub unknown: Vec<String>,
}

impl Default for KbootArgs {
    fn default() -> Self {
        KbootArgs {
            mode: Mode::Auto,
            timeout_secs: None,
            debug: false,
            kernel_loglevel: false,
            local_only: false,
            hostname: "kboot".into(),
            modules: true,
            ssh: SshSwitch::Menu,
            unknown: Vec::new(),
        }
    }
}

/// Splits like the kernel does: on spaces, with double quotes grouping.
pub fn split_kernel_cmdline(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.trim().chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

pub fn parse(text: &str) -> KbootArgs {
    let mut args = KbootArgs::default();
    for word in split_kernel_cmdline(text) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (word.clone(), None),
        };
        match (key.as_str(), value.as_deref()) {
            ("kboot.shell", None) => args.mode = Mode::Shell,
            ("kboot.debug", None) => args.debug = true,
            ("kboot", Some("local")) => args.local_only = true,
            ("loglevel", Some(_)) => args.kernel_loglevel = true,
            ("kboot.timeout", Some(v)) => match v.parse() {
                Ok(n) => args.timeout_secs = Some(n),
                Err(_) => args.unknown.push(word.clone()),
            },
            ("kboot.mode", Some("menu")) => args.mode = Mode::Menu,
            ("kboot.mode", Some("dump")) => args.mode = Mode::Dump,
            ("kboot.mode", Some("shell")) => args.mode = Mode::Shell,
            ("kboot.modules", Some("0" | "no" | "off")) => args.modules = false,
            ("kboot.modules", Some("1" | "yes" | "on")) => args.modules = true,
            ("kboot.ssh", Some("menu")) => args.ssh = SshSwitch::Menu,
            ("kboot.ssh", Some("shell")) => args.ssh = SshSwitch::Shell,
            ("kboot.ssh", Some("off" | "0" | "no")) => args.ssh = SshSwitch::Off,
            ("kboot.hostname", Some(v)) if !v.is_empty() => args.hostname = v.to_string(),
            // Capture settings: read by capture::settings, which reports their problems.
            (k, Some(_)) if k == "kboot.dump" || k.starts_with("kboot.dump.") => {}
            // Network settings: read by net::setup, which reports their problems.
            (k, Some(_)) if k == "kboot.net" || k.starts_with("kboot.net.") => {}
            (k, _) if k == "kboot" || k.starts_with("kboot.") => args.unknown.push(word.clone()),
            _ => {}
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_are_recognised() {
        let a = parse("BOOT_IMAGE=/vmlinuz console=ttyS0 kboot.timeout=3 kboot=local kboot.debug kboot.mode=dump quiet");
        assert_eq!(a.mode, Mode::Dump);
        assert_eq!(a.timeout_secs, Some(3));
        assert!(a.debug && a.local_only);
        assert!(!a.kernel_loglevel);
        assert!(parse("console=ttyS0 loglevel=7").kernel_loglevel);
        assert!(a.unknown.is_empty());
        assert_eq!(parse("kboot.shell").mode, Mode::Shell);
        assert_eq!(parse("").mode, Mode::Auto);
        assert!(parse("").modules);
        assert!(!parse("kboot.modules=0").modules);
        assert_eq!(
            parse("kboot.modules=maybe").unknown,
            ["kboot.modules=maybe"]
        );
        assert_eq!(parse("").ssh, SshSwitch::Menu);
        assert_eq!(parse("kboot.ssh=shell").ssh, SshSwitch::Shell);
        assert_eq!(parse("kboot.ssh=off").ssh, SshSwitch::Off);
        assert_eq!(parse("kboot.ssh=telnet").unknown, ["kboot.ssh=telnet"]);
    }

    #[test]
    fn bad_values_are_reported_not_fatal() {
        let a = parse("kboot.timeout=soon kboot.mode=party kboot.frobnicate");
        assert_eq!(a.timeout_secs, None);
        assert_eq!(
            a.unknown,
            ["kboot.timeout=soon", "kboot.mode=party", "kboot.frobnicate"]
        );
    }

    #[test]
    fn quotes_group_words() {
        assert_eq!(split_kernel_cmdline(r#"a "b c" d"#), ["a", "b c", "d"]);
    }
}
