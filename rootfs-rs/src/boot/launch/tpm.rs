//! TPM 2.0 measurements before kexec, the way GRUB measures what it boots (its "tpm"
//! verifier): the kernel command line into PCR 8, the kernel and each initrd into PCR 9,
//! so sealed secrets (a LUKS key bound to PCR 8/9) see the same values whether GRUB or
//! kboot started the kernel. Commands are encoded here (TPM 2.0 Library, Part 3:
//! TPM2_PCR_Extend, TPM2_PCR_Read) and sent through the kernel's resource manager,
//! /dev/tpmrm0: a write of one command, a read of its response. Only the SHA-256 bank is
//! extended. Without a TPM nothing happens; a failure is a warning, never a refused boot.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::util::hash::sha256;

/// The kernel's TPM resource manager.
pub const DEVICE: &str = "/dev/tpmrm0";
/// Where the measurements of the last boot are listed, one line each.
pub const EVENT_LOG: &str = "/run/kboot/tpm-events.log";
/// GRUB_STRING_PCR: command lines.
pub const PCR_STRINGS: u32 = 8;
/// GRUB_BINARY_PCR: files.
pub const PCR_FILES: u32 = 9;

const TPM_ST_NO_SESSIONS: u16 = 0x8001;
const TPM_ST_SESSIONS: u16 = 0x8002;
const TPM_CC_PCR_EXTEND: u32 = 0x0000_0182;
const TPM_CC_PCR_READ: u32 = 0x0000_017E;
/// The password authorization session, with an empty password (PCRs 0-15 need none).
const TPM_RS_PW: u32 = 0x4000_0009;
const TPM_ALG_SHA256: u16 = 0x000B;
const HEADER: usize = 10;
/// Longest response kboot reads (PCR_Read's is under 100 bytes).
const MAX_RESPONSE: usize = 4096;

/// One extend: `digest` (SHA-256 of the measured bytes) into `pcr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    pub pcr: u32,
    pub digest: [u8; 32],
    pub description: String,
}

fn digest_of(bytes: &[u8]) -> [u8; 32] {
    let mut d = sha256();
    d.update(bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(&d.finish());
    out
}

fn digest_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut d = sha256();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&d.finish());
    Ok(out)
}

/// A PCR's value after extending `old` by `digest`: SHA-256(old || digest).
pub fn extended(old: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut both = old.to_vec();
    both.extend_from_slice(digest);
    digest_of(&both)
}

/// What GRUB would measure for booting `kernel` with `initrds` and `cmdline`: the
/// command line's bytes (GRUB's "kernel_cmdline: " is only the event's description),
/// then each file's contents.
pub fn measurements(
    kernel: &Path,
    initrds: &[PathBuf],
    cmdline: &str,
) -> io::Result<Vec<Measurement>> {
    let mut out = vec![Measurement {
        pcr: PCR_STRINGS,
        digest: digest_of(cmdline.as_bytes()),
        description: format!("kernel_cmdline: {cmdline}"),
    }];
    for file in std::iter::once(kernel).chain(initrds.iter().map(PathBuf::as_path)) {
        let digest = digest_file(file)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
        out.push(Measurement {
            pcr: PCR_FILES,
            digest,
            description: file.display().to_string(),
        });
    }
    Ok(out)
}

