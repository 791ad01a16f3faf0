//! First triage helpers: the task list (pid, comm, state), kernel release and MemTotal.

use crate::dump::error::DumpError;
use crate::dump::kernel::lists::list_for_each_entry;
use crate::dump::kernel::value::Value;
use crate::dump::kernel::Dump;

/// One task (thread-group leader) on init_task.tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub addr: u64,
    pub pid: i32,
    pub tgid: i32,
    pub comm: String,
    /// ps-style state letter: R S D T t X Z P I.
    pub state: char,
}

/// Letters in order of the task state bits reported by /proc (fs/proc/array.c).
const STATE_LETTERS: &[u8] = b"RSDTtXZPI";
const TASK_REPORT: u64 = 0x7f;
const TASK_IDLE: u64 = 0x402;
const TASK_REPORT_IDLE: u64 = 0x80;

/// The /proc state letter for the raw `__state` and `exit_state` values.
pub fn state_letter(state: u64, exit_state: u64) -> char {
    let reported = if state == TASK_IDLE {
        TASK_REPORT_IDLE
    } else {
        (state | exit_state) & TASK_REPORT
    };
    let index = (64 - reported.leading_zeros()) as usize; // fls(): 0 for running
    STATE_LETTERS.get(index).map_or('?', |&b| b as char)
}

/// pid, comm and state of one `struct task_struct` value.
pub fn task_info(task: &Value<'_>) -> Result<TaskInfo, DumpError> {
    let state = task.field_any(&["__state", "state"])?.as_u64()?;
    let exit_state = task.field("exit_state")?.as_u64()?;
    Ok(TaskInfo {
        addr: task.address(),
        pid: task.field("pid")?.as_i64()? as i32,
        tgid: task.field("tgid")?.as_i64()? as i32,
        comm: task.field("comm")?.string()?,
        state: state_letter(state, exit_state),
    })
}

/// Every task on the init_task.tasks list, init_task (the idle task, pid 0) first.
pub fn tasks(dump: &Dump) -> Result<Vec<TaskInfo>, DumpError> {
    let init = dump.var("init_task")?;
    let mut out = vec![task_info(&init)?];
    for task in list_for_each_entry(&init.field("tasks")?, "struct task_struct", "tasks")? {
        out.push(task_info(&task?)?);
    }
    Ok(out)
}

/// init_uts_ns.name.release (what `uname -r` printed).
pub fn release(dump: &Dump) -> Result<String, DumpError> {
    dump.var("init_uts_ns")?.field("name.release")?.string()
}

/// MemTotal of /proc/meminfo in kB (totalram_pages × page size).
pub fn mem_total_kb(dump: &Dump) -> Result<u64, DumpError> {
    let pages = dump.var("_totalram_pages")?.as_u64()?;
    Ok(pages * dump.page_size() / 1024)
}
