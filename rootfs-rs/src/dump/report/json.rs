//! A small JSON value with a correct string escaper (no serde), and the report as JSON
//! (schema: docs/triage-json.md).

use crate::dump::helpers::ps::policy_name;
use crate::dump::report::{socket_counts, Report};
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Json::Str(s.to_string())
    }
}
impl From<String> for Json {
    fn from(s: String) -> Self {
        Json::Str(s)
    }
}
impl From<u64> for Json {
    fn from(v: u64) -> Self {
        Json::UInt(v)
    }
}
impl From<i64> for Json {
    fn from(v: i64) -> Self {
        Json::Int(v)
    }
}
impl From<f64> for Json {
    fn from(v: f64) -> Self {
        Json::Float(v)
    }
}
impl From<bool> for Json {
    fn from(v: bool) -> Self {
        Json::Bool(v)
    }
}
impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Self {
        v.map_or(Json::Null, Into::into)
    }
}

/// Writes `s` as a JSON string literal: quotes, backslashes and control characters escaped.
pub fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Json {
    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Json::UInt(v) => {
                let _ = write!(out, "{v}");
            }
            // JSON has no NaN/Infinity.
            Json::Float(v) if !v.is_finite() => out.push_str("null"),
            Json::Float(v) => {
                let _ = write!(out, "{v:?}");
            }
            Json::Str(s) => escape_into(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    escape_into(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Compact JSON text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

pub(super) fn obj(fields: Vec<(&str, Json)>) -> Json {
    Json::Obj(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

pub(super) fn arr<T>(items: &[T], f: impl Fn(&T) -> Json) -> Json {
    Json::Arr(items.iter().map(f).collect())
}

fn dump_json(r: &Report) -> Json {
    let d = &r.dump;
    obj(vec![
        ("path", d.path.as_str().into()),
        ("file_size", d.file_size.into()),
        ("format", d.format.clone().into()),
        ("compression", d.compression.clone().into()),
        ("complete", d.incomplete.is_none().into()),
        ("incomplete_reason", d.incomplete.clone().into()),
        ("opened", d.opened.into()),
        ("cpus_in_notes", (d.cpus_in_notes as u64).into()),
        ("kallsyms", (d.kallsyms as u64).into()),
        ("btf_types", u64::from(d.btf_types).into()),
        ("vmcoreinfo_release", d.vmcoreinfo_release.clone().into()),
    ])
}

fn system_json(r: &Report) -> Json {
    let Some(s) = &r.system else {
        return Json::Null;
    };
    let states = r
        .task_states
        .iter()
        .map(|(k, v)| (k.to_string(), Json::UInt(*v as u64)))
        .collect();
    obj(vec![
        ("sysname", s.sysname.as_str().into()),
        ("nodename", s.nodename.as_str().into()),
        ("release", s.release.as_str().into()),
        ("version", s.version.as_str().into()),
        ("machine", s.machine.as_str().into()),
        ("cpus", u64::from(s.cpus).into()),
        ("cpus_online", s.cpus_online.map(u64::from).into()),
        ("crash_time", s.crash_time.into()),
        ("uptime_secs", s.uptime_secs.into()),
        ("load_avg", arr(&s.load_avg, |&v| v.into())),
        ("memory_total_kib", s.memory_total_kib.into()),
        ("kaslr_offset", s.kaslr_offset.into()),
        ("hz", s.hz.into()),
        ("tainted", s.tainted.clone().into()),
        ("cmdline", s.cmdline.clone().into()),
        ("tasks_by_state", Json::Obj(states)),
    ])
}

fn panic_json(r: &Report) -> Json {
    let Some(p) = &r.panic else { return Json::Null };
    obj(vec![
        ("message", p.message.clone().into()),
        ("context", arr(&p.context, |c| c.as_str().into())),
        ("cpu", p.cpu.into()),
        ("pid", p.task.as_ref().map(|t| i64::from(t.0)).into()),
        ("comm", p.task.as_ref().map(|t| t.1.clone()).into()),
    ])
}

fn tasks_json(r: &Report) -> Json {
    let Some(tasks) = &r.tasks else {
        return Json::Null;
    };
    arr(tasks, |t| {
        obj(vec![
            ("pid", i64::from(t.pid).into()),
            ("tgid", i64::from(t.tgid).into()),
            ("ppid", i64::from(t.ppid).into()),
            ("state", t.state.to_string().into()),
            ("comm", t.comm.as_str().into()),
            ("cpu", u64::from(t.cpu).into()),
            ("policy", policy_name(t.policy).into()),
            ("rt_priority", u64::from(t.rt_priority).into()),
            ("rss_kib", t.rss_kib.into()),
            ("kernel_thread", t.kthread.into()),
            ("task", format!("{:#x}", t.addr).into()),
        ])
    })
}

fn memory_json(r: &Report) -> Json {
    let Some(m) = &r.memory else {
        return Json::Null;
    };
    obj(vec![
        ("total_kib", m.total_kib.into()),
        ("free_kib", m.free_kib.into()),
        ("used_kib", m.used_kib.into()),
        ("page_cache_kib", m.page_cache_kib.into()),
        ("slab_kib", m.slab_kib.into()),
        ("swap_total_kib", m.swap_total_kib.into()),
        ("swap_free_kib", m.swap_free_kib.into()),
        (
            "free_blocks_per_order",
            arr(&m.free_per_order, |&n| n.into()),
        ),
        (
            "zones",
            arr(&m.zones, |z| {
                obj(vec![
                    ("node", u64::from(z.node).into()),
                    ("name", z.name.as_str().into()),
                    ("managed_pages", z.managed_pages.into()),
                    (
                        "free_blocks_per_order",
                        arr(&z.free_per_order, |&n| n.into()),
                    ),
                ])
            }),
        ),
    ])
}

fn runqueues_json(r: &Report) -> Json {
    let Some(rqs) = &r.runqueues else {
        return Json::Null;
    };
    arr(rqs, |q| {
        obj(vec![
            ("cpu", u64::from(q.cpu).into()),
            ("nr_running", q.nr_running.into()),
            ("curr_pid", i64::from(q.curr_pid).into()),
            ("curr_comm", q.curr_comm.as_str().into()),
            ("curr_policy", policy_name(q.curr_policy).into()),
            ("curr_idle", q.curr_is_idle.into()),
            ("curr_running_secs", q.curr_running_secs.into()),
            ("rt_nr_running", q.rt_nr_running.into()),
            (
                "rt_tasks",
                arr(&q.rt_tasks, |(pid, comm, prio)| {
                    obj(vec![
                        ("pid", i64::from(*pid).into()),
                        ("comm", comm.as_str().into()),
                        ("rt_priority", u64::from(*prio).into()),
                    ])
                }),
            ),
        ])
    })
}

fn network_json(r: &Report) -> Json {
    let interfaces = r.interfaces.as_ref().map_or(Json::Null, |ifs| {
        arr(ifs, |i| {
            obj(vec![
                ("name", i.name.as_str().into()),
                (
                    "up",
                    (i.flags & crate::dump::helpers::net::IFF_UP != 0).into(),
                ),
                ("mtu", i.mtu.into()),
                ("ipv4", arr(&i.ipv4, |a| a.as_str().into())),
                ("last_rx_secs", i.last_rx_secs.into()),
                ("last_tx_secs", i.last_tx_secs.into()),
            ])
        })
    });
    let sockets = r.sockets.as_ref().map_or(Json::Null, |s| {
        arr(s, |s| {
            let mut f = vec![
                ("proto", s.proto.as_str().into()),
                ("local", s.local.as_str().into()),
                ("remote", s.remote.as_str().into()),
                ("state", s.state.as_str().into()),
            ];
            if s.proto == "unix" {
                f.push(("path", s.path.clone().into()));
                f.push(("type", s.kind.clone().into()));
            } else if s.proto.starts_with("raw") {
                f.push(("protocol", s.kind.clone().into()));
            }
            obj(f)
        })
    });
    let counts = r.sockets.as_ref().map_or(Json::Null, |s| {
        Json::Obj(
            socket_counts(s)
                .into_iter()
                .map(|(k, v)| (k, Json::UInt(v as u64)))
                .collect(),
        )
    });
    obj(vec![
        ("interfaces", interfaces),
        ("sockets", sockets),
        ("counts_by_state", counts),
    ])
}

/// The whole report as one JSON object (keys: docs/triage-json.md).
pub fn report_json(r: &Report) -> Json {
    let log_tail = if r.log.is_some() {
        arr(&r.log_lines(), |l| l.as_str().into())
    } else {
        Json::Null
    };
    obj(vec![
        ("dump", dump_json(r)),
        ("system", system_json(r)),
        ("panic", panic_json(r)),
        ("log_tail", log_tail),
        ("tasks", tasks_json(r)),
        ("memory", memory_json(r)),
        ("runqueues", runqueues_json(r)),
        ("network", network_json(r)),
        ("modules", super::sections_extra::modules_json(r)),
        ("mounts", super::sections_extra::mounts_json(r)),
        ("slab", super::sections_extra::slab_json(r)),
        ("bt", super::stacks::bt_json(r)),
        ("hung_tasks", super::stacks::hung_json(r)),
        ("stack_groups", super::stacks::groups_json(r)),
        (
            "warnings",
            arr(&r.warnings, |w| {
                obj(vec![
                    ("check", w.check.as_str().into()),
                    ("message", w.message.as_str().into()),
                ])
            }),
        ),
        ("checks", super::checks::json(r)),
        (
            "problems",
            arr(&super::problems::rank(r), |p| {
                obj(vec![
                    ("severity", p.severity.name().into()),
                    ("section", p.section.name().into()),
                    ("message", p.message.as_str().into()),
                ])
            }),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let j = Json::Obj(vec![(
            "k\"ey".into(),
            Json::Str("a\\b\n\t\u{1}\u{7f}é\"".into()),
        )]);
        assert_eq!(j.to_text(), r#"{"k\"ey":"a\\b\n\t\u0001\u007fé\""}"#);
    }

    #[test]
    fn numbers_and_nesting() {
        let j = Json::Arr(vec![
            Json::Int(-3),
            Json::UInt(u64::MAX),
            Json::Float(0.5),
            Json::Float(f64::NAN),
            Json::Null,
            Json::Bool(true),
        ]);
        assert_eq!(j.to_text(), "[-3,18446744073709551615,0.5,null,null,true]");
        assert_eq!(Json::Float(2.0).to_text(), "2.0");
    }
}
