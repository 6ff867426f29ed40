//! Turning evaluations into plans: the broker, feasibility, ranking and the
//! service/batch (generic) and system schedulers.
//!
//! A scheduler reads a consistent [`State`] and returns a [`Plan`]; it never
//! writes. The store applies the plan as one command, so scheduling results
//! replicate and replay like every other write.

pub mod broker;

use crate::state::State;
use crate::structs::{Evaluation, Plan, EVAL_STATUS_COMPLETE};

/// What a scheduler run may use besides the state: the time to stamp, a seed
/// for its random choices, and a source of new IDs.
pub struct Context<'a> {
    /// Unix nanoseconds.
    pub now: i64,
    /// Seed for node shuffling and dynamic ports; the same seed, state and
    /// evaluation give the same plan.
    pub seed: u64,
    /// Mints IDs for new allocations and evaluations.
    pub new_id: &'a mut dyn FnMut() -> String,
}

/// Runs the scheduler for `eval` against `state`.
///
/// Placeholder until the schedulers land: completes the evaluation and changes
/// no allocation.
pub fn process(state: &State, eval: &Evaluation, ctx: &mut Context<'_>) -> Plan {
    let mut done = eval.clone();
    done.status = EVAL_STATUS_COMPLETE.to_string();
    done.modify_time = ctx.now;
    done.snapshot_index = state.index();
    Plan {
        eval_id: eval.id.clone(),
        job: state.job(&eval.job_id).cloned(),
        evals: vec![done],
        time: ctx.now,
        ..Plan::default()
    }
}
