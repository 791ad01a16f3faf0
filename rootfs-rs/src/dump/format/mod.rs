//! The dump file itself, below any kernel knowledge: positional reads (`source`) and a page
//! cache (`cache`), bounds-checked fields (`bytes`), the container formats — ELF core
//! (`elf`), kdump-compressed (`kdump`), flattened (`flattened`), detected by `open` — and
//! what they carry: per-CPU registers and VMCOREINFO notes (`notes`, `vmcoreinfo`).

pub mod bytes;
pub mod cache;
pub mod elf;
pub mod flattened;
pub mod kdump;
pub mod notes;
pub mod open;
pub mod source;
pub mod vmcoreinfo;
