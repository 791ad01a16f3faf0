//! sync: flush file system buffers.
use std::ffi::OsString;

pub fn main(_args: &[OsString]) -> i32 {
    rustix::fs::sync();
    0
}
