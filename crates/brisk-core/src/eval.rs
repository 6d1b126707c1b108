//! Evaluation of one compiled task, given the values of its dependencies. Shared by every
//! executor so that nested tasks, lists and panics behave the same everywhere.

use std::panic::{AssertUnwindSafe, catch_unwind};

use smallvec::SmallVec;

use crate::Value;
use crate::error::TaskFailure;
use crate::func::TaskResult;
use crate::plan::{PArg, PlanTask};

/// Run `task` with `inputs[slot]` as the value of its dependency at `slot`. A panic inside the
/// function becomes a [`TaskFailure`] of kind `Panic`.
pub fn run_task(task: &PlanTask, inputs: &[Value]) -> TaskResult {
    match catch_unwind(AssertUnwindSafe(|| eval_task(task, inputs))) {
        Ok(r) => r,
        Err(payload) => Err(TaskFailure::from_panic(&*payload)),
    }
}

fn eval_task(task: &PlanTask, inputs: &[Value]) -> TaskResult {
    let mut args: SmallVec<[Value; 4]> = SmallVec::with_capacity(task.args.len());
    for a in &task.args {
        args.push(eval_arg(a, inputs)?);
    }
    task.func.call(&args)
}

fn eval_arg(arg: &PArg, inputs: &[Value]) -> TaskResult {
    match arg {
        PArg::Dep(slot) => inputs
            .get(*slot as usize)
            .cloned()
            .ok_or_else(|| TaskFailure::msg(format!("internal: no input at slot {slot}"))),
        PArg::Lit(v) => Ok(v.clone()),
        PArg::Task(t) if t.fused_key.is_some() => {
            let r = catch_unwind(AssertUnwindSafe(|| eval_task(t, inputs)))
                .unwrap_or_else(|payload| Err(TaskFailure::from_panic(&*payload)));
            r.map_err(|mut f| {
                if f.origin.is_none() {
                    f.origin.clone_from(&t.fused_key);
                }
                f
            })
        }
        PArg::Task(t) => eval_task(t, inputs),
        PArg::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for a in items {
                out.push(eval_arg(a, inputs)?);
            }
            Ok(Value::list(out))
        }
    }
}
