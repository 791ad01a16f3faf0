//! Slab caches like crash's `kmem -s` and /proc/slabinfo: every cache on `slab_caches`, its
//! sizes, and its slab and object counts from the per-node counters, largest first.

use super::array_len;
use crate::dump::error::DumpError;
use crate::dump::kernel::btf::Kind;
use crate::dump::kernel::lists::list_for_each_entry;
use crate::dump::kernel::Dump;
use crate::dump::Value;

/// How many caches the report shows by default.
pub const SLAB_TOP: usize = 20;
/// More caches than a kernel creates: past it the list is taken as corrupt.
const MAX_CACHES: usize = 65_536;
/// Partial slabs walked per node to count free objects; beyond, "allocated" is left unknown
/// rather than spending the report's time budget on one cache.
const MAX_PARTIAL: u64 = 20_000;
/// kmem_cache_order_objects packs the order above the object count (mm/slub.c OO_SHIFT).
const OO_SHIFT: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlabCounts {
    /// Slabs of the cache (slabinfo's num_slabs).
    pub slabs: u64,
    /// Object slots in them (slabinfo's num_objs).
    pub objects: u64,
    /// Objects in use as slabinfo counts them (slots minus the free ones on the nodes'
    /// partial lists); None when the partial lists could not be walked.
    pub active: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabCache {
    /// Address of the `struct kmem_cache` (crash's CACHE column).
    pub addr: u64,
    pub name: String,
    /// The object as callers asked for it (crash's OBJSIZE).
    pub object_size: u64,
    /// The slot each object takes with its metadata (slabinfo's <objsize>).
    pub size: u64,
    pub objects_per_slab: u64,
    /// Page order of one slab (slabinfo's <pagesperslab> is 1 << order).
    pub order: u32,
    /// Bytes of one slab: PAGE_SIZE << order (crash's SSIZE).
    pub slab_bytes: u64,
    pub counts: Option<SlabCounts>,
}

impl SlabCache {
    /// Memory the cache's slabs take: slabs × slab size.
    pub fn memory_bytes(&self) -> Option<u64> {
        self.counts.map(|c| c.slabs.saturating_mul(self.slab_bytes))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlabInfo {
    /// The largest caches by memory (without counts: the first ones in list order).
    pub caches: Vec<SlabCache>,
    /// Caches on slab_caches.
    pub total_caches: usize,
    /// Memory of all caches' slabs, when every cache had counts.
    pub total_bytes: Option<u64>,
    /// Why object and slab counts are missing, when they are.
    pub counts_unavailable: Option<String>,
}

/// The allocator as BTF describes `struct kmem_cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allocator {
    /// SLUB: `oo` packs order and objects; nodes count slabs and objects when the kernel
    /// has CONFIG_SLUB_DEBUG (`nr_slabs`, `total_objects`).
    Slub { counters: bool },
    /// SLAB (gone in 6.8): `gfporder`, `num`; nodes count `total_slabs`, `free_objects`.
    Slab,
}

fn allocator(dump: &Dump) -> Result<Allocator, DumpError> {
    let cache = dump.value_at(0, "struct kmem_cache")?;
    let node = dump.value_at(0, "struct kmem_cache_node")?;
    if cache.has_field("oo") {
        Ok(Allocator::Slub {
            counters: node.has_field("nr_slabs") && node.has_field("total_objects"),
        })
    } else if cache.has_field("gfporder") && cache.has_field("num") {
        Ok(Allocator::Slab)
    } else {
        Err(DumpError::Missing(
            "a SLUB or SLAB struct kmem_cache (no oo, no gfporder) in BTF".into(),
        ))
    }
}

/// order and objects per slab of a kmem_cache_order_objects value.
pub fn split_oo(x: u64) -> (u32, u64) {
    ((x >> OO_SHIFT) as u32, x & ((1 << OO_SHIFT) - 1))
}

/// The cache's kmem_cache_node structures (node[0 .. nr_node_ids], or per_node[].node since
/// 6.18; NULL ones skipped), as for_each_kmem_cache_node() visits them.
fn nodes<'d>(cache: &Value<'d>) -> Result<Vec<Value<'d>>, DumpError> {
    let dump = cache.dump();
    // 6.18+ (sheaves) keeps the node pointer in per_node[i].node beside the node's barn.
    let per_node = !cache.has_field("node") && cache.has_field("per_node");
    let arr = cache.field(if per_node { "per_node" } else { "node" })?;
    let declared = array_len(&arr).unwrap_or(1);
    let nr = dump
        .var("nr_node_ids")
        .and_then(|v| v.as_u64())
        .unwrap_or(1);
    let mut out = Vec::new();
    for i in 0..nr.min(declared).min(1024) {
        let p = if per_node {
            arr.index(i)?.field("node")?
        } else {
            arr.index(i)?
        };
        if p.as_u64()? != 0 {
            out.push(p.deref()?);
        }
    }
    Ok(out)
}

