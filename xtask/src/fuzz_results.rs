//! The fuzz campaign's figures: what one libFuzzer run reported (its final stats and last
//! status line), and the per-target table summed over runs, kept in
//! target/fuzz/campaign.tsv and shown as target/fuzz/campaign.md.

use std::path::{Path, PathBuf};

/// One libFuzzer run of one target.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RunResult {
    pub runs: u64,
    pub seconds: f64,
    pub exec_per_sec: u64,
    /// Coverage at the end: edges (`cov:`) and features (`ft:`), and the corpus size.
    pub cov: u64,
    pub ft: u64,
    pub corpus: u64,
    pub artifacts: Vec<PathBuf>,
}

/// `key: value` → value, from a line like `#4096 pulse cov: 12 ft: 40 corp: 3/1Kb …`.
fn field(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let number: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    number.parse().ok()
}

impl RunResult {
    pub fn from_log(log: &str, seconds: f64, artifacts: Vec<PathBuf>) -> RunResult {
        let stat = |name: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .and_then(|v| v.trim().parse().ok())
        };
        let status = log
            .lines()
            .rfind(|l| l.starts_with('#') && l.contains("cov:"))
            .unwrap_or("");
        // Without final stats (a crash ends the run) the last status line counts.
        let runs = stat("number_of_executed_units")
            .or_else(|| field(status, "#"))
            .unwrap_or(0);
        RunResult {
            runs,
            seconds,
            exec_per_sec: stat("average_exec_per_sec")
                .unwrap_or_else(|| (runs as f64 / seconds.max(0.001)) as u64),
            cov: field(status, "cov:").unwrap_or(0),
            ft: field(status, "ft:").unwrap_or(0),
            corpus: field(status, "corp:").unwrap_or(0),
            artifacts,
        }
    }
}

/// One row of the table: totals over every run of the target.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Row {
    pub target: String,
    pub runs: u64,
    pub seconds: f64,
    pub exec_per_sec: u64,
    pub cov: u64,
    pub ft: u64,
    pub corpus: u64,
    pub crashes: u64,
}

#[derive(Debug, Default)]
pub struct Campaign {
    pub rows: Vec<Row>,
}

const HEADER: &str = "target\truns\tseconds\texec_per_sec\tcov\tft\tcorpus\tcrashes";

impl Campaign {
    /// The table so far; an absent file is an empty campaign.
    pub fn load(path: &Path) -> crate::Result<Campaign> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(Campaign::default());
        };
        let rows = text
            .lines()
            .skip(1)
            .filter_map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
                Some(Row {
                    target: f.first()?.to_string(),
                    runs: n(1)?,
                    seconds: f.get(2)?.parse().ok()?,
                    exec_per_sec: n(3)?,
                    cov: n(4)?,
                    ft: n(5)?,
                    corpus: n(6)?,
                    crashes: n(7)?,
                })
            })
            .collect();
        Ok(Campaign { rows })
    }

    /// Adds a run: executions, time and crashes add up; the coverage is the latest.
    pub fn record(&mut self, target: &str, run: &RunResult) {
        let index = match self.rows.iter().position(|r| r.target == target) {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    target: target.to_string(),
                    ..Row::default()
                });
                self.rows.len() - 1
            }
        };
        let row = &mut self.rows[index];
        row.runs += run.runs;
        row.seconds += run.seconds;
        row.exec_per_sec = (row.runs as f64 / row.seconds.max(0.001)) as u64;
        row.cov = row.cov.max(run.cov);
        row.ft = row.ft.max(run.ft);
        if run.corpus > 0 {
            row.corpus = run.corpus;
        }
        row.crashes += run.artifacts.len() as u64;
    }

    pub fn save(&self, dir: &Path) -> crate::Result<()> {
        let mut tsv = format!("{HEADER}\n");
        for r in &self.rows {
            tsv.push_str(&format!(
                "{}\t{}\t{:.1}\t{}\t{}\t{}\t{}\t{}\n",
                r.target, r.runs, r.seconds, r.exec_per_sec, r.cov, r.ft, r.corpus, r.crashes
            ));
        }
        std::fs::write(dir.join("campaign.tsv"), tsv)?;
        std::fs::write(dir.join("campaign.md"), self.markdown())?;
        Ok(())
    }

    pub fn markdown(&self) -> String {
        let mut md = String::from(
            "| target | executions | run time | exec/s | cov | ft | corpus | crash inputs |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.rows {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.target,
                r.runs,
                minutes(r.seconds),
                r.exec_per_sec,
                r.cov,
                r.ft,
                r.corpus,
                r.crashes
            ));
        }
        md
    }

    pub fn print(&self) {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.target.clone(),
                    r.runs.to_string(),
                    minutes(r.seconds),
                    r.exec_per_sec.to_string(),
                    format!("{}/{}", r.cov, r.ft),
                    r.crashes.to_string(),
                ]
            })
            .collect();
        crate::report::print_table(
            &[
                "target",
                "executions",
                "time",
                "exec/s",
                "cov/ft",
                "crash inputs",
            ],
            &rows,
        );
    }
}

fn minutes(seconds: f64) -> String {
    format!("{:.1} min", seconds / 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
        #1048576\tpulse  cov: 812 ft: 2301 corp: 190/20Kb lim: 4096 exec/s: 34952 rss: 61Mb\n\
        #2000000\tDONE   cov: 815 ft: 2310 corp: 192/21Kb lim: 4096 exec/s: 33333 rss: 61Mb\n\
        Done 2000000 runs in 60 second(s)\nstat::number_of_executed_units: 2000000\n\
        stat::average_exec_per_sec:     33333\nstat::new_units_added:          191\n";

    #[test]
    fn a_finished_run_reads_its_final_stats() {
        let r = RunResult::from_log(LOG, 60.2, Vec::new());
        assert_eq!(
            (r.runs, r.exec_per_sec, r.cov, r.ft, r.corpus),
            (2_000_000, 33333, 815, 2310, 192)
        );
    }

    #[test]
    fn a_crashed_run_reads_its_last_status_line() {
        let log = "#4096\tpulse  cov: 50 ft: 60 corp: 9/1Kb exec/s: 2048 rss: 40Mb\n\
                   thread '<unnamed>' panicked at src/x.rs:1:1\n==1== ERROR: libFuzzer: deadly signal\n";
        let r = RunResult::from_log(log, 2.0, vec![PathBuf::from("crash-1")]);
        assert_eq!((r.runs, r.exec_per_sec, r.cov, r.ft), (4096, 2048, 50, 60));
    }

    #[test]
    fn runs_add_up_and_the_table_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Campaign::default();
        let run = RunResult::from_log(LOG, 60.0, vec![PathBuf::from("crash-1")]);
        c.record("grub", &run);
        c.record("grub", &run);
        c.save(dir.path()).expect("save");
        let back = Campaign::load(&dir.path().join("campaign.tsv")).expect("load");
        assert_eq!(back.rows.len(), 1);
        let row = &back.rows[0];
        assert_eq!((row.runs, row.seconds, row.crashes), (4_000_000, 120.0, 2));
        assert!(back
            .markdown()
            .contains("| grub | 4000000 | 2.0 min | 33333 | 815 | 2310 |"));
    }
}
