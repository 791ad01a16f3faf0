//! Which pages a filtered dump leaves out, decided like `makedumpfile -d` from each page's
//! struct page, found through the sparse memory sections that VMCOREINFO describes
//! (SYMBOL(mem_section), SIZE(page), OFFSET(page.*), NUMBER(PG_*)). No debuginfo needed.

use crate::dump::error::DumpError;
use crate::dump::format::vmcoreinfo::VmcoreInfo;
use crate::dump::kernel::x86_64::KernelMemory;

/// Dump-level bits, as makedumpfile numbers them.
pub const EXCLUDE_ZERO: u8 = 1;
pub const EXCLUDE_CACHE: u8 = 2;
pub const EXCLUDE_CACHE_PRIVATE: u8 = 4;
pub const EXCLUDE_USER: u8 = 8;
pub const EXCLUDE_FREE: u8 = 16;

/// Flag bits in mem_section.section_mem_map below the encoded mem_map pointer (the kernel
/// keeps at most six there; the pointer itself is at least struct-page aligned).
const SECTION_FLAG_BITS: u64 = 0x3f;
const SECTION_HAS_MEM_MAP: u64 = 1 << 1;
/// Bit 0 of page.mapping marks an anonymous (user) page.
const PAGE_MAPPING_ANON: u64 = 1;
/// Bit 0 of page.compound_head marks a tail page; the rest points to its head. Since 7.x the
/// field is page.compound_info and may instead hold a mask (all high bits set) that turns the
/// tail's own struct page address into its head's.
const COMPOUND_TAIL: u64 = 1;
/// compound_info values at or above this are masks (a head at most 2^18 pages away), not
/// pointers (struct pages live in vmemmap, far below).
const COMPOUND_MASK_MIN: u64 = 0xffff_ffff_ff00_0000;
/// A buddy block larger than this order is corrupt data, not a free block.
const MAX_BUDDY_ORDER: u64 = 20;

/// What the page is, for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageClass {
    Keep,
    /// Page cache without private data (dump level 2).
    Cache,
    /// Page cache with private data or swap cache (4).
    CachePrivate,
    /// Anonymous process memory (8).
    User,
    /// The first page of a free buddy block of 2^order pages (16).
    Free {
        order: u32,
    },
    /// Hardware-poisoned: reading it could machine-check, so it is never read.
    Poisoned,
}

impl PageClass {
    /// The dump-level bit that excludes this class (0: always kept).
    pub fn level_bit(self) -> u8 {
        match self {
            PageClass::Keep => 0,
            PageClass::Cache => EXCLUDE_CACHE,
            PageClass::CachePrivate => EXCLUDE_CACHE_PRIVATE,
            PageClass::User => EXCLUDE_USER,
            PageClass::Free { .. } => EXCLUDE_FREE,
            PageClass::Poisoned => 0,
        }
    }
}

/// struct page layout and flag numbers from VMCOREINFO.
#[derive(Debug, Clone)]
struct PageLayout {
    size: u64,
    flags: u64,
    mapping: u64,
    mapcount: u64,
    private: u64,
    compound_head: u64,
    pg_lru: u64,
    pg_private: u64,
    pg_swapcache: u64,
    pg_swapbacked: u64,
    /// PG_slab until 6.9; from 6.10 slab pages are a page type (`slab_type`).
    pg_slab: Option<u64>,
    pg_hwpoison: Option<u64>,
    buddy_mapcount: Option<i64>,
    slab_type: Option<i64>,
    /// Page types in the top byte of page_type (6.12+: PGTY_buddy 0xf0, PGTY_slab 0xf5, …;
    /// the VMCOREINFO values then have zero low bits); before, a type is one cleared bit of
    /// an all-ones page_type and the values are compared whole.
    types_in_top_byte: bool,
}

impl PageLayout {
    fn from_vmcoreinfo(v: &VmcoreInfo) -> Result<PageLayout, DumpError> {
        let off = |n: &str| {
            v.offset(n)
                .ok_or_else(|| DumpError::Missing(format!("VMCOREINFO OFFSET({n})")))
        };
        let bit = |n: &str| {
            v.number(n)
                .filter(|b| (0..64).contains(b))
                .map(|b| b as u64)
                .ok_or_else(|| DumpError::Missing(format!("VMCOREINFO NUMBER({n})")))
        };
        PageLayout {
            size: v
                .size("page")
                .filter(|s| (32..=256).contains(s))
                .ok_or_else(|| DumpError::Missing("VMCOREINFO SIZE(page)".into()))?,
            flags: off("page.flags")?,
            mapping: off("page.mapping")?,
            mapcount: off("page._mapcount")?,
            private: off("page.private")?,
            compound_head: off("page.compound_head").or_else(|_| off("page.compound_info"))?,
            pg_lru: bit("PG_lru")?,
            pg_private: bit("PG_private")?,
            pg_swapcache: bit("PG_swapcache")?,
            pg_swapbacked: bit("PG_swapbacked")?,
            pg_slab: bit("PG_slab").ok(),
            pg_hwpoison: bit("PG_hwpoison").ok(),
            buddy_mapcount: v.number("PAGE_BUDDY_MAPCOUNT_VALUE"),
            slab_type: v.number("PAGE_SLAB_MAPCOUNT_VALUE"),
            types_in_top_byte: v
                .number("PAGE_BUDDY_MAPCOUNT_VALUE")
                .is_some_and(|b| b & 0x00ff_ffff == 0),
        }
        .with_slab_marker()
    }