/// Free objects on a SLUB node's partial list (count_partial(n, count_free)), linked through
/// `slab_list` of `struct slab` (5.17+) or of `struct page` before.
fn partial_free(node: &Value<'_>, entry: &str) -> Result<u64, DumpError> {
    if node.field("nr_partial")?.as_u64()? > MAX_PARTIAL {
        return Err(DumpError::Loop(format!(
            "more than {MAX_PARTIAL} partial slabs"
        )));
    }
    let mut free = 0u64;
    for slab in list_for_each_entry(&node.field("partial")?, entry, "slab_list")?
        .limit(MAX_PARTIAL as usize)
    {
        let slab = slab?;
        let objects = slab.field("objects")?.as_u64()?;
        let inuse = slab.field("inuse")?.as_u64()?;
        free = free.saturating_add(objects.saturating_sub(inuse));
    }
    Ok(free)
}

/// The type slabs are linked as on partial lists, by what BTF has.
fn slab_entry_type(dump: &Dump) -> &'static str {
    let has = |ty: &str| {
        dump.value_at(0, ty)
            .is_ok_and(|v| v.has_field("slab_list") && v.has_field("inuse"))
    };
    if dump.btf.find(Kind::Struct, "slab").is_some() && has("struct slab") {
        "struct slab"
    } else {
        "struct page"
    }
}

fn cache(
    dump: &Dump,
    c: &Value<'_>,
    alloc: Allocator,
    slab_entry: &str,
) -> Result<SlabCache, DumpError> {
    let (order, objects_per_slab) = match alloc {
        Allocator::Slub { .. } => split_oo(c.field("oo")?.as_u64()?),
        Allocator::Slab => (
            c.field("gfporder")?.as_u64()? as u32,
            c.field("num")?.as_u64()?,
        ),
    };
    let slab_bytes = dump.page_size().checked_shl(order.min(31)).unwrap_or(0);
    let counts = match alloc {
        Allocator::Slub { counters: false } => None,
        Allocator::Slub { counters: true } => {
            let (mut slabs, mut objects, mut free) = (0u64, 0u64, Some(0u64));
            for n in nodes(c)? {
                slabs = slabs.saturating_add(n.field("nr_slabs")?.as_u64()?);
                objects = objects.saturating_add(n.field("total_objects")?.as_u64()?);
                free = match (free, partial_free(&n, slab_entry)) {
                    (Some(f), Ok(more)) => Some(f.saturating_add(more)),
                    _ => None,
                };
            }
            Some(SlabCounts {
                slabs,
                objects,
                active: free.map(|f| objects.saturating_sub(f)),
            })
        }
        Allocator::Slab => {
            let (mut slabs, mut free) = (0u64, 0u64);
            for n in nodes(c)? {
                slabs = slabs.saturating_add(n.field("total_slabs")?.as_u64()?);
                free = free.saturating_add(n.field("free_objects")?.as_u64()?);
            }
            let objects = slabs.saturating_mul(objects_per_slab);
            Some(SlabCounts {
                slabs,
                objects,
                active: Some(objects.saturating_sub(free)),
            })
        }
    };
    Ok(SlabCache {
        addr: c.address(),
        name: c.field("name")?.string()?,
        object_size: c.field("object_size")?.as_u64()?,
        size: c.field("size")?.as_u64()?,
        objects_per_slab,
        order,
        slab_bytes,
        counts,
    })
}

