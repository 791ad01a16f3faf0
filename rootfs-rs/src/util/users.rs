//! uid/gid <-> name lookups from /etc/passwd and /etc/group (no NSS in a boot environment).

fn lookup_field(file: &str, matches: impl Fn(&[&str]) -> bool, field: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && matches(f))
        .and_then(|f| f.get(field).map(|s| s.to_string()))
}

pub fn user_name(uid: u32) -> String {
    lookup_field("/etc/passwd", |f| f[2] == uid.to_string(), 0).unwrap_or_else(|| uid.to_string())
}

pub fn group_name(gid: u32) -> String {
    lookup_field("/etc/group", |f| f[2] == gid.to_string(), 0).unwrap_or_else(|| gid.to_string())
}

/// A user name or number to a uid.
pub fn user_id(name: &str) -> Option<u32> {
    name.parse().ok().or_else(|| {
        lookup_field("/etc/passwd", |f| f[0] == name, 2)?
            .parse()
            .ok()
    })
}

pub fn group_id(name: &str) -> Option<u32> {
    name.parse().ok().or_else(|| {
        lookup_field("/etc/group", |f| f[0] == name, 2)?
            .parse()
            .ok()
    })
}

/// Cache for tools that print many owners (ls -l, ps).
#[derive(Default)]
pub struct NameCache {
    users: std::collections::HashMap<u32, String>,
    groups: std::collections::HashMap<u32, String>,
}

impl NameCache {
    pub fn user(&mut self, uid: u32) -> String {
        self.users
            .entry(uid)
            .or_insert_with(|| user_name(uid))
            .clone()
    }
    pub fn group(&mut self, gid: u32) -> String {
        self.groups
            .entry(gid)
            .or_insert_with(|| group_name(gid))
            .clone()
    }
}
