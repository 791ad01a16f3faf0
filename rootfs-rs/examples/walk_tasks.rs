//! walk_tasks DUMP: the API example of docs/triage-api.md — every process's pid and comm.

use rootfs_rs::dump::{list_for_each_entry, Dump, DumpError};
use std::path::Path;

fn walk(path: &Path) -> Result<(), DumpError> {
    let dump = Dump::open(path)?;
    let init = dump.var("init_task")?;
    for task in list_for_each_entry(&init.field("tasks")?, "struct task_struct", "tasks")? {
        let task = task?;
        println!(
            "{:>6} {}",
            task.field("pid")?.as_i64()?,
            task.field("comm")?.string()?
        );
    }
    Ok(())
}

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: walk_tasks DUMP");
        std::process::exit(2);
    };
    if let Err(e) = walk(Path::new(&path)) {
        eprintln!("walk_tasks: {e}");
        std::process::exit(1);
    }
}
