//! The report's sections as a type: `--section` names are parsed into it once, and the code
//! that computes, renders and warns about a section names it by variant, so a misspelt
//! section is a compile error instead of a section silently left out.

/// One section of the triage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Sys,
    Panic,
    Log,
    Ps,
    Mem,
    Runq,
    Net,
    Mod,
    Mount,
    Slab,
    Bt,
    Hung,
    Warnings,
}

impl Section {
    /// Every section, in report order (what `--section` accepts).
    pub const ALL: [Section; 13] = [
        Section::Sys,
        Section::Panic,
        Section::Log,
        Section::Ps,
        Section::Mem,
        Section::Runq,
        Section::Net,
        Section::Mod,
        Section::Mount,
        Section::Slab,
        Section::Bt,
        Section::Hung,
        Section::Warnings,
    ];

    /// The name `--section` takes and warnings use ("section:NAME").
    pub fn name(self) -> &'static str {
        match self {
            Section::Sys => "sys",
            Section::Panic => "panic",
            Section::Log => "log",
            Section::Ps => "ps",
            Section::Mem => "mem",
            Section::Runq => "runq",
            Section::Net => "net",
            Section::Mod => "mod",
            Section::Mount => "mount",
            Section::Slab => "slab",
            Section::Bt => "bt",
            Section::Hung => "hung",
            Section::Warnings => "warnings",
        }
    }

    pub fn from_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }
}
