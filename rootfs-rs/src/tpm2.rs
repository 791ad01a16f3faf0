//! TPM 2.0 commands kboot encodes itself (TPM 2.0 Library, Part 3): TPM2_GetCapability
//! for the active PCR banks, TPM2_PCR_Read, and TPM2_PCR_Extend with an empty password
//! session. They go through the kernel's resource manager, /dev/tpmrm0 (one write of a
//! command, one response to read), or any byte stream that carries raw commands, such as
//! swtpm's TCP server port in the tests.

use std::io::{Read, Write};

/// The kernel's TPM resource manager.
pub const DEVICE: &str = "/dev/tpmrm0";
/// PCRs of a PC Client TPM.
pub const PCR_COUNT: u32 = 24;

const TPM_ST_NO_SESSIONS: u16 = 0x8001;
const TPM_ST_SESSIONS: u16 = 0x8002;
const TPM_CC_PCR_EXTEND: u32 = 0x0000_0182;
const TPM_CC_GET_CAPABILITY: u32 = 0x0000_017A;
const TPM_CC_PCR_READ: u32 = 0x0000_017E;
const TPM_CAP_PCRS: u32 = 0x0000_0005;
/// The password authorization session, with an empty password (PCRs 0-15 need none).
const TPM_RS_PW: u32 = 0x4000_0009;
const HEADER: usize = 10;
/// Largest response accepted (a TPM's buffer is 4 KiB; ours are under 200 bytes).
const MAX_RESPONSE: usize = 4096;

/// A PCR bank's hash algorithm (TPM_ALG_ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bank {
    Sha1,
    Sha256,
    /// An algorithm kboot cannot hash (SHA-384, SHA-512, SM3…): read, never extended.
    Other(u16),
}

impl Bank {
    pub fn from_id(id: u16) -> Bank {
        match id {
            0x0004 => Bank::Sha1,
            0x000B => Bank::Sha256,
            other => Bank::Other(other),
        }
    }

    pub fn id(self) -> u16 {
        match self {
            Bank::Sha1 => 0x0004,
            Bank::Sha256 => 0x000B,
            Bank::Other(id) => id,
        }
    }

    /// The name used in sysfs (`pcr-sha256`), the event log and `tpm pcrs`.
    pub fn name(self) -> String {
        match self {
            Bank::Sha1 => "sha1".into(),
            Bank::Sha256 => "sha256".into(),
            Bank::Other(0x000C) => "sha384".into(),
            Bank::Other(0x000D) => "sha512".into(),
            Bank::Other(0x0012) => "sm3_256".into(),
            Bank::Other(id) => format!("alg-0x{id:04x}"),
        }
    }

    /// The digest of `bytes` in this bank's algorithm; None when kboot has no such hash.
    pub fn digest(self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut hash = self.hasher()?;
        hash.update(bytes);
        Some(hash.finish())
    }

    /// A streaming hash of this bank's algorithm; None when kboot has no such hash.
    pub fn hasher(self) -> Option<Box<dyn crate::util::hash::Digest>> {
        match self {
            Bank::Sha1 => Some(crate::util::hash::sha1()),
            Bank::Sha256 => Some(crate::util::hash::sha256()),
            Bank::Other(_) => None,
        }
    }
}

/// A PCR's value after extending `old` by `digest`: H(old || digest).
pub fn extended(bank: Bank, old: &[u8], digest: &[u8]) -> Option<Vec<u8>> {
    bank.digest(&[old, digest].concat())
}

fn command(tag: u16, code: u32, body: &[u8]) -> Vec<u8> {
    let mut out = tag.to_be_bytes().to_vec();
    out.extend_from_slice(&((HEADER + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// TPM2_PCR_Extend of `pcr` with one digest per bank, authorized by an empty password.
pub fn pcr_extend_command(pcr: u32, digests: &[(Bank, Vec<u8>)]) -> Vec<u8> {
    let mut body = pcr.to_be_bytes().to_vec();
    // TPMS_AUTH_COMMAND: session handle, nonce (empty), attributes, hmac (empty password).
    let auth: Vec<u8> = [
        &TPM_RS_PW.to_be_bytes()[..],
        &0u16.to_be_bytes(),
        &[0u8],
        &0u16.to_be_bytes(),
    ]
    .concat();
    body.extend_from_slice(&(auth.len() as u32).to_be_bytes());
    body.extend(auth);
    // TPML_DIGEST_VALUES: a count, then TPMT_HA (algorithm, digest) each.
    body.extend_from_slice(&(digests.len() as u32).to_be_bytes());
    for (bank, digest) in digests {
        body.extend_from_slice(&bank.id().to_be_bytes());
        body.extend_from_slice(digest);
    }
    command(TPM_ST_SESSIONS, TPM_CC_PCR_EXTEND, &body)
}

/// TPM2_PCR_Read of one PCR (0-23) of one bank.
pub fn pcr_read_command(bank: Bank, pcr: u32) -> Vec<u8> {
    let mut select = [0u8; 3];
    if let Some(byte) = select.get_mut((pcr / 8) as usize) {
        *byte = 1 << (pcr % 8);
    }
    // TPML_PCR_SELECTION: one TPMS_PCR_SELECTION (hash, sizeofSelect, pcrSelect).
    let mut body = 1u32.to_be_bytes().to_vec();
    body.extend_from_slice(&bank.id().to_be_bytes());
    body.push(select.len() as u8);
    body.extend_from_slice(&select);
    command(TPM_ST_NO_SESSIONS, TPM_CC_PCR_READ, &body)
}

/// TPM2_GetCapability(TPM_CAP_PCRS): the current PCR allocation.
pub fn get_pcr_banks_command() -> Vec<u8> {
    let body = [
        TPM_CAP_PCRS.to_be_bytes(),
        0u32.to_be_bytes(), // property: unused for TPM_CAP_PCRS
        1u32.to_be_bytes(), // propertyCount
    ]
    .concat();
    command(TPM_ST_NO_SESSIONS, TPM_CC_GET_CAPABILITY, &body)
}

fn be_u32(bytes: &[u8], at: usize, what: &str) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("short TPM response ({what})"))
}

fn be_u16(bytes: &[u8], at: usize, what: &str) -> Result<u16, String> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("short TPM response ({what})"))
}

