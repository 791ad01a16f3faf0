//! x86_64 address translation: kernel text (va − __START_KERNEL_map + phys_base) and a 4/5-level
//! page-table walker from init_top_pgt with 2M/1G pages; the `KernelMemory` read trait.

use crate::dump::error::DumpError;
use crate::dump::format::elf::START_KERNEL_MAP;
use crate::dump::format::source::PhysMemory;
use crate::dump::format::vmcoreinfo::VmcoreInfo;
use std::sync::{Arc, Mutex};

const PTE_PRESENT: u64 = 1;
const PTE_HUGE: u64 = 1 << 7;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const DEFAULT_KERNEL_IMAGE_SIZE: u64 = 512 << 20;
const TLB_SLOTS: usize = 64;
/// page_offset_base without CONFIG_RANDOMIZE_MEMORY, 4- and 5-level paging.
const PAGE_OFFSET_L4: u64 = 0xffff_8880_0000_0000;
const PAGE_OFFSET_L5: u64 = 0xff11_0000_0000_0000;

/// Reads kernel virtual memory of the crashed machine.
pub trait KernelMemory {
    fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), DumpError>;

    fn read_u8(&self, vaddr: u64) -> Result<u8, DumpError> {
        let mut b = [0u8; 1];
        self.read_virt(vaddr, &mut b)?;
        Ok(b[0])
    }
    fn read_u16(&self, vaddr: u64) -> Result<u16, DumpError> {
        let mut b = [0u8; 2];
        self.read_virt(vaddr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    fn read_u32(&self, vaddr: u64) -> Result<u32, DumpError> {
        let mut b = [0u8; 4];
        self.read_virt(vaddr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn read_i32(&self, vaddr: u64) -> Result<i32, DumpError> {
        Ok(self.read_u32(vaddr)? as i32)
    }
    fn read_u64(&self, vaddr: u64) -> Result<u64, DumpError> {
        let mut b = [0u8; 8];
        self.read_virt(vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// Bytes up to a NUL, at most `max` of them.
    fn read_cstr(&self, vaddr: u64, max: usize) -> Result<Vec<u8>, DumpError> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        while out.len() < max {
            let at = vaddr
                .checked_add(out.len() as u64)
                .ok_or(DumpError::Unmapped(vaddr))?;
            // Stay within one page per read so a string ending just before an unmapped page works.
            let mut n = (4096 - (at % 4096) as usize)
                .min(chunk.len())
                .min(max - out.len());
            if self.read_virt(at, &mut chunk[..n]).is_err() {
                // The string may end just before unreadable memory: go byte by byte there.
                n = 1;
                self.read_virt(at, &mut chunk[..1])?;
            }
            if let Some(z) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..z]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..n]);
        }
        Ok(out)
    }
}

/// Translation of kernel virtual addresses for one dump.
pub struct X86_64 {
    phys: Arc<dyn PhysMemory>,
    pub phys_base: u64,
    /// Physical address of the top-level page table (init_top_pgt).
    pub pgd: u64,
    pub five_level: bool,
    kernel_image_end: u64,
    sme_mask: u64,
    /// Direct map: [start, start + len) maps linearly onto physical 0.
    direct_map: Option<(u64, u64)>,
    /// Recently translated pages: (virtual page, physical page, page size).
    tlb: Mutex<Vec<(u64, u64, u64)>>,
}

impl X86_64 {
    /// `phys_base` comes from VMCOREINFO NUMBER(phys_base) or an ELF kernel-text segment.
    pub fn new(
        phys: Arc<dyn PhysMemory>,
        info: &VmcoreInfo,
        phys_base: u64,
    ) -> Result<Self, DumpError> {
        let top = info.required_symbol("init_top_pgt")?;
        let image = info
            .number("KERNEL_IMAGE_SIZE")
            .map_or(DEFAULT_KERNEL_IMAGE_SIZE, |v| v as u64);
        let mut t = X86_64 {
            phys,
            phys_base,
            pgd: 0,
            five_level: info.number("pgtable_l5_enabled").unwrap_or(0) != 0,
            kernel_image_end: START_KERNEL_MAP.saturating_add(image),
            sme_mask: info.number("sme_mask").unwrap_or(0) as u64,
            direct_map: None,
            tlb: Mutex::new(Vec::with_capacity(TLB_SLOTS)),
        };
        t.pgd = t.kernel_text_to_phys(top).ok_or_else(|| {
            DumpError::Format(format!(
                "init_top_pgt {top:#x} is not in the kernel text mapping"
            ))
        })?;
        Ok(t)
    }

    pub fn phys(&self) -> &Arc<dyn PhysMemory> {
        &self.phys
    }

    /// Default page_offset_base for this paging mode (used when the kernel has no
    /// page_offset_base variable, i.e. without CONFIG_RANDOMIZE_MEMORY).
    pub fn default_page_offset(&self) -> u64 {
        if self.five_level {
            PAGE_OFFSET_L5
        } else {
            PAGE_OFFSET_L4
        }
    }

    /// Enables the direct-map shortcut for [base, base + phys_end). Bounded by the memory the
    /// dump holds: with KASLR the vmalloc area may start soon after the direct map.
    pub fn set_direct_map(&mut self, base: u64, phys_end: u64) {
        self.direct_map = Some((base, phys_end));
    }

    /// Direct-map address → physical address, when the shortcut is enabled and applies.
    pub fn direct_map_to_phys(&self, vaddr: u64) -> Option<u64> {
        let (base, len) = self.direct_map?;
        vaddr.checked_sub(base).filter(|&off| off < len)
    }

    /// Kernel image addresses map linearly onto physical memory.
    pub fn kernel_text_to_phys(&self, vaddr: u64) -> Option<u64> {
        (START_KERNEL_MAP..self.kernel_image_end)
            .contains(&vaddr)
            // phys_base is negative (two's complement) when KASLR moved the kernel's virtual
            // address further than its physical one, as the kernel's own __pa() allows.
            .then(|| (vaddr - START_KERNEL_MAP).wrapping_add(self.phys_base))
    }

    fn entry(&self, table: u64, index: u64) -> Result<u64, DumpError> {
        let mut b = [0u8; 8];
        self.phys.read_phys(table + index * 8, &mut b)?;
        Ok(u64::from_le_bytes(b) & !self.sme_mask)
    }

    /// Walks the page tables rooted at `pgd` (a physical address).
    pub fn walk(&self, pgd: u64, vaddr: u64) -> Result<(u64, u64), DumpError> {
        let shifts: &[u32] = if self.five_level {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        };
        let mut table = pgd;
        for (level, &shift) in shifts.iter().enumerate() {
            let e = self.entry(table, (vaddr >> shift) & 511)?;
            if e & PTE_PRESENT == 0 {
                return Err(DumpError::Unmapped(vaddr));
            }
            let page_size = 1u64 << shift;
            let last = level == shifts.len() - 1;
            if last || ((shift == 30 || shift == 21) && e & PTE_HUGE != 0) {
                let base = e & ADDR_MASK & !(page_size - 1);
                return Ok((base + (vaddr & (page_size - 1)), page_size));
            }
            table = e & ADDR_MASK;
        }
        Err(DumpError::Unmapped(vaddr))
    }

    /// Physical address of a kernel virtual address.
    pub fn to_phys(&self, vaddr: u64) -> Result<u64, DumpError> {
        if let Some(p) = self
            .kernel_text_to_phys(vaddr)
            .or_else(|| self.direct_map_to_phys(vaddr))
        {
            return Ok(p);
        }
        let mut tlb = self.tlb.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&(v, p, _)) = tlb.iter().find(|&&(v, _, size)| vaddr & !(size - 1) == v) {
            return Ok(p + (vaddr - v));
        }
        let (paddr, size) = self.walk(self.pgd, vaddr)?;
        if tlb.len() >= TLB_SLOTS {
            tlb.remove(0);
        }
        tlb.push((vaddr & !(size - 1), paddr & !(size - 1), size));
        Ok(paddr)
    }
}

