//! PE/COFF fix-ups for EFI applications. objcopy stamps the build time into the COFF
//! header, which would make kboot.efi (and disk.img) differ on every build; we set a
//! fixed stamp and recompute the optional header's checksum over the result.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeError(pub String);

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a PE image: {}", self.0)
    }
}

impl std::error::Error for PeError {}

/// Offsets of the COFF TimeDateStamp and the optional header's CheckSum.
fn header_offsets(image: &[u8]) -> Result<(usize, usize), PeError> {
    if image.len() < 0x40 || &image[..2] != b"MZ" {
        return Err(PeError("no MZ header".into()));
    }
    let pe = u32::from_le_bytes([image[0x3c], image[0x3d], image[0x3e], image[0x3f]]) as usize;
    // Signature (4) + COFF header (20) + the optional header up to and past CheckSum.
    if image.len() < pe + 24 + 68 || &image[pe..pe + 4] != b"PE\0\0" {
        return Err(PeError(format!("no PE signature at {pe:#x}")));
    }
    Ok((pe + 8, pe + 24 + 64))
}

/// The checksum as the PE specification (and imagehlp's CheckSumMappedFile) define
/// it: a 16-bit one's-complement style sum of the file with the field itself taken as
/// zero, plus the file length.
pub fn pe_checksum(image: &[u8]) -> Result<u32, PeError> {
    let (_, checksum_at) = header_offsets(image)?;
    let mut sum: u64 = 0;
    for (i, chunk) in image.chunks(2).enumerate() {
        let offset = i * 2;
        if (checksum_at..checksum_at + 4).contains(&offset) {
            continue;
        }
        let word = u16::from_le_bytes([chunk[0], chunk.get(1).copied().unwrap_or(0)]) as u64;
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    Ok((sum as u32).wrapping_add(image.len() as u32))
}

/// Sets the COFF timestamp and refreshes the checksum.
pub fn set_timestamp(image: &mut [u8], timestamp: u32) -> Result<(), PeError> {
    let (stamp_at, checksum_at) = header_offsets(image)?;
    image[stamp_at..stamp_at + 4].copy_from_slice(&timestamp.to_le_bytes());
    let checksum = pe_checksum(image)?;
    image[checksum_at..checksum_at + 4].copy_from_slice(&checksum.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_pe() {
        assert!(set_timestamp(&mut [0u8; 10], 0).is_err());
        let mut mz = vec![0u8; 0x100];
        mz[..2].copy_from_slice(b"MZ");
        assert!(set_timestamp(&mut mz, 0).is_err());
    }

    /// The distro's EFI stub carries a checksum computed by its own toolchain; ours must
    /// agree with it.
    #[test]
    fn checksum_matches_the_toolchains() {
        let Ok(stub) = std::fs::read("/usr/lib/systemd/boot/efi/linuxx64.efi.stub") else {
            panic!("needs systemd-boot-efi (cargo xtask deps)");
        };
        let (_, at) = header_offsets(&stub).unwrap();
        let recorded = u32::from_le_bytes(stub[at..at + 4].try_into().unwrap());
        assert_eq!(pe_checksum(&stub).unwrap(), recorded);
    }
}
