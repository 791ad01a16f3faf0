//! Compound commands: if/elif/else, for, while/until, case and { } groups.
use crate::shell::syntax::parser::{Command as Cmd, List};
use crate::shell::{Flow, Shell};
use crate::warn;

impl Shell {
    fn exec_condition(&mut self, list: &List) -> Flow {
        self.condition_depth += 1;
        let flow = self.exec_list(list);
        self.condition_depth -= 1;
        flow
    }

    pub(super) fn exec_compound(&mut self, command: &Cmd) -> Flow {
        match command {
            Cmd::If {
                branches,
                otherwise,
            } => self.exec_if(branches, otherwise.as_ref()),
            Cmd::For { var, items, body } => self.exec_for(var, items.as_deref(), body),
            Cmd::While { cond, body, until } => self.exec_while(cond, body, *until),
            Cmd::Case { word, arms } => self.exec_case(word, arms),
            Cmd::Group { body } => self.exec_list(body),
            Cmd::Simple { .. } | Cmd::Subshell { .. } | Cmd::Function { .. } => Flow::Normal,
        }
    }

    fn exec_if(&mut self, branches: &[(List, List)], otherwise: Option<&List>) -> Flow {
        for (cond, body) in branches {
            let flow = self.exec_condition(cond);
            if flow != Flow::Normal {
                return flow;
            }
            if self.last_status == 0 {
                return self.exec_list(body);
            }
        }
        self.last_status = 0;
        match otherwise {
            Some(body) => self.exec_list(body),
            None => Flow::Normal,
        }
    }

    fn exec_for(&mut self, var: &str, items: Option<&[String]>, body: &List) -> Flow {
        let values = match items {
            Some(words) => match self.expand_words(words) {
                Ok(v) => v,
                Err(msg) => {
                    warn!("sh: {msg}");
                    self.last_status = 1;
                    return Flow::Normal;
                }
            },
            None => self.params.clone(),
        };
        self.last_status = 0;
        self.loop_depth += 1;
        let mut result = Flow::Normal;
        for v in values {
            self.set_var(var, &v);
            let flow = self.exec_list(body);
            if let Some(stop) = loop_exit(flow) {
                result = stop;
                break;
            }
        }
        self.loop_depth -= 1;
        result
    }

    fn exec_while(&mut self, cond: &List, body: &List, until: bool) -> Flow {
        self.loop_depth += 1;
        let mut result = Flow::Normal;
        let mut body_status = 0;
        loop {
            let flow = self.exec_condition(cond);
            if flow != Flow::Normal {
                result = flow;
                break;
            }
            if (self.last_status == 0) == until {
                break;
            }
            let flow = self.exec_list(body);
            if let Some(stop) = loop_exit(flow) {
                result = stop;
                break;
            }
            body_status = self.last_status;
        }
        self.loop_depth -= 1;
        self.last_status = body_status;
        result
    }

    fn exec_case(&mut self, word: &str, arms: &[(Vec<String>, List)]) -> Flow {
        let subject = match self.expand_single(word) {
            Ok(w) => w,
            Err(msg) => return self.expansion_failed(&msg),
        };
        self.last_status = 0;
        for (patterns, body) in arms {
            for p in patterns {
                let pattern = match self.expand_pattern(p) {
                    Ok(p) => p,
                    Err(msg) => return self.expansion_failed(&msg),
                };
                if crate::util::glob::matches(&pattern, &subject) {
                    return self.exec_list(body);
                }
            }
        }
        Flow::Normal
    }
}

/// What a loop does after its body returned `flow`: None keeps looping, Some(f) leaves
/// the loop with `f` (an outer `break N`/`continue N` is counted down by one level).
fn loop_exit(flow: Flow) -> Option<Flow> {
    match flow {
        Flow::Normal | Flow::Continue(1) => None,
        Flow::Break(1) => Some(Flow::Normal),
        Flow::Break(n) => Some(Flow::Break(n - 1)),
        Flow::Continue(n) => Some(Flow::Continue(n - 1)),
        other => Some(other),
    }
}