/// The parameters of a response, or its response code as an error.
pub fn check_response(response: &[u8]) -> Result<&[u8], String> {
    if response.len() < HEADER {
        return Err(format!("TPM response of {} bytes", response.len()));
    }
    let size = be_u32(response, 2, "size")? as usize;
    let code = be_u32(response, 6, "code")?;
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

/// The digest in a TPM2_PCR_Read response; None when the bank returned none.
pub fn parse_pcr_read(response: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let params = check_response(response)?;
    // pcrUpdateCounter, TPML_PCR_SELECTION (count, then hash, size, bitmap per entry),
    // TPML_DIGEST (count, then TPM2B_DIGEST: size and bytes).
    let selections = be_u32(params, 4, "selection count")?;
    let mut at = 8;
    for _ in 0..selections.min(16) {
        let size = *params.get(at + 2).ok_or("short TPM response (selection)")? as usize;
        at += 3 + size;
    }
    if be_u32(params, at, "digest count")? == 0 {
        return Ok(None);
    }
    let size = be_u16(params, at + 4, "digest size")? as usize;
    let digest = params
        .get(at + 6..at + 6 + size)
        .ok_or("short TPM response (digest)")?;
    Ok(Some(digest.to_vec()))
}

/// The banks with at least one PCR allocated, from a TPM2_GetCapability(TPM_CAP_PCRS)
/// response.
pub fn parse_pcr_banks(response: &[u8]) -> Result<Vec<Bank>, String> {
    let params = check_response(response)?;
    // moreData, capability, TPML_PCR_SELECTION.
    if be_u32(params, 1, "capability")? != TPM_CAP_PCRS {
        return Err("GetCapability answered another capability".into());
    }
    let count = be_u32(params, 5, "bank count")?;
    let mut at = 9;
    let mut banks = Vec::new();
    for _ in 0..count.min(16) {
        let id = be_u16(params, at, "bank")?;
        let size = *params.get(at + 2).ok_or("short TPM response (bank)")? as usize;
        let select = params
            .get(at + 3..at + 3 + size)
            .ok_or("short TPM response (bank bitmap)")?;
        if select.iter().any(|&b| b != 0) {
            banks.push(Bank::from_id(id));
        }
        at += 3 + size;
    }
    Ok(banks)
}

/// Sends one command and reads its whole response (a device answers in one read, a
/// socket may need several).
pub fn transact(tpm: &mut (impl Read + Write), cmd: &[u8]) -> Result<Vec<u8>, String> {
    tpm.write_all(cmd).map_err(|e| format!("TPM write: {e}"))?;
    let mut response = vec![0u8; MAX_RESPONSE];
    let mut got = 0;
    loop {
        let n = tpm
            .read(&mut response[got..])
            .map_err(|e| format!("TPM read: {e}"))?;
        got += n;
        let wanted = if got >= HEADER {
            be_u32(&response, 2, "size")? as usize
        } else {
            HEADER
        };
        if n == 0 || got >= wanted || got == MAX_RESPONSE {
            break;
        }
    }
    response.truncate(got);
    Ok(response)
}

/// The active PCR banks.
pub fn pcr_banks(tpm: &mut (impl Read + Write)) -> Result<Vec<Bank>, String> {
    parse_pcr_banks(&transact(tpm, &get_pcr_banks_command())?)
        .map_err(|e| format!("GetCapability(PCRS): {e}"))
}

/// Reads `pcr` of `bank`.
pub fn read_pcr(tpm: &mut (impl Read + Write), bank: Bank, pcr: u32) -> Result<Vec<u8>, String> {
    parse_pcr_read(&transact(tpm, &pcr_read_command(bank, pcr))?)
        .map_err(|e| format!("PCR_Read({} {pcr}): {e}", bank.name()))?
        .ok_or_else(|| format!("PCR {pcr} is not allocated in the {} bank", bank.name()))
}

/// Extends `pcr` with one digest per bank.
pub fn extend(
    tpm: &mut (impl Read + Write),
    pcr: u32,
    digests: &[(Bank, Vec<u8>)],
) -> Result<(), String> {
    check_response(&transact(tpm, &pcr_extend_command(pcr, digests))?)
        .map(|_| ())
        .map_err(|e| format!("PCR_Extend({pcr}): {e}"))
}

/// Opens the resource manager; Ok(None) when the machine has no TPM 2.0.
pub fn open() -> Result<Option<std::fs::File>, String> {
    if !std::path::Path::new(DEVICE).exists() {
        return Ok(None);
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(DEVICE)
        .map(Some)
        .map_err(|e| format!("{DEVICE}: {e}"))
}
