//! "SUMMARY OF PROBLEMS FOUND": the report's last block, as crashinfo (PyKdump) and
//! corelens end theirs. Every finding (the panic, each warning) ranked by how much it
//! explains or threatens, each pointing at the section that shows the evidence, so a
//! support engineer reads the first line first.

use std::fmt::Write;

use super::section::Section;
use super::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The machine died of it.
    Critical,
    /// Kernel code failed (oops, BUG, hard lockup) or the dump cannot be trusted whole.
    High,
    /// Work stopped or was killed (hung tasks, lockups, OOM kills, RT hogs, low memory).
    Medium,
    /// Worth a look (warnings, fragmentation, load, a section left partial).
    Low,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub severity: Severity,
    /// Where the evidence is.
    pub section: Section,
    pub message: String,
}

/// The severity and evidence section of a warning check (docs/triage-json.md lists them).
fn classify(check: &str) -> (Severity, Section) {
    match check {
        "dump" => (Severity::High, Section::Sys),
        "log:oops" | "log:bug" | "log:hard-lockup" => (Severity::High, Section::Log),
        "log:soft-lockup" | "log:rcu-stall" | "log:hung-task" | "log:oom-kill" => {
            (Severity::Medium, Section::Log)
        }
        "hung-task" => (Severity::Medium, Section::Hung),
        "rt-task" => (Severity::Medium, Section::Runq),
        "memory" => (Severity::Medium, Section::Mem),
        "fragmentation" => (Severity::Low, Section::Mem),
        "syslog" => (Severity::Low, Section::Ps),
        "load" => (Severity::Low, Section::Sys),
        "log:warning" => (Severity::Low, Section::Log),
        other => match other.strip_prefix("section:").and_then(Section::from_name) {
            Some(section) => (Severity::Low, section),
            None => (Severity::Low, Section::Warnings),
        },
    }
}

/// Every finding of the report, most severe first (findings of one severity keep the
/// report's order).
pub fn rank(r: &Report) -> Vec<Problem> {
    let mut found = Vec::new();
    if let Some(message) = r.panic.as_ref().and_then(|p| p.message.clone()) {
        found.push(Problem {
            severity: Severity::Critical,
            section: Section::Panic,
            message,
        });
    }
    for w in &r.warnings {
        let (severity, section) = classify(&w.check);
        found.push(Problem {
            severity,
            section,
            message: w.message.clone(),
        });
    }
    found.sort_by_key(|p| p.severity);
    found
}

/// The block's text: "1. critical  Kernel panic - … (see PANIC)".
pub fn render(problems: &[Problem], out: &mut String) {
    let _ = writeln!(out, "== SUMMARY OF PROBLEMS FOUND ==");
    if problems.is_empty() {
        let _ = writeln!(out, "(none)");
    }
    for (n, p) in problems.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>2}. {:<8}  {} (see {})",
            n + 1,
            p.severity.name(),
            p.message,
            p.section.name()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_check_has_a_place_and_severities_order() {
        for check in [
            "dump",
            "memory",
            "fragmentation",
            "rt-task",
            "hung-task",
            "syslog",
            "load",
            "log:oops",
            "log:bug",
            "log:warning",
            "log:oom-kill",
            "log:soft-lockup",
            "log:hard-lockup",
            "log:rcu-stall",
            "log:hung-task",
        ] {
            assert_ne!(classify(check).1, Section::Warnings, "{check}");
        }
        assert_eq!(classify("section:net"), (Severity::Low, Section::Net));
        assert_eq!(classify("something-new").1, Section::Warnings);
        assert!(Severity::Critical < Severity::High && Severity::Medium < Severity::Low);
    }

    #[test]
    fn the_block_numbers_and_points_at_sections() {
        let problems = vec![
            Problem {
                severity: Severity::Critical,
                section: Section::Panic,
                message: "Kernel panic - not syncing: sysrq triggered crash".into(),
            },
            Problem {
                severity: Severity::Medium,
                section: Section::Runq,
                message: "cpu 1: FIFO task 97 (kb-spin) has been running for 2.9 s".into(),
            },
        ];
        let mut out = String::new();
        render(&problems, &mut out);
        assert_eq!(
            out,
            "== SUMMARY OF PROBLEMS FOUND ==\n \
             1. critical  Kernel panic - not syncing: sysrq triggered crash (see panic)\n \
             2. medium    cpu 1: FIFO task 97 (kb-spin) has been running for 2.9 s (see runq)\n"
        );
        let mut none = String::new();
        render(&[], &mut none);
        assert_eq!(none, "== SUMMARY OF PROBLEMS FOUND ==\n(none)\n");
    }
}
