//! Mounts like crash's `mount`: every `struct mount` of the initial mount namespace with its
//! superblock, filesystem type, device name and mount point, the path rebuilt from dentries
//! the way the kernel's d_path does it.

use crate::dump::error::DumpError;
use crate::dump::kernel::Dump;
use crate::dump::Value;

/// More mounts than a namespace holds in practice: past it the list or tree is corrupt.
const MAX_MOUNTS: usize = 100_000;
/// Path components one mount point may have; PATH_MAX bounds the bytes. Either limit also
/// stops a dentry chain that loops.
pub const MAX_COMPONENTS: usize = 128;
pub const MAX_PATH: usize = 4096;
/// Mounts stacked under one another on the way to the root (a loop guard too).
pub const MAX_MOUNT_DEPTH: usize = 64;
/// An rbtree of MAX_MOUNTS nodes is at most 2·log2(n+1) ≈ 34 deep; deeper is corruption.
const MAX_RB_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Address of the `struct mount` (crash's MOUNT column).
    pub addr: u64,
    /// Address of its `struct super_block`.
    pub sb: u64,
    /// sb->s_type->name, with ".subtype" for fuse-like filesystems as /proc/mounts has it.
    pub fstype: String,
    /// mnt_devname ("none" when NULL, as /proc/mounts prints it).
    pub devname: String,
    /// Mount point; None when it could not be rebuilt (the error is reported separately).
    pub path: Option<String>,
}

/// What rebuilding a path needs of a mount: its root dentry, the dentry it is mounted on
/// and the mount that dentry belongs to (itself at the namespace's root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountLinks {
    pub root: u64,
    pub mountpoint: u64,
    pub parent: u64,
}

/// Where path building reads mounts and dentries (the dump, or a fake in tests).
pub trait PathSource {
    fn mount(&self, mnt: u64) -> Result<MountLinks, DumpError>;
    /// A dentry's name (d_name) and parent (d_parent; itself at a filesystem's root).
    fn dentry(&self, dentry: u64) -> Result<(Vec<u8>, u64), DumpError>;
}

/// The mount point of `mnt`, as __prepend_path() builds it: names from the mount's root
/// upwards; at each mount's root, continue from the dentry it is mounted on in the parent
/// mount, until the mount that is its own parent. A dentry that is its own parent short of
/// a mount root (a detached tree) ends the walk there, as the kernel does.
pub fn mount_path(src: &impl PathSource, mnt: u64) -> Result<String, DumpError> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    let mut crossings = 0usize;
    let mut m = mnt;
    let mut links = src.mount(m)?;
    let mut d = links.root;
    loop {
        if d == links.root {
            if links.parent == m || links.parent == 0 {
                break;
            }
            crossings += 1;
            if crossings > MAX_MOUNT_DEPTH {
                return Err(DumpError::Loop(format!(
                    "mount {mnt:#x}: more than {MAX_MOUNT_DEPTH} mounts above it"
                )));
            }
            d = links.mountpoint;
            m = links.parent;
            links = src.mount(m)?;
            continue;
        }
        let (name, parent) = src.dentry(d)?;
        if parent == d {
            break;
        }
        bytes += name.len() + 1;
        names.push(name);
        if names.len() > MAX_COMPONENTS || bytes > MAX_PATH {
            return Err(DumpError::Loop(format!(
                "mount {mnt:#x}: path longer than {MAX_COMPONENTS} components or {MAX_PATH} bytes"
            )));
        }
        d = parent;
    }
    if names.is_empty() {
        return Ok("/".to_string());
    }
    let mut path = Vec::with_capacity(bytes);
    for name in names.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(name);
    }
    Ok(String::from_utf8_lossy(&path).into_owned())
}

/// In-order walk of an rbtree from its root node (the order rb_first/rb_next give),
/// `children` returning (rb_left, rb_right). A corrupt tree is an error, never a hang: a
/// cycle through left links overflows the depth bound, one through right links the node
/// count (no set of seen nodes: it would cost more code than it saves time).
pub fn rb_inorder(
    root: u64,
    max: usize,
    children: impl Fn(u64) -> Result<(u64, u64), DumpError>,
) -> Result<Vec<u64>, DumpError> {
    let mut out = Vec::new();
    let mut stack: Vec<(u64, u64)> = Vec::new();
    let mut cur = root;
    loop {
        while cur != 0 {
            if stack.len() >= MAX_RB_DEPTH {
                return Err(DumpError::Loop(format!(
                    "rbtree deeper than {MAX_RB_DEPTH} levels"
                )));
            }
            let (left, right) = children(cur)?;
            stack.push((cur, right));
            cur = left;
        }
        let Some((node, right)) = stack.pop() else {
            return Ok(out);
        };
        if out.len() >= max {
            return Err(DumpError::Loop(format!("more than {max} rbtree nodes")));
        }
        out.push(node);
        cur = right;
    }
}

/// The dump as a PathSource.
struct DumpPaths<'d>(&'d Dump);

