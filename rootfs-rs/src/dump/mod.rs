//! Crash-dump triage engine: reads an x86_64 vmcore without debuginfo, using kallsyms and BTF
//! found in the dump itself. Layers, as in drgn, each using only those before it:
//! `format` (the file: ELF, kdump-compressed, flattened; notes, VMCOREINFO; physical memory)
//! → `kernel` (`Dump`: x86_64 translation, kallsyms, BTF, typed values, lists) → `helpers`
//! (what crash(8) shows: log, ps, mem, runq, net…) → `report` (triage sections, text and
//! JSON, the `triage` applet). `save` writes filtered dumps from the first two layers;
//! `unwind` walks kernel stacks (ORC, frame pointers) for `helpers::bt`.

pub mod error;
pub mod format;
pub mod fuzz;
pub mod helpers;
pub mod kernel;
pub mod report;
pub mod save;
pub mod script;
pub mod unwind;

pub use error::DumpError;
pub use format::source::{PhysMemory, ReadAt};
pub use kernel::lists::{hlist_for_each_entry, hlist_nulls_for_each_entry, list_for_each_entry};
pub use kernel::value::Value;
pub use kernel::x86_64::KernelMemory;
pub use kernel::Dump;
