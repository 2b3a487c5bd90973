//! What derivation reads from an event's payload, and the numbers it checks before updating
//! anything.

use super::Plan;
use crate::core::error::{Error, Result};
use crate::core::tasker::Amount;

/// The payload fields derivation reads, already converted by the caller.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Payload<'a> {
    /// Label values, in label-name order: `handler` (from `:handler_class`), `namespace`, `status`.
    pub labels: [Option<&'a [u8]>; 3],
    /// `:duration`.
    pub duration: Option<Amount>,
    /// `:execution_duration`, used when `:duration` is absent.
    pub execution_duration: Option<Amount>,
    /// `:active_task_count`.
    pub active_task_count: Option<Amount>,
    /// `:iteration_duration`.
    pub iteration_duration: Option<Amount>,
    /// `:healthy_task_count`.
    pub healthy_task_count: Option<Amount>,
    /// `:failed_task_count`.
    pub failed_task_count: Option<Amount>,
}

/// Payload keys that become labels, with their label names, in label-name order.
pub const LABEL_KEYS: [(&str, &str); 3] = [("handler_class", "handler"), ("namespace", "namespace"), ("status", "status")];

/// The label names derivation fills, in [`Payload::labels`] order.
pub const DERIVED_LABELS: [&str; 3] = [LABEL_KEYS[0].1, LABEL_KEYS[1].1, LABEL_KEYS[2].1];

/// Payload keys read as numbers.
pub const NUMBER_KEYS: [&str; 6] =
    ["duration", "execution_duration", "active_task_count", "iteration_duration", "healthy_task_count", "failed_task_count"];

/// The numbers an event's plan uses, each checked (present: a finite number) before anything
/// is updated, so a refused event leaves no partial trace.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Values {
    pub(super) duration: Option<f64>,
    pub(super) active: Option<f64>,
    pub(super) iteration: Option<f64>,
    pub(super) healthy: Option<f64>,
    pub(super) failed: Option<f64>,
}

impl Values {
    // Inlined: out of line, building the struct cost the hot path ~40 instructions per event.
    #[inline(always)]
    pub(super) fn checked(plan: &Plan, payload: &Payload<'_>) -> Result<Self> {
        let mut v = Values::default();
        if plan.duration.is_some() {
            v.duration = check_amount(payload.duration.as_ref().or(payload.execution_duration.as_ref()), "Observed value")?;
        }
        if plan.workflow.is_some() {
            v.active = check_amount(payload.active_task_count.as_ref(), "Gauge value")?;
            v.iteration = check_amount(payload.iteration_duration.as_ref(), "Observed value")?;
        }
        if plan.health.is_some() {
            v.healthy = check_amount(payload.healthy_task_count.as_ref(), "Gauge value")?;
            v.failed = check_amount(payload.failed_task_count.as_ref(), "Gauge value")?;
        }
        Ok(v)
    }
}

/// A present amount must be a finite number.
fn check_amount(amount: Option<&Amount>, what: &str) -> Result<Option<f64>> {
    match amount {
        None => Ok(None),
        Some(Amount::Num(n)) => crate::core::metric::check_finite("value", n.as_f64()).map(Some),
        Some(Amount::NotNumeric(class)) => Err(Error::argument(format!("{what} must be numeric, got: {class}"))),
    }
}
