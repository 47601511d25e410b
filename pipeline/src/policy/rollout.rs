//! The local target's rollout, decided step by step over what runs: which replica to start,
//! which to retire. Surge one: a new replica is started and waited for before an old one is
//! retired, so an environment never serves with fewer ready replicas than before; where no
//! new replica can be started, old ones are retired only down to `minAvailable`.
//! The local target carries the steps out; the flow hands it [`next_step`] as its rule.

pub use crate::model::{ReplicaState, RolloutStep};

/// The next step towards `wanted` current replicas; `None` when there is nothing to do.
/// `can_start` is false when the desired state names no image (never deployed).
pub fn next_step(
    replicas: &[ReplicaState],
    wanted: u32,
    min_available: u32,
    can_start: bool,
) -> Option<RolloutStep> {
    if let Some(stopped) = replicas.iter().find(|r| !r.running) {
        return Some(RolloutStep::RemoveStopped(stopped.name.clone()));
    }
    let current = replicas.iter().filter(|r| r.current).count();
    let old: Vec<&ReplicaState> = replicas.iter().filter(|r| !r.current).collect();
    let serving = replicas.len();
    let wanted = wanted as usize;
    if current < wanted && can_start {
        // After a start there is one more than wanted: retire an old one before the next.
        return Some(match old.first() {
            Some(r) if serving > wanted => RolloutStep::Retire(r.name.clone()),
            _ => RolloutStep::Start,
        });
    }
    if let Some(r) = old.first() {
        // Enough current replicas serve, or none can be started: retire the old, never
        // below the floor unless current ones carry it.
        let floor = (min_available as usize).min(serving);
        if current >= wanted || serving > floor {
            return Some(RolloutStep::Retire(r.name.clone()));
        }
        return None;
    }
    if current > wanted {
        let extra = replicas.iter().find(|r| r.current)?;
        return Some(RolloutStep::ScaleDown(extra.name.clone()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays the rollout out from `start` (`c` current, `o` old, `x` stopped) and returns the
    /// steps as letters (`-x` remove stopped, `+` start, `r` retire, `d` scale down) and the
    /// fewest replicas serving at any point after the stopped ones are cleared.
    fn play(start: &str, wanted: u32, min_available: u32, can_start: bool) -> (String, usize) {
        let mut replicas: Vec<ReplicaState> = start
            .chars()
            .enumerate()
            .map(|(i, c)| ReplicaState {
                name: format!("{c}{i}"),
                running: c != 'x',
                current: c == 'c',
            })
            .collect();
        let mut steps = String::new();
        let mut fewest = usize::MAX;
        let mut n = 100;
        while let Some(step) = next_step(&replicas, wanted, min_available, can_start) {
            let clearing = matches!(step, RolloutStep::RemoveStopped(_));
            match step {
                RolloutStep::RemoveStopped(name) => {
                    steps.push_str("-x ");
                    replicas.retain(|r| r.name != name);
                }
                RolloutStep::Start => {
                    steps.push_str("+ ");
                    n += 1;
                    replicas.push(ReplicaState {
                        name: format!("n{n}"),
                        running: true,
                        current: true,
                    });
                }
                RolloutStep::Retire(name) | RolloutStep::ScaleDown(name) => {
                    steps.push_str(if name.starts_with('o') { "r " } else { "d " });
                    replicas.retain(|r| r.name != name);
                }
            }
            if !clearing {
                fewest = fewest.min(replicas.len());
            }
            assert!(steps.len() < 200, "no end: {steps}");
        }
        (steps.trim_end().to_owned(), fewest)
    }

    fn check(start: &str, wanted: u32, min: u32, can_start: bool, steps: &str) {
        let (got, _) = play(start, wanted, min, can_start);
        assert_eq!(got, steps, "{start} wanted {wanted} min {min}");
    }

    #[test]
    fn table() {
        // A fresh environment, a rollout of three, a converged one, a scale-down, a scale-up.
        check("", 2, 1, true, "+ +");
        check("ooo", 3, 2, true, "+ r + r + r");
        check("ccc", 3, 2, true, "");
        check("cccc", 3, 2, true, "d");
        check("c", 3, 2, true, "+ +");
        // A stopped replica is cleared first; a half-done rollout goes on where it stopped.
        check("xoo", 2, 1, true, "-x + r + r");
        check("coo", 2, 1, true, "r + r");
        // Scaled down during a rollout: the old ones go once enough current ones serve.
        check("ooo", 1, 0, true, "r r + r");
        // Nothing can be started: old replicas are retired only down to minAvailable.
        check("ooo", 3, 2, false, "r");
        check("ooo", 3, 0, false, "r r r");
    }

    #[test]
    fn a_rollout_never_serves_with_fewer_than_before() {
        for (start, wanted, min) in [("ooo", 3, 2), ("oo", 2, 1), ("o", 1, 0), ("ooo", 2, 1)] {
            let (_, fewest) = play(start, wanted, min, true);
            assert!(
                fewest >= start.len().min(wanted as usize),
                "{start} → {wanted}: dropped to {fewest}"
            );
        }
    }
}