impl PathSource for DumpPaths<'_> {
    fn mount(&self, mnt: u64) -> Result<MountLinks, DumpError> {
        let m = self.0.value_at(mnt, "struct mount")?;
        Ok(MountLinks {
            root: m.field("mnt.mnt_root")?.as_u64()?,
            mountpoint: m.field("mnt_mountpoint")?.as_u64()?,
            parent: m.field("mnt_parent")?.as_u64()?,
        })
    }

    fn dentry(&self, dentry: u64) -> Result<(Vec<u8>, u64), DumpError> {
        let d = self.0.value_at(dentry, "struct dentry")?;
        Ok((
            d.field("d_name.name")?.c_bytes()?,
            d.field("d_parent")?.as_u64()?,
        ))
    }
}

/// The `struct mount`s of a namespace in its own order: the rbtree `mounts` (linked by
/// `mnt_node`, ≥ 6.8) or the list `list` (linked by `mnt_list`). Which one is decided by
/// BTF: before 6.8 `mounts` is a count, not a tree.
fn mount_addrs(ns: &Value<'_>) -> Result<(Vec<u64>, Vec<String>), DumpError> {
    let dump = ns.dump();
    if ns.has_field("mounts.rb_node") {
        let root = ns.field("mounts.rb_node")?.as_u64()?;
        let nodes = rb_inorder(root, MAX_MOUNTS, |n| {
            let node = dump.value_at(n, "struct rb_node")?;
            Ok((
                node.field("rb_left")?.as_u64()?,
                node.field("rb_right")?.as_u64()?,
            ))
        })?;
        let mut out = Vec::with_capacity(nodes.len());
        for n in nodes {
            out.push(dump.container_of(n, "struct mount", "mnt_node")?.address());
        }
        return Ok((out, Vec::new()));
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let list = crate::dump::kernel::lists::list_for_each_entry(
        &ns.field("list")?,
        "struct mount",
        "mnt_list",
    )?;
    for m in list.limit(MAX_MOUNTS) {
        match m {
            Ok(m) => out.push(m.address()),
            Err(e) => {
                errors.push(format!("mount list: {e}"));
                break;
            }
        }
    }
    Ok((out, errors))
}

fn mount(dump: &Dump, addr: u64) -> Result<(Mount, Option<DumpError>), DumpError> {
    let m = dump.value_at(addr, "struct mount")?;
    let sb = m.field("mnt.mnt_sb")?;
    let mut fstype = sb.field("s_type.name")?.string()?;
    if sb.has_field("s_subtype") && sb.field("s_subtype")?.as_u64()? != 0 {
        let sub = sb.field("s_subtype")?.string()?;
        if !sub.is_empty() {
            fstype = format!("{fstype}.{sub}");
        }
    }
    let dev = m.field("mnt_devname")?;
    let devname = if dev.as_u64()? == 0 {
        "none".to_string()
    } else {
        dev.string()?
    };
    let (path, error) = match mount_path(&DumpPaths(dump), addr) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };
    Ok((
        Mount {
            addr,
            sb: sb.as_u64()?,
            fstype,
            devname,
            path,
        },
        error,
    ))
}

