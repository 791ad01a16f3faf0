//! Kernel linked lists: list_for_each_entry and hlist_for_each_entry as iterators, guarded by a
//! maximum count and Brent cycle detection so a corrupt list never hangs the triage.

use crate::dump::error::DumpError;
use crate::dump::kernel::btf::TypeId;
use crate::dump::kernel::types::Ty;
use crate::dump::kernel::value::Value;
use crate::dump::kernel::x86_64::KernelMemory;
use crate::dump::kernel::{types, Dump};

/// Default upper bound on entries walked in one list.
pub const DEFAULT_MAX_ENTRIES: usize = 1 << 20;

/// Iterator over the entries of a `struct list_head` or `struct hlist_head` list.
pub struct ListIter<'d> {
    dump: &'d Dump,
    entry_ty: TypeId,
    member_off: u64,
    /// Where the walk ends: the head for circular lists, 0 for hlists.
    stop: u64,
    /// hlist_nulls: any odd pointer ends the list.
    nulls: bool,
    next: u64,
    count: usize,
    max: usize,
    // Brent's cycle detection.
    tortoise: u64,
    power: usize,
    steps: usize,
    done: bool,
}

impl<'d> ListIter<'d> {
    fn new(
        dump: &'d Dump,
        entry_type: &str,
        member: &str,
        first: u64,
        stop: u64,
    ) -> Result<Self, DumpError> {
        let Ty::Btf(entry_ty) = types::parse_type(&dump.btf, entry_type)? else {
            return Err(DumpError::Type(format!(
                "list entries must be a struct type, not {entry_type}"
            )));
        };
        let member_off = types::offset_of(&dump.btf, entry_ty, member)?;
        Ok(ListIter {
            dump,
            entry_ty,
            member_off,
            stop,
            nulls: false,
            next: first,
            count: 0,
            max: DEFAULT_MAX_ENTRIES,
            tortoise: stop,
            power: 1,
            steps: 0,
            done: false,
        })
    }

    /// Changes the maximum number of entries (an error is yielded past it).
    pub fn limit(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    fn fail(&mut self, e: DumpError) -> Option<Result<Value<'d>, DumpError>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<'d> Iterator for ListIter<'d> {
    type Item = Result<Value<'d>, DumpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next == self.stop || (self.nulls && self.next & 1 == 1) {
            return None;
        }
        let node = self.next;
        if node == 0 {
            return self.fail(DumpError::Loop(
                "NULL pointer inside a circular list".into(),
            ));
        }
        if self.count >= self.max {
            return self.fail(DumpError::Loop(format!("more than {} entries", self.max)));
        }
        if node == self.tortoise {
            return self.fail(DumpError::Loop(format!(
                "cycle at {node:#x} not passing through the head"
            )));
        }
        self.steps += 1;
        if self.steps == self.power {
            self.tortoise = node;
            self.power *= 2;
            self.steps = 0;
        }
        self.count += 1;
        match self.dump.read_u64(node) {
            Ok(n) => self.next = n,
            Err(e) => return self.fail(e),
        }
        let entry = node.wrapping_sub(self.member_off);
        Some(Ok(self.dump.typed(entry, Ty::Btf(self.entry_ty))))
    }
}

fn list_head_addr(head: &Value<'_>) -> Result<u64, DumpError> {
    match head.kind()? {
        crate::dump::kernel::btf::Kind::Ptr => Ok(head.deref()?.address()),
        _ => Ok(head.address()),
    }
}

/// Entries of type `entry_type` linked through their `member` (a struct list_head) on the list
/// headed by `head` (a struct list_head value, or a pointer to one).
pub fn list_for_each_entry<'d>(
    head: &Value<'d>,
    entry_type: &str,
    member: &str,
) -> Result<ListIter<'d>, DumpError> {
    let dump = head.dump();
    let h = list_head_addr(head)?;
    let first = dump.read_u64(h)?;
    ListIter::new(dump, entry_type, member, first, h)
}

/// Entries on an hlist headed by `head` (struct hlist_head), linked through `member`
/// (a struct hlist_node); ends at NULL.
pub fn hlist_for_each_entry<'d>(
    head: &Value<'d>,
    entry_type: &str,
    member: &str,
) -> Result<ListIter<'d>, DumpError> {
    let dump = head.dump();
    let first = dump.read_u64(list_head_addr(head)?)?;
    ListIter::new(dump, entry_type, member, first, 0)
}

/// Entries on an hlist_nulls headed by `head` (struct hlist_nulls_head), linked through
/// `member` (a struct hlist_nulls_node); ends at the first odd "nulls" marker.
pub fn hlist_nulls_for_each_entry<'d>(
    head: &Value<'d>,
    entry_type: &str,
    member: &str,
) -> Result<ListIter<'d>, DumpError> {
    let dump = head.dump();
    let first = dump.read_u64(list_head_addr(head)?)?;
    hlist_nulls_from(dump, first, entry_type, member)
}

/// An hlist_nulls walk from its first node pointer (for tables read in bulk).
pub fn hlist_nulls_from<'d>(
    dump: &'d Dump,
    first: u64,
    entry_type: &str,
    member: &str,
) -> Result<ListIter<'d>, DumpError> {
    let mut it = ListIter::new(dump, entry_type, member, first, 0)?;
    it.nulls = true;
    Ok(it)
}

/// An hlist walk from its first node pointer (for tables read in bulk).
pub fn hlist_from<'d>(
    dump: &'d Dump,
    first: u64,
    entry_type: &str,
    member: &str,
) -> Result<ListIter<'d>, DumpError> {
    ListIter::new(dump, entry_type, member, first, 0)
}