fn command(tag: u16, code: u32, body: &[u8]) -> Vec<u8> {
    let mut out = tag.to_be_bytes().to_vec();
    out.extend_from_slice(&((HEADER + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// TPM2_PCR_Extend of the SHA-256 bank of `pcr`, authorized by an empty password.
pub fn pcr_extend_command(pcr: u32, digest: &[u8; 32]) -> Vec<u8> {
    let mut body = pcr.to_be_bytes().to_vec();
    // TPMS_AUTH_COMMAND: handle, nonce (empty), attributes, hmac (empty password).
    let auth: Vec<u8> = [
        &TPM_RS_PW.to_be_bytes()[..],
        &0u16.to_be_bytes(),
        &[0u8],
        &0u16.to_be_bytes(),
    ]
    .concat();
    body.extend_from_slice(&(auth.len() as u32).to_be_bytes());
    body.extend(auth);
    // TPML_DIGEST_VALUES with one TPMT_HA.
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
    body.extend_from_slice(digest);
    command(TPM_ST_SESSIONS, TPM_CC_PCR_EXTEND, &body)
}

/// TPM2_PCR_Read of the SHA-256 bank of `pcr` (0-23).
pub fn pcr_read_command(pcr: u32) -> Vec<u8> {
    let mut select = [0u8; 3];
    if let Some(byte) = select.get_mut((pcr / 8) as usize) {
        *byte = 1 << (pcr % 8);
    }
    let mut body = 1u32.to_be_bytes().to_vec();
    body.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
    body.push(select.len() as u8);
    body.extend_from_slice(&select);
    command(TPM_ST_NO_SESSIONS, TPM_CC_PCR_READ, &body)
}

/// The parameters of a response, or its response code as an error.
pub fn check_response(response: &[u8]) -> Result<&[u8], String> {
    let header = response
        .get(..HEADER)
        .ok_or_else(|| format!("TPM response of {} bytes", response.len()))?;
    let size = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
    let code = u32::from_be_bytes([header[6], header[7], header[8], header[9]]);
    if size != response.len() {
        return Err(format!(
            "TPM response says {size} bytes, {} came",
            response.len()
        ));
    }
    if code != 0 {
        return Err(format!("TPM error 0x{code:03x}"));
    }
    Ok(&response[HEADER..])
}

/// The SHA-256 value in a TPM2_PCR_Read response.
pub fn parse_pcr_read(response: &[u8]) -> Result<[u8; 32], String> {
    let params = check_response(response)?;
    // updateCounter (4), TPML_PCR_SELECTION (4 + 2 + 1 + sizeofSelect), TPML_DIGEST
    // (count 4, then TPM2B_DIGEST: size 2 + bytes).
    let select_size = *params.get(10).ok_or("short PCR_Read response")? as usize;
    let at = 11 + select_size;
    let count = params.get(at..at + 4).ok_or("short PCR_Read response")?;
    if count != [0, 0, 0, 1] {
        return Err("PCR_Read returned no digest (is the SHA-256 bank active?)".into());
    }
    let digest = params.get(at + 6..at + 38).ok_or("short PCR_Read digest")?;
    let mut out = [0u8; 32];
    out.copy_from_slice(digest);
    Ok(out)
}

/// Sends one command and reads its response (the device answers one read per command).
fn transact(device: &mut (impl Read + Write), cmd: &[u8]) -> Result<Vec<u8>, String> {
    device
        .write_all(cmd)
        .map_err(|e| format!("TPM write: {e}"))?;
    let mut response = vec![0u8; MAX_RESPONSE];
    let n = device
        .read(&mut response)
        .map_err(|e| format!("TPM read: {e}"))?;
    response.truncate(n);
    Ok(response)
}

/// Extends every measurement, in order, through `device`.
pub fn extend_all(
    device: &mut (impl Read + Write),
    measurements: &[Measurement],
) -> Result<(), String> {
    for m in measurements {
        let response = transact(device, &pcr_extend_command(m.pcr, &m.digest))?;
        check_response(&response).map_err(|e| format!("PCR {} ({}): {e}", m.pcr, m.description))?;
    }
    Ok(())
}

/// Reads the SHA-256 value of `pcr`.
pub fn read_pcr(device: &mut (impl Read + Write), pcr: u32) -> Result<[u8; 32], String> {
    parse_pcr_read(&transact(device, &pcr_read_command(pcr))?)
}

/// The event log's text: `PCR SHA256 DESCRIPTION` per line.
pub fn event_log(measurements: &[Measurement]) -> String {
    measurements
        .iter()
        .map(|m| {
            format!(
                "{} {} {}\n",
                m.pcr,
                crate::util::hash::hex(&m.digest),
                m.description
            )
        })
        .collect()
}

/// Measures a boot if the machine has a TPM: extends PCR 8/9 and writes the event log.
/// Returns None without a TPM, else what happened.
pub fn measure_boot(
    kernel: &Path,
    initrds: &[PathBuf],
    cmdline: &str,
) -> Option<Result<usize, String>> {
    let device = Path::new(DEVICE);
    if !device.exists() {
        return None;
    }
    Some((|| {
        let list = measurements(kernel, initrds, cmdline).map_err(|e| e.to_string())?;
        let mut tpm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(device)
            .map_err(|e| format!("{DEVICE}: {e}"))?;
        extend_all(&mut tpm, &list)?;
        std::fs::write(EVENT_LOG, event_log(&list)).map_err(|e| format!("{EVENT_LOG}: {e}"))?;
        Ok(list.len())
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TPM that keeps SHA-256 PCRs and answers PCR_Extend and PCR_Read.
    struct FakeTpm {
        pcrs: [[u8; 32]; 24],
        pending: Vec<u8>,
        commands: Vec<Vec<u8>>,
    }

    impl Write for FakeTpm {
        fn write(&mut self, cmd: &[u8]) -> io::Result<usize> {
            self.commands.push(cmd.to_vec());
            let code = u32::from_be_bytes([cmd[6], cmd[7], cmd[8], cmd[9]]);
            let pcr = u32::from_be_bytes([cmd[10], cmd[11], cmd[12], cmd[13]]) as usize;
            self.pending = match code {
                TPM_CC_PCR_EXTEND => {
                    let digest: [u8; 32] = cmd[cmd.len() - 32..].try_into().unwrap();
                    self.pcrs[pcr] = extended(&self.pcrs[pcr], &digest);
                    vec![
                        0x80, 0x02, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                    ]
                }
                _ => {
                    let selected = (0..24)
                        .find(|&p| cmd[17 + p / 8] & (1 << (p % 8)) != 0)
                        .unwrap();
                    let mut r = vec![0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
                    r.extend_from_slice(&[0, 0, 0, 7]);
                    r.extend_from_slice(&cmd[10..20]);
                    r.extend_from_slice(&[0, 0, 0, 1, 0, 32]);
                    r.extend_from_slice(&self.pcrs[selected]);
                    let len = (r.len() as u32).to_be_bytes();
                    r[2..6].copy_from_slice(&len);
                    r
                }
            };
            Ok(cmd.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for FakeTpm {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.pending.len();
            buf[..n].copy_from_slice(&self.pending);
            self.pending.clear();
            Ok(n)
        }
    }

    #[test]
    fn commands_have_the_specs_layout() {
        let cmd = pcr_extend_command(9, &[0xAB; 32]);
        let expected_head: [u8; 36] = [
            0x80, 0x02, 0, 0, 0, 65, 0, 0, 0x01, 0x82, // tag, size, TPM_CC_PCR_Extend
            0, 0, 0, 9, // pcrHandle
            0, 0, 0, 9, // authorizationSize
            0x40, 0, 0, 9, 0, 0, 0, 0, 0, // TPM_RS_PW, nonce, attributes, hmac
            0, 0, 0, 1, 0, 0x0B, // one digest, TPM_ALG_SHA256
            0xAB, 0xAB, 0xAB, // the digest begins
        ];
        assert_eq!(&cmd[..36], &expected_head[..]);
        assert_eq!(cmd.len(), 65);
        let read = pcr_read_command(8);
        assert_eq!(
            read,
            [0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7E, 0, 0, 0, 1, 0, 0x0B, 3, 0, 1, 0]
        );
        assert_eq!(
            check_response(&[0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01]).unwrap_err(),
            "TPM error 0x101"
        );
        assert!(check_response(&[0x80, 0x01, 0, 0, 0, 12, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn a_boot_extends_pcr_8_and_9_as_computed_from_the_files() {
        let dir = std::env::temp_dir().join(format!("kboot-tpm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("vmlinuz"), b"kernel bytes").unwrap();
        std::fs::write(dir.join("initrd"), b"initrd bytes").unwrap();
        let list = measurements(
            &dir.join("vmlinuz"),
            &[dir.join("initrd")],
            "root=/dev/vda2 ro",
        )
        .unwrap();
        let mut tpm = FakeTpm {
            pcrs: [[0; 32]; 24],
            pending: Vec::new(),
            commands: Vec::new(),
        };
        extend_all(&mut tpm, &list).unwrap();
        assert_eq!(tpm.commands.len(), 3);
        // Expected: PCRs start at zero; SHA-256 of the bytes, chained by extend.
        let zero = [0u8; 32];
        let pcr8 = extended(&zero, &digest_of(b"root=/dev/vda2 ro"));
        let pcr9 = extended(
            &extended(&zero, &digest_of(b"kernel bytes")),
            &digest_of(b"initrd bytes"),
        );
        assert_eq!(read_pcr(&mut tpm, 8).unwrap(), pcr8);
        assert_eq!(read_pcr(&mut tpm, 9).unwrap(), pcr9);
        // The SHA-256 of "abc" (FIPS 180-2's example) checks digest_of itself.
        assert_eq!(
            crate::util::hash::hex(&digest_of(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let log = event_log(&list);
        assert!(log.starts_with("8 "), "{log}");
        assert!(log.contains("kernel_cmdline: root=/dev/vda2 ro\n"));
        assert_eq!(log.lines().count(), 3);
        assert!(measurements(&dir.join("missing"), &[], "").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