/// Whether `a` goes before `b`: more memory first, then by name (a stable order); caches
/// without counts last.
fn before(a: &SlabCache, b: &SlabCache) -> bool {
    (b.memory_bytes(), &a.name) < (a.memory_bytes(), &b.name)
}

/// The `top` largest caches by memory, largest first. Insertion into a short ranked list
/// rather than a sort: the caches number in the hundreds, and a generic sort of this type
/// would add kilobytes to the binary.
pub fn largest(caches: Vec<SlabCache>, top: usize) -> Vec<SlabCache> {
    let mut ranked: Vec<SlabCache> = Vec::new();
    for c in caches {
        let at = ranked
            .iter()
            .position(|r| before(&c, r))
            .unwrap_or(ranked.len());
        if at < top {
            ranked.insert(at, c);
            ranked.truncate(top);
        }
    }
    ranked
}

/// The `top` largest slab caches; a cache that cannot be read is an error string.
pub fn slab_info(dump: &Dump, top: usize) -> Result<(SlabInfo, Vec<String>), DumpError> {
    let alloc = allocator(dump)?;
    let slab_entry = slab_entry_type(dump);
    let head = dump.var("slab_caches")?;
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for c in list_for_each_entry(&head, "struct kmem_cache", "list")?.limit(MAX_CACHES) {
        match c {
            Ok(c) => match cache(dump, &c, alloc, slab_entry) {
                Ok(v) => all.push(v),
                Err(e) => errors.push(format!("cache at {:#x}: {e}", c.address())),
            },
            Err(e) => {
                errors.push(format!("slab_caches list: {e}"));
                break;
            }
        }
    }
    let counts_unavailable = matches!(alloc, Allocator::Slub { counters: false }).then(|| {
        "kmem_cache_node has no nr_slabs/total_objects in this kernel's BTF (SLUB built \
         without CONFIG_SLUB_DEBUG): no object or slab counts, caches in list order"
            .to_string()
    });
    let total_bytes = all
        .iter()
        .map(SlabCache::memory_bytes)
        .try_fold(0u64, |sum, m| m.map(|m| sum.saturating_add(m)));
    let total_caches = all.len();
    let caches = if counts_unavailable.is_some() {
        all.truncate(top);
        all
    } else {
        largest(all, top)
    };
    Ok((
        SlabInfo {
            caches,
            total_caches,
            total_bytes: total_bytes.filter(|_| counts_unavailable.is_none()),
            counts_unavailable,
        },
        errors,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(name: &str, slabs: Option<u64>, order: u32) -> SlabCache {
        SlabCache {
            addr: 0,
            name: name.into(),
            object_size: 64,
            size: 64,
            objects_per_slab: 64 << order,
            order,
            slab_bytes: 4096 << order,
            counts: slabs.map(|s| SlabCounts {
                slabs: s,
                objects: s * (64 << order),
                active: None,
            }),
        }
    }

    #[test]
    fn oo_packs_order_over_objects() {
        // kmalloc-1k on 6.1: order 3, 32 objects per slab.
        assert_eq!(split_oo(3 << 16 | 32), (3, 32));
        assert_eq!(split_oo(21), (0, 21));
    }

    #[test]
    fn largest_by_memory_not_by_slab_count() {
        let caches = vec![
            fake("many-small", Some(100), 0), // 400 KiB
            fake("few-big", Some(20), 3),     // 640 KiB
            fake("none", Some(0), 0),
            fake("unknown", None, 0),
            fake("also-100", Some(100), 0),
        ];
        let names: Vec<String> = largest(caches.clone(), 10)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            ["few-big", "also-100", "many-small", "none", "unknown"]
        );
        assert_eq!(largest(caches, 2).len(), 2);
        assert_eq!(fake("x", Some(20), 3).memory_bytes(), Some(20 * 32768));
        assert_eq!(fake("x", None, 3).memory_bytes(), None);
    }
}
