//! Who may pass a closed sync window, decided in one place for the promotion gate and for the
//! syncer. A promotion passes only with break-glass (and its reason is recorded); on the
//! syncer's side a change whose commit is a rollback or carries `Break-Glass` rolls out as an
//! explicit sync, as Argo CD lets manual syncs through a window with `manualSync: true`.

use chrono::{DateTime, Utc};

use crate::window::WindowDecision;
use model::Reason;
use model::audit::Action;

/// The window gate of one environment's promotion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "window", rename_all = "snake_case")]
pub enum WindowGate {
    Open,
    /// Closed, passed on purpose; the reason goes into the commit.
    BreakGlass {
        by: String,
        reason: Reason,
    },
    Closed {
        by: String,
        opens_at: DateTime<Utc>,
    },
}

/// The promotion gate for a window `decision` (taken for a promotion).
pub fn promotion_gate(decision: &WindowDecision, break_glass: Option<&Reason>) -> WindowGate {
    match (decision, break_glass) {
        (WindowDecision::Closed { by, .. }, Some(reason)) => WindowGate::BreakGlass {
            by: by.clone(),
            reason: reason.clone(),
        },
        (WindowDecision::Closed { by, opens_at }, None) => WindowGate::Closed {
            by: by.clone(),
            opens_at: *opens_at,
        },
        (WindowDecision::Open | WindowDecision::OpenForRollback { .. }, _) => WindowGate::Open,
    }
}

/// Where a pending rollout stands against the windows, on the syncer's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freeze {
    /// No window keeps syncs closed.
    Open,
    /// A window is closed, but the change is a rollback or was pushed with break-glass: it
    /// passes as an explicit (manual) sync.
    Exempt,
    /// A window holds the change back; the text says which and until when.
    Closed(String),
}

/// The last commit that changed an environment's values, as far as the freeze cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LastChange {
    pub action: Option<Action>,
    pub break_glass: bool,
}

/// The syncer's rule for a window `decision` (taken for a promotion) and the change waiting.
pub fn freeze(decision: &WindowDecision, last: LastChange) -> Freeze {
    let WindowDecision::Closed { by, opens_at } = decision else {
        return Freeze::Open;
    };
    if last.action == Some(Action::Rollback) || last.break_glass {
        Freeze::Exempt
    } else {
        Freeze::Closed(format!("{by} until {}", opens_at.to_rfc3339()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed() -> WindowDecision {
        WindowDecision::Closed {
            by: "deny window".to_owned(),
            opens_at: "2026-11-27T06:00:00Z".parse().expect("time"),
        }
    }

    #[test]
    fn syncer_table() {
        let check = |decision: &WindowDecision, action, break_glass, expected: Freeze| {
            assert_eq!(
                freeze(
                    decision,
                    LastChange {
                        action,
                        break_glass
                    }
                ),
                expected
            );
        };
        check(
            &WindowDecision::Open,
            Some(Action::Promote),
            false,
            Freeze::Open,
        );
        check(&closed(), Some(Action::Rollback), false, Freeze::Exempt);
        check(&closed(), Some(Action::Promote), true, Freeze::Exempt);
        check(
            &closed(),
            Some(Action::Promote),
            false,
            Freeze::Closed("deny window until 2026-11-27T06:00:00+00:00".to_owned()),
        );
        check(
            &closed(),
            None,
            false,
            Freeze::Closed("deny window until 2026-11-27T06:00:00+00:00".to_owned()),
        );
    }

    #[test]
    fn promotion_table() {
        let reason: Reason = "hotfix for INC-1".parse().expect("reason");
        assert_eq!(
            promotion_gate(&WindowDecision::Open, None),
            WindowGate::Open
        );
        assert_eq!(
            promotion_gate(&closed(), Some(&reason)),
            WindowGate::BreakGlass {
                by: "deny window".to_owned(),
                reason: reason.clone()
            }
        );
        assert!(matches!(
            promotion_gate(&closed(), None),
            WindowGate::Closed { .. }
        ));
    }
}
