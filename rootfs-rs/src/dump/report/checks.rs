//! The capture mode's check scripts (/etc/kboot/checks/*.py) in the report: each one's
//! output, and why it stopped if it did not finish; shown after the built-in sections and
//! under `checks` in triage.json.

use super::json::Json;
use super::Report;
use std::fmt::Write;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOutput {
    /// The script's file name.
    pub name: String,
    pub output: String,
    /// Why it stopped early (exception, limit), None when it finished.
    pub error: Option<String>,
}

pub fn render(r: &Report, out: &mut String) {
    for c in &r.checks {
        let _ = writeln!(out, "== CHECK {} ==", c.name);
        out.push_str(&c.output);
        if !c.output.is_empty() && !c.output.ends_with('\n') {
            out.push('\n');
        }
        if let Some(e) = &c.error {
            let _ = writeln!(out, "CHECK FAILED: {e}");
        }
        out.push('\n');
    }
}

pub fn json(r: &Report) -> Json {
    Json::Arr(
        r.checks
            .iter()
            .map(|c| {
                Json::Obj(vec![
                    ("name".into(), c.name.as_str().into()),
                    ("output".into(), c.output.as_str().into()),
                    ("error".into(), c.error.clone().into()),
                ])
            })
            .collect(),
    )
}