/// Every mount of the initial mount namespace (`init_task.nsproxy->mnt_ns`), in the
/// namespace's order (that of /proc/mounts); what cannot be read becomes an error string.
pub fn mounts(dump: &Dump) -> Result<(Vec<Mount>, Vec<String>), DumpError> {
    let ns = dump.var("init_task")?.field("nsproxy.mnt_ns")?.deref()?;
    let (addrs, mut errors) = mount_addrs(&ns)?;
    let mut out = Vec::with_capacity(addrs.len());
    for addr in addrs {
        match mount(dump, addr) {
            Ok((m, path_error)) => {
                if let Some(e) = path_error {
                    errors.push(format!("mount point of {:#x}: {e}", m.addr));
                }
                out.push(m);
            }
            Err(e) => errors.push(format!("mount at {addr:#x}: {e}")),
        }
    }
    Ok((out, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Mounts and dentries by address, as the kernel links them.
    #[derive(Default)]
    struct Fake {
        mounts: HashMap<u64, MountLinks>,
        dentries: HashMap<u64, (&'static str, u64)>,
    }

    impl PathSource for Fake {
        fn mount(&self, mnt: u64) -> Result<MountLinks, DumpError> {
            self.mounts
                .get(&mnt)
                .copied()
                .ok_or(DumpError::Unmapped(mnt))
        }
        fn dentry(&self, d: u64) -> Result<(Vec<u8>, u64), DumpError> {
            let (name, parent) = self.dentries.get(&d).ok_or(DumpError::Unmapped(d))?;
            Ok((name.as_bytes().to_vec(), *parent))
        }
    }

    /// rootfs (mount 1, root dentry 10) with /sys (dentry 11) and /sys/kernel (12) in it;
    /// sysfs (mount 2, root 20) on /sys, with kernel/debug (21, 22) inside; debugfs
    /// (mount 3, root 30) on /sys/kernel/debug.
    fn tree() -> Fake {
        let mut f = Fake::default();
        let links = |root, mountpoint, parent| MountLinks {
            root,
            mountpoint,
            parent,
        };
        f.mounts.insert(1, links(10, 10, 1));
        f.mounts.insert(2, links(20, 11, 1));
        f.mounts.insert(3, links(30, 22, 2));
        f.dentries.insert(10, ("/", 10));
        f.dentries.insert(11, ("sys", 10));
        f.dentries.insert(20, ("/", 20));
        f.dentries.insert(21, ("kernel", 20));
        f.dentries.insert(22, ("debug", 21));
        f.dentries.insert(30, ("/", 30));
        f
    }

    #[test]
    fn paths_cross_mount_roots_up_to_the_namespace_root() {
        let f = tree();
        assert_eq!(mount_path(&f, 1).unwrap(), "/");
        assert_eq!(mount_path(&f, 2).unwrap(), "/sys");
        assert_eq!(mount_path(&f, 3).unwrap(), "/sys/kernel/debug");
    }

    #[test]
    fn a_mount_on_top_of_the_root_is_slash() {
        let mut f = tree();
        // The real root mounted over rootfs's "/" (switch_root): its mount point is "/".
        f.mounts.insert(
            4,
            MountLinks {
                root: 40,
                mountpoint: 10,
                parent: 1,
            },
        );
        assert_eq!(mount_path(&f, 4).unwrap(), "/");
    }

    #[test]
    fn loops_and_deep_chains_are_errors_not_hangs() {
        let mut f = tree();
        // A dentry chain that never reaches a root.
        f.dentries.insert(50, ("a", 51));
        f.dentries.insert(51, ("b", 50));
        f.mounts.insert(
            5,
            MountLinks {
                root: 55,
                mountpoint: 50,
                parent: 1,
            },
        );
        assert!(matches!(mount_path(&f, 5), Err(DumpError::Loop(_))));
        // Two mounts each mounted on the other's root.
        f.mounts.insert(
            6,
            MountLinks {
                root: 60,
                mountpoint: 70,
                parent: 7,
            },
        );
        f.mounts.insert(
            7,
            MountLinks {
                root: 70,
                mountpoint: 60,
                parent: 6,
            },
        );
        assert!(matches!(mount_path(&f, 6), Err(DumpError::Loop(_))));
        // A path of exactly MAX_COMPONENTS names is fine, one more is not.
        let mut f = tree();
        for n in 0..=MAX_COMPONENTS as u64 {
            f.dentries
                .insert(100 + n, ("d", if n == 0 { 10 } else { 99 + n }));
        }
        let at = |last: u64| MountLinks {
            root: 9,
            mountpoint: last,
            parent: 1,
        };
        f.mounts.insert(8, at(99 + MAX_COMPONENTS as u64));
        assert_eq!(
            mount_path(&f, 8).unwrap().len(),
            2 * MAX_COMPONENTS,
            "/d repeated"
        );
        f.mounts.insert(8, at(100 + MAX_COMPONENTS as u64));
        assert!(mount_path(&f, 8).is_err());
        // An unreadable dentry is the reader's error.
        f.mounts.insert(9, at(12345));
        assert!(matches!(mount_path(&f, 9), Err(DumpError::Unmapped(12345))));
    }

    #[test]
    fn rbtree_walk_is_in_order_and_bounded() {
        //        4
        //      2   6
        //     1 3 5 7
        let kids = |n: u64| -> Result<(u64, u64), DumpError> {
            Ok(match n {
                4 => (2, 6),
                2 => (1, 3),
                6 => (5, 7),
                _ => (0, 0),
            })
        };
        assert_eq!(rb_inorder(4, 100, kids).unwrap(), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(rb_inorder(0, 100, kids).unwrap(), Vec::<u64>::new());
        assert!(rb_inorder(4, 6, kids).is_err(), "more nodes than allowed");
        // Children pointing back up, through the left and through the right link.
        let cyclic = |n: u64| Ok(if n == 4 { (2, 0) } else { (4, 0) });
        assert!(matches!(
            rb_inorder(4, 100, cyclic),
            Err(DumpError::Loop(_))
        ));
        let cyclic = |n: u64| Ok(if n == 4 { (0, 2) } else { (0, 4) });
        assert!(matches!(
            rb_inorder(4, 100, cyclic),
            Err(DumpError::Loop(_))
        ));
        // A right-leaning chain deeper than any balanced tree: the depth is not the limit
        // (the right spine is walked iteratively), the node count is.
        let chain = |n: u64| Ok((0, if n < 1000 { n + 1 } else { 0 }));
        assert_eq!(rb_inorder(1, 2000, chain).unwrap().len(), 1000);
        let left_chain = |n: u64| Ok((if n < 1000 { n + 1 } else { 0 }, 0));
        assert!(
            rb_inorder(1, 2000, left_chain).is_err(),
            "left spine too deep"
        );
    }
}