impl KernelMemory for X86_64 {
    fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = vaddr
                .checked_add(done as u64)
                .ok_or(DumpError::Unmapped(vaddr))?;
            let n = (4096 - (at % 4096) as usize).min(buf.len() - done);
            let paddr = self.to_phys(at)?;
            self.phys.read_phys(paddr, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Sparse physical memory made of explicit 8-byte words.
    struct Words(HashMap<u64, u64>);
    impl PhysMemory for Words {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = paddr + i as u64;
                let w = self.0.get(&(a & !7)).copied().unwrap_or(0);
                *b = (w >> ((a & 7) * 8)) as u8;
            }
            Ok(())
        }
    }

    fn info(l5: bool) -> VmcoreInfo {
        VmcoreInfo::parse(&format!(
            "OSRELEASE=x\nSYMBOL(init_top_pgt)=ffffffff82000000\nNUMBER(pgtable_l5_enabled)={}\n",
            l5 as u8
        ))
        .unwrap()
    }

    #[test]
    fn negative_phys_base_maps_kernel_text() {
        // Seen in a KASLR guest: NUMBER(phys_base)=-614465536 with _stext at 0xffffffffb6800000.
        let phys_base = (-614_465_536i64) as u64;
        let i = VmcoreInfo::parse("OSRELEASE=x\nSYMBOL(init_top_pgt)=ffffffffb8210000\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n")
            .unwrap();
        let m = X86_64::new(Arc::new(Words(HashMap::new())), &i, phys_base).unwrap();
        assert_eq!(
            m.kernel_text_to_phys(0xffff_ffff_b680_0000),
            Some(0x36800000 - 614_465_536)
        );
    }

    #[test]
    fn four_level_walk_with_huge_pages() {
        let pgd = 0x100000 + 0x2000000; // init_top_pgt with phys_base 0x100000
        let va_4k = 0xffff_c900_0012_3456u64;
        let va_2m = 0xffff_8880_0040_0123u64;
        let va_1g = 0xffff_8881_4000_0042u64;
        let idx = |va: u64, s: u32| (va >> s) & 511;
        let mut m = HashMap::new();
        // 4K chain: pgd → pud 0x10000 → pmd 0x11000 → pte 0x12000 → page 0x777000
        m.insert(pgd + idx(va_4k, 39) * 8, 0x10000 | 0x63);
        m.insert(0x10000 + idx(va_4k, 30) * 8, 0x11000 | 0x63);
        m.insert(0x11000 + idx(va_4k, 21) * 8, 0x12000 | 0x63);
        m.insert(
            0x12000 + idx(va_4k, 12) * 8,
            0x777000 | 0x8000_0000_0000_0063,
        );
        // 2M page at 0x4000000 and 1G page at 0x80000000 (another pgd slot).
        m.insert(pgd + idx(va_2m, 39) * 8, 0x20000 | 0x63);
        m.insert(0x20000 + idx(va_2m, 30) * 8, 0x21000 | 0x63);
        m.insert(0x21000 + idx(va_2m, 21) * 8, 0x4000000 | 0xe3);
        m.insert(0x20000 + idx(va_1g, 30) * 8, 0x80000000 | 0xe3);
        let t = X86_64::new(Arc::new(Words(m)), &info(false), 0x100000).unwrap();
        assert_eq!(t.pgd, pgd);
        assert_eq!(t.to_phys(va_4k).unwrap(), 0x777456);
        assert_eq!(t.to_phys(va_2m).unwrap(), 0x4000123);
        assert_eq!(t.to_phys(va_1g).unwrap(), 0x80000042);
        assert_eq!(t.to_phys(0xffffffff81000010).unwrap(), 0x1100010);
        assert!(matches!(
            t.to_phys(0xffff_a000_0000_0000),
            Err(DumpError::Unmapped(_))
        ));
    }

    #[test]
    fn five_level_uses_an_extra_table() {
        let pgd = 0x2000000;
        let va = 0xff11_0000_0000_1234u64;
        let idx = |s: u32| (va >> s) & 511;
        let mut m = HashMap::new();
        m.insert(pgd + idx(48) * 8, 0x10000 | 1);
        m.insert(0x10000 + idx(39) * 8, 0x11000 | 1);
        m.insert(0x11000 + idx(30) * 8, 0x12000 | 1);
        m.insert(0x12000 + idx(21) * 8, 0x13000 | 1);
        m.insert(0x13000 + idx(12) * 8, 0x5000 | 1);
        let t = X86_64::new(Arc::new(Words(m)), &info(true), 0).unwrap();
        assert_eq!(t.to_phys(va).unwrap(), 0x5234);
    }
}