    /// Slab pages must be recognised (their struct page fields overlay `struct slab`, whose
    /// words look like an anonymous mapping): PG_slab or the slab page type is required.
    fn with_slab_marker(self) -> Result<PageLayout, DumpError> {
        if self.pg_slab.is_none() && self.slab_type.is_none() {
            return Err(DumpError::Missing(
                "VMCOREINFO NUMBER(PG_slab) or NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)".into(),
            ));
        }
        Ok(self)
    }

    /// Whether the page_type word (the union with _mapcount) says type `value`.
    fn has_type(&self, mapcount: i32, value: i64) -> bool {
        if self.types_in_top_byte {
            (mapcount as u32) >> 24 == (value as u32) >> 24
        } else {
            i64::from(mapcount) == value
        }
    }

    /// Any page type at all (page tables, offline, guard, zsmalloc, …): such pages are kept.
    fn is_typed(&self, mapcount: i32) -> bool {
        self.types_in_top_byte && (0xf0..0xff).contains(&((mapcount as u32) >> 24))
    }
}

/// The fields of one struct page the filter looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageFields {
    pub flags: u64,
    pub mapping: u64,
    pub mapcount: i32,
    pub private: u64,
    pub compound_head: u64,
}

/// Finds and classifies struct pages of the crashed kernel.
pub struct PageFilter {
    layout: PageLayout,
    /// Per memory section: the encoded mem_map base (page address = base + pfn * SIZE(page)).
    sections: Vec<Option<u64>>,
    pfn_section_shift: u32,
}

