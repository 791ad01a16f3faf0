//! `cargo xtask bench` — filled in below.
pub fn run(_ws: &crate::Workspace, _args: &[String]) -> crate::Result<()> {
    Err("bench: not yet".into())
}
