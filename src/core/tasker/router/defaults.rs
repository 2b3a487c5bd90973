//! The mappings a router starts with: Tasker's 22, then the rest of its lifecycle catalogue.

use super::{Backend, Backends, EventMapping, Meta, Priority, RouterState};
use std::sync::Arc;

use Backend::{Logs as L, Metrics as M, Trace as T};
use Priority::{Critical, High, Low, Normal};

/// Tasker's 22 default mappings, exactly, then the rest of its lifecycle catalogue.
pub const DEFAULT_MAPPINGS: &[(&str, &[Backend], f64, Priority)] = &[
    ("task.initialize_requested", &[T, M], 1.0, Normal),
    ("task.start_requested", &[T, M], 1.0, Normal),
    ("task.completed", &[T, M], 1.0, Normal),
    ("task.failed", &[T, M], 1.0, Normal),
    ("step.execution_requested", &[T, M], 1.0, Normal),
    ("step.completed", &[T, M], 1.0, Normal),
    ("step.failed", &[T, M], 1.0, Normal),
    ("step.retry_requested", &[T, M], 1.0, Normal),
    ("workflow.viable_steps_discovered", &[T, M], 1.0, Normal),
    ("observability.task.enqueue", &[M], 1.0, High),
    ("observability.task.finalize", &[T], 1.0, Normal),
    ("observability.step.backoff", &[T, M], 1.0, Normal),
    ("observability.step.find_viable", &[T], 1.0, Normal),
    ("observability.step.handle", &[T], 1.0, Normal),
    ("observability.step.skip", &[T, M], 1.0, Normal),
    ("observability.step.max_retries_reached", &[T, M], 1.0, High),
    ("step.before_handle", &[T], 1.0, Normal),
    ("database.query_executed", &[T, M], 0.1, Normal),
    ("dependency.resolved", &[T], 1.0, Normal),
    ("batch.step_execution", &[T, M], 1.0, Normal),
    ("memory.spike_detected", &[M], 1.0, Critical),
    ("performance.slow_operation", &[T, M], 1.0, High),
    // The rest of Tasker's lifecycle catalogue, which its router left unmapped.
    ("task.retry_requested", &[T, M], 1.0, Normal),
    ("task.cancelled", &[T, M], 1.0, Normal),
    ("task.resolved_manually", &[T, M], 1.0, Normal),
    ("task.before_transition", &[T], 1.0, Low),
    ("step.initialize_requested", &[T], 1.0, Normal),
    ("step.handle", &[T], 1.0, Normal),
    ("step.cancelled", &[T, M], 1.0, Normal),
    ("step.resolved_manually", &[T, M], 1.0, Normal),
    ("step.before_transition", &[T], 1.0, Low),
    ("workflow.task_started", &[T, M], 1.0, Normal),
    ("workflow.task_completed", &[T, M], 1.0, Normal),
    ("workflow.task_failed", &[T, M], 1.0, High),
    ("workflow.step_completed", &[T, M], 1.0, Normal),
    ("workflow.step_failed", &[T, M], 1.0, High),
    ("workflow.no_viable_steps", &[T, M], 1.0, Normal),
    ("workflow.orchestration_requested", &[T], 1.0, Normal),
    ("workflow.task_finalization_started", &[T], 1.0, Normal),
    ("workflow.task_finalization_completed", &[T, M], 1.0, Normal),
    ("workflow.task_reenqueue_started", &[T], 1.0, Normal),
    ("workflow.task_reenqueue_requested", &[T, M], 1.0, Normal),
    ("workflow.task_reenqueue_failed", &[T, M], 1.0, High),
    ("workflow.task_reenqueue_delayed", &[T, M], 1.0, Normal),
    ("workflow.task_state_unclear", &[T, M, L], 1.0, High),
    ("workflow.step_execution_failed", &[T, M], 1.0, High),
    ("workflow.viable_steps_batch_ready", &[T], 1.0, Normal),
    ("workflow.steps_execution_started", &[T], 1.0, Normal),
    ("workflow.steps_execution_completed", &[T, M], 1.0, Normal),
    ("observability.task.handle", &[T], 1.0, Normal),
];

/// How many of [`DEFAULT_MAPPINGS`] are Tasker's own table.
pub const TASKER_DEFAULTS: usize = 22;

pub(super) fn default_state() -> RouterState {
    let mut state = RouterState::default();
    for (name, backends, rate, priority) in DEFAULT_MAPPINGS {
        let mask = backends.iter().fold(0, |m, b| m | b.bit());
        let inserted = state.insert(Arc::new(EventMapping {
            event_name: (*name).to_owned(),
            backends: backends.to_vec(),
            mask: Backends(mask),
            enabled: true,
            sampling_rate: *rate,
            priority: *priority,
            metadata: Meta::Hash(Vec::new()),
        }));
        debug_assert!(inserted.is_ok(), "the defaults are unambiguous");
    }
    state
}
