//! URLs the fetchers understand (http://, https://, ftp:// and tftp://): parsing, printing, and resolving a
//! name relative to the URL a file was served from.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    /// HTTP over TLS (`net::tls`), with the CAs the image carries.
    Https,
    Ftp,
    Tftp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Starts with '/'; for HTTP it includes any query.
    pub path: String,
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, default) = match self.scheme {
            Scheme::Http => ("http", 80),
            Scheme::Https => ("https", 443),
            Scheme::Ftp => ("ftp", 21),
            Scheme::Tftp => ("tftp", crate::net::tftp::PORT),
        };
        write!(f, "{name}://{}", self.host)?;
        if self.port != default {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path)
    }
}

pub fn is_url(text: &str) -> bool {
    ["http://", "https://", "ftp://", "tftp://"]
        .iter()
        .any(|p| text.starts_with(p))
}

pub fn parse_url(text: &str) -> Result<Url, String> {
    let (scheme, rest, default_port) = if let Some(r) = text.strip_prefix("http://") {
        (Scheme::Http, r, 80)
    } else if let Some(r) = text.strip_prefix("https://") {
        (Scheme::Https, r, 443)
    } else if let Some(r) = text.strip_prefix("ftp://") {
        (Scheme::Ftp, r, 21)
    } else if let Some(r) = text.strip_prefix("tftp://") {
        (Scheme::Tftp, r, crate::net::tftp::PORT)
    } else {
        return Err(format!(
            "{text}: unsupported URL (need http://, https://, ftp:// or tftp://)"
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse()
                .map_err(|_| format!("{text}: invalid port '{p}'"))?,
        ),
        None => (authority, default_port),
    };
    if host.is_empty() || host.contains('@') {
        return Err(format!("{text}: missing host (user@host is not supported)"));
    }
    // A second ':' ("http://a:b:80/", an IPv6 literal) would print as another URL: the
    // port is taken from the last one and dropped again when it is the default.
    if host.contains(':') {
        return Err(format!(
            "{text}: ':' in host '{host}' (IPv6 literals are not supported)"
        ));
    }
    Ok(Url {
        scheme,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// A DHCP boot file as a URL: itself when it is one, else a name on the TFTP server
/// (next-server, i.e. siaddr or option 66), as PXE firmware reads it.
pub fn boot_file_url(file: &str, next_server: Option<&str>) -> Option<String> {
    let file = file.trim();
    if is_url(file) {
        return Some(file.to_string());
    }
    let server = next_server.filter(|s| !s.is_empty())?;
    (!file.is_empty()).then(|| format!("tftp://{server}/{}", file.trim_start_matches('/')))
}

/// Resolves `relative` (absolute URL, /absolute path, or relative path) against `base`.
pub fn join(base: &Url, relative: &str) -> Result<Url, String> {
    if is_url(relative) {
        return parse_url(relative);
    }
    let path = if relative.starts_with('/') {
        relative.to_string()
    } else {
        let dir = &base.path[..base.path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{relative}", if dir.is_empty() { "/" } else { dir })
    };
    Ok(Url {
        path,
        ..base.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_print_and_join() {
        let u = parse_url("http://10.0.2.2:8080/boot/kboot.toml").expect("valid");
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
            (Scheme::Http, "10.0.2.2", 8080, "/boot/kboot.toml")
        );
        assert_eq!(u.to_string(), "http://10.0.2.2:8080/boot/kboot.toml");
        assert_eq!(
            join(&u, "vmlinuz").map(|j| j.to_string()),
            Ok("http://10.0.2.2:8080/boot/vmlinuz".into())
        );
        assert_eq!(
            join(&u, "/k/initrd").map(|j| j.to_string()),
            Ok("http://10.0.2.2:8080/k/initrd".into())
        );
        assert_eq!(
            join(&u, "ftp://srv/x").map(|j| j.to_string()),
            Ok("ftp://srv/x".into())
        );
        let f = parse_url("ftp://mirror").expect("valid");
        assert_eq!((f.scheme, f.port, f.path.as_str()), (Scheme::Ftp, 21, "/"));
        let s = parse_url("https://boot.example/k.toml").expect("valid");
        assert_eq!((s.scheme, s.port), (Scheme::Https, 443));
        assert_eq!(s.to_string(), "https://boot.example/k.toml");
        assert_eq!(
            join(&s, "vmlinuz").map(|j| j.to_string()),
            Ok("https://boot.example/vmlinuz".into())
        );
        assert_eq!(
            parse_url("https://10.0.2.2:8443/").map(|u| u.to_string()),
            Ok("https://10.0.2.2:8443/".into())
        );
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
        assert!(parse_url("gopher://h/").is_err());
        // Found by the url fuzz target: accepted, it printed as "http://a:b/".
        assert!(parse_url("http://a:b:80/")
            .unwrap_err()
            .contains("':' in host"));
        assert!(parse_url("http://[::1]:80/").is_err());
        let t = parse_url("tftp://10.0.2.2/pxelinux.cfg/default").expect("valid");
        assert_eq!((t.scheme, t.port), (Scheme::Tftp, 69));
        assert_eq!(t.to_string(), "tftp://10.0.2.2/pxelinux.cfg/default");
        assert_eq!(
            boot_file_url("boot/menu.ipxe", Some("10.0.2.2")).as_deref(),
            Some("tftp://10.0.2.2/boot/menu.ipxe")
        );
        assert_eq!(boot_file_url("pxelinux.0", None), None);
        assert_eq!(
            boot_file_url("ftp://srv/k.toml", None).as_deref(),
            Some("ftp://srv/k.toml")
        );
    }
}