impl PageFilter {
    /// Reads the section table (SPARSEMEM_EXTREME: an array of LENGTH(mem_section) roots,
    /// each an array of PAGE_SIZE / SIZE(mem_section) sections).
    pub fn new(mem: &dyn KernelMemory, v: &VmcoreInfo) -> Result<PageFilter, DumpError> {
        let layout = PageLayout::from_vmcoreinfo(v)?;
        let missing = |what: &str| DumpError::Missing(format!("VMCOREINFO {what}"));
        let roots_addr = v
            .symbol("mem_section")
            .ok_or_else(|| missing("SYMBOL(mem_section)"))?;
        let nr_roots = v
            .length("mem_section")
            .filter(|&n| (1..=1 << 20).contains(&n))
            .ok_or_else(|| missing("LENGTH(mem_section)"))?;
        let section_size = v
            .size("mem_section")
            .filter(|&s| (8..=256).contains(&s))
            .ok_or_else(|| missing("SIZE(mem_section)"))?;
        let map_off = v.offset("mem_section.section_mem_map").unwrap_or(0);
        let page_shift = v.page_size.unwrap_or(4096).trailing_zeros() as i64;
        let section_bits = v
            .number("SECTION_SIZE_BITS")
            .filter(|b| (page_shift..=40).contains(b))
            .ok_or_else(|| missing("NUMBER(SECTION_SIZE_BITS)"))?;
        let per_root = v.page_size.unwrap_or(4096) / section_size;
        let mut roots = vec![0u8; (nr_roots * 8) as usize];
        mem.read_virt(roots_addr, &mut roots)?;
        let mut sections = Vec::new();
        let mut table = vec![0u8; (per_root * section_size) as usize];
        for (r, root) in roots.chunks_exact(8).enumerate() {
            let root = u64::from_le_bytes(root.try_into().unwrap_or_default());
            if root == 0 || mem.read_virt(root, &mut table).is_err() {
                continue;
            }
            for s in 0..per_root {
                let at = (s * section_size + map_off) as usize;
                let raw = table
                    .get(at..at + 8)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_le_bytes);
                if raw & SECTION_HAS_MEM_MAP == 0 {
                    continue;
                }
                let nr = r as u64 * per_root + s;
                if sections.len() <= nr as usize {
                    sections.resize(nr as usize + 1, None);
                }
                sections[nr as usize] = Some(raw & !SECTION_FLAG_BITS);
            }
        }
        if sections.iter().all(Option::is_none) {
            return Err(DumpError::Missing(
                "memory sections with a mem_map (is the kernel SPARSEMEM_EXTREME?)".into(),
            ));
        }
        Ok(PageFilter {
            layout,
            sections,
            pfn_section_shift: (section_bits - page_shift) as u32,
        })
    }

    /// Virtual address of the struct page of `pfn`, if its section has a mem_map.
    pub fn page_addr(&self, pfn: u64) -> Option<u64> {
        let base = (*self
            .sections
            .get((pfn >> self.pfn_section_shift) as usize)?)?;
        Some(base.wrapping_add(pfn.wrapping_mul(self.layout.size)))
    }

    /// Reads the struct pages of `count` pfns from `first` (same section) in one read.
    pub fn read_pages(
        &self,
        mem: &dyn KernelMemory,
        first: u64,
        count: usize,
    ) -> Option<Vec<PageFields>> {
        let addr = self.page_addr(first)?;
        let size = self.layout.size as usize;
        let mut raw = vec![0u8; count * size];
        mem.read_virt(addr, &mut raw).ok()?;
        Some(raw.chunks_exact(size).map(|p| self.fields(p)).collect())
    }

    fn fields(&self, p: &[u8]) -> PageFields {
        let l = &self.layout;
        let u64_at = |off: u64| {
            p.get(off as usize..off as usize + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        let mapcount = p
            .get(l.mapcount as usize..l.mapcount as usize + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, i32::from_le_bytes);
        PageFields {
            flags: u64_at(l.flags),
            mapping: u64_at(l.mapping),
            mapcount,
            private: u64_at(l.private),
            compound_head: u64_at(l.compound_head),
        }
    }

    /// The head page's fields for a tail page of a compound page (its flags and mapping
    /// describe the whole compound page); the page itself otherwise.
    pub fn head_of(&self, mem: &dyn KernelMemory, pfn: u64, page: PageFields) -> PageFields {
        let Some(head) = self.head_addr(pfn, page.compound_head) else {
            return page;
        };
        let mut raw = vec![0u8; self.layout.size as usize];
        match mem.read_virt(head, &mut raw) {
            Ok(()) => self.fields(&raw),
            Err(_) => page,
        }
    }

    /// The head page's struct page address for a tail page (None for a head or single page).
    fn head_addr(&self, pfn: u64, compound: u64) -> Option<u64> {
        if compound & COMPOUND_TAIL == 0 {
            return None;
        }
        if compound >= COMPOUND_MASK_MIN {
            return Some(self.page_addr(pfn)? & (compound & !COMPOUND_TAIL));
        }
        Some(compound & !COMPOUND_TAIL)
    }

    /// Classifies one page given its own fields and those of its head page.
    pub fn classify(&self, own: PageFields, head: PageFields) -> PageClass {
        let l = &self.layout;
        let has = |flags: u64, bit: u64| flags & (1 << bit) != 0;
        if l.pg_hwpoison.is_some_and(|b| has(own.flags, b)) {
            return PageClass::Poisoned;
        }
        if l.buddy_mapcount
            .is_some_and(|b| l.has_type(own.mapcount, b))
            && own.private <= MAX_BUDDY_ORDER
        {
            return PageClass::Free {
                order: own.private as u32,
            };
        }
        let flags = head.flags;
        let slab = l.pg_slab.is_some_and(|b| has(flags, b))
            || l.slab_type.is_some_and(|t| l.has_type(head.mapcount, t));
        if slab || l.is_typed(head.mapcount) {
            return PageClass::Keep;
        }
        if head.mapping & PAGE_MAPPING_ANON != 0 {
            return PageClass::User;
        }
        if head.mapping != 0 && has(flags, l.pg_lru) {
            let swapcache = has(flags, l.pg_swapcache) && has(flags, l.pg_swapbacked);
            return if has(flags, l.pg_private) || swapcache {
                PageClass::CachePrivate
            } else {
                PageClass::Cache
            };
        }
        PageClass::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "OSRELEASE=6.1.0\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
        OFFSET(page.mapping)=24\nOFFSET(page._mapcount)=48\nOFFSET(page.private)=40\n\
        OFFSET(page.compound_head)=8\nNUMBER(PG_lru)=4\nNUMBER(PG_private)=13\n\
        NUMBER(PG_swapcache)=10\nNUMBER(PG_swapbacked)=19\nNUMBER(PG_slab)=9\n\
        NUMBER(PG_hwpoison)=23\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n";

    fn filter() -> PageFilter {
        let v = VmcoreInfo::parse(INFO).unwrap();
        PageFilter {
            layout: PageLayout::from_vmcoreinfo(&v).unwrap(),
            sections: vec![Some(0xffffea0000000000)],
            pfn_section_shift: 15,
        }
    }

    fn page(flags: u64, mapping: u64) -> PageFields {
        PageFields {
            flags,
            mapping,
            mapcount: -1,
            ..Default::default()
        }
    }

    #[test]
    fn classes_follow_flags_and_mapping() {
        let f = filter();
        let c = |p: PageFields| f.classify(p, p);
        let lru = 1 << 4;
        assert_eq!(c(page(0, 0)), PageClass::Keep);
        assert_eq!(c(page(lru, 0xffff888001234560)), PageClass::Cache);
        assert_eq!(
            c(page(lru | 1 << 13, 0xffff888001234560)),
            PageClass::CachePrivate
        );
        assert_eq!(c(page(lru, 0xffff888001234561)), PageClass::User);
        assert_eq!(c(page(1 << 9, 0xffff888001234561)), PageClass::Keep);
        assert_eq!(c(page(1 << 23, 0)), PageClass::Poisoned);
        let free = PageFields {
            mapcount: -129,
            private: 3,
            ..Default::default()
        };
        assert_eq!(c(free), PageClass::Free { order: 3 });
        let corrupt = PageFields {
            mapcount: -129,
            private: 1 << 40,
            ..Default::default()
        };
        assert_eq!(c(corrupt), PageClass::Keep);
    }

    #[test]
    fn tail_pages_take_the_head_class_and_addresses_are_linear() {
        let f = filter();
        let tail = PageFields {
            compound_head: 0xffffea0000000041,
            ..Default::default()
        };
        let head = page(1 << 4, 0xffff888001234561);
        assert_eq!(f.classify(tail, head), PageClass::User);
        assert_eq!(f.head_addr(1, tail.compound_head), Some(0xffffea0000000040));
        assert_eq!(f.head_addr(1, 0x40), None);
        // 7.x's mask form: pfn 0x61 of an order-2 page whose head is pfn 0x60.
        assert_eq!(
            f.head_addr(0x61, 0xffffffffffffff01),
            Some(0xffffea0000000000 + 0x60 * 64)
        );
        assert_eq!(f.page_addr(2), Some(0xffffea0000000080));
        assert_eq!(f.page_addr(1 << 15), None);
    }

    /// 6.12's VMCOREINFO: no PG_slab; buddy and slab are page types in the top byte.
    const INFO_6_12: &str =
        "OSRELEASE=6.12.0\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
        OFFSET(page.mapping)=24\nOFFSET(page._mapcount)=48\nOFFSET(page.private)=40\n\
        OFFSET(page.compound_head)=8\nNUMBER(PG_lru)=5\nNUMBER(PG_private)=14\n\
        NUMBER(PG_swapcache)=10\nNUMBER(PG_swapbacked)=17\nNUMBER(PG_hwpoison)=20\n\
        NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456\n\
        NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-184549376\n";

    #[test]
    fn page_types_of_6_12_mark_free_slab_and_other_typed_pages() {
        let v = VmcoreInfo::parse(INFO_6_12).unwrap();
        let f = PageFilter {
            layout: PageLayout::from_vmcoreinfo(&v).unwrap(),
            sections: vec![Some(0xffffea0000000000)],
            pfn_section_shift: 15,
        };
        let typed = |ty: u32, mapping: u64, private: u64| PageFields {
            mapcount: (ty << 24) as i32,
            mapping,
            private,
            ..Default::default()
        };
        let c = |p: PageFields| f.classify(p, p);
        assert_eq!(c(typed(0xf0, 0, 2)), PageClass::Free { order: 2 });
        // A slab page whose overlaid words look anonymous stays.
        assert_eq!(c(typed(0xf5, 0xffff888001234561, 0)), PageClass::Keep);
        // A page table (PGTY_table) stays too.
        assert_eq!(c(typed(0xf2, 0xffff888001234561, 0)), PageClass::Keep);
        // An ordinary mapped page: _mapcount ≥ -1, classified by its mapping.
        let anon = PageFields {
            mapcount: 0,
            mapping: 0xffff888001234561,
            ..Default::default()
        };
        assert_eq!(c(anon), PageClass::User);
        // The slab type on the head page covers the tail pages.
        let tail = PageFields {
            compound_head: 0xffffea0000000041,
            mapcount: -1,
            mapping: 0xffff888001234561,
            ..Default::default()
        };
        assert_eq!(f.classify(tail, typed(0xf5, 0x10, 0)), PageClass::Keep);
    }

    #[test]
    fn missing_vmcoreinfo_keys_are_named() {
        let v = VmcoreInfo::parse("OSRELEASE=6.1.0\nSIZE(page)=64\n").unwrap();
        let e = PageLayout::from_vmcoreinfo(&v).unwrap_err().to_string();
        assert!(e.contains("OFFSET(page.flags)"), "{e}");
    }
}
