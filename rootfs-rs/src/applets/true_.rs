//! true and false: exit with status 0 or 1.
use std::ffi::OsString;

pub fn main_true(_args: &[OsString]) -> i32 {
    0
}

pub fn main_false(_args: &[OsString]) -> i32 {
    1
}
