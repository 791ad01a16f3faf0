//! Crash-dump triage engine: reads an x86_64 vmcore without debuginfo, using kallsyms and BTF
//! found in the dump itself. Layers: formats → vmcoreinfo → x86_64 translation → kallsyms → BTF
//! → typed values → helpers.

pub mod btf;
pub mod bytes;
pub mod cache;
pub mod cli;
pub mod elf;
pub mod error;
pub mod flattened;
pub mod fuzz;
pub mod helpers;
pub mod json;
pub mod kallsyms;
pub mod kdump;
pub mod kernel;
pub mod lists;
pub mod notes;
pub mod open;
pub mod report;
pub mod save;
pub mod source;
pub mod tasks;
pub mod types;
pub mod value;
pub mod vmcoreinfo;
pub mod x86_64;

pub use error::DumpError;
pub use kernel::Dump;
pub use lists::{hlist_for_each_entry, hlist_nulls_for_each_entry, list_for_each_entry};
pub use source::{PhysMemory, ReadAt};
pub use value::Value;
pub use x86_64::KernelMemory;
