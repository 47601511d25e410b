//! The local target's rollout, decided step by step over what runs: which replica to start,
//! which to retire. Surge one: a new replica is started and waited for before an old one is
//! retired, so an environment never serves with fewer ready replicas than before; where no
//! new replica can be started, old ones are retired only down to `minAvailable`.
//! The local target carries the steps out; the flow hands it [`next_step`] as its rule.
//! A canary environment is first handed [`canary_step`]: one replica of the new spec beside
//! all the old ones, then hold while it is compared with them.

pub use model::{ReplicaState, RolloutStep};

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

/// The canary's rule: clear stopped replicas, start exactly one replica of the desired spec
/// beside the old ones, then hold (`None`) so the environment serves old + one canary.
/// Nothing old is retired: after a pass [`next_step`] finishes the rollout; after a fail the
/// rollback's convergence retires the canary (its spec is no longer the desired one).
pub fn canary_step(
    replicas: &[ReplicaState],
    wanted: u32,
    _min_available: u32,
    can_start: bool,
) -> Option<RolloutStep> {
    if let Some(stopped) = replicas.iter().find(|r| !r.running) {
        return Some(RolloutStep::RemoveStopped(stopped.name.clone()));
    }
    let current = replicas.iter().any(|r| r.current);
    (!current && wanted > 0 && can_start).then_some(RolloutStep::Start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::RolloutRule;

    /// Plays the rollout out from `start` (`c` current, `o` old, `x` stopped) and returns the
    /// steps as letters (`-x` remove stopped, `+` start, `r` retire, `d` scale down) and the
    /// fewest replicas serving at any point after the stopped ones are cleared.
    fn play(start: &str, wanted: u32, min_available: u32, can_start: bool) -> (String, usize) {
        let (steps, fewest, _) = play_rule(next_step, start, wanted, min_available, can_start);
        (steps, fewest)
    }

    /// [`play`] with any rule; also returns the replicas at the end (`c`/`o`/`n`+number).
    fn play_rule(
        rule: RolloutRule,
        start: &str,
        wanted: u32,
        min_available: u32,
        can_start: bool,
    ) -> (String, usize, Vec<ReplicaState>) {
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
        while let Some(step) = rule(&replicas, wanted, min_available, can_start) {
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
        (steps.trim_end().to_owned(), fewest, replicas)
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

    /// The canary's steps from `start`, then the rest of the rollout after a pass (the
    /// normal rule), or the rollback's after a fail (the canary is the one old replica then).
    fn check_canary(start: &str, wanted: u32, canary: &str, pass: &str, fail: &str) {
        let (got, _, after) = play_rule(canary_step, start, wanted, 1, true);
        assert_eq!(got, canary, "canary from {start} wanted {wanted}");
        let letters = |current: bool| -> String {
            after
                .iter()
                .map(|r| if r.current == current { 'o' } else { 'c' })
                .collect()
        };
        // Passed: the canary is current; the rest rolls on from there.
        let (got, _, _) = play_rule(next_step, &letters(false), wanted, 1, true);
        assert_eq!(got, pass, "after a pass from {start}");
        // Failed: the old spec is desired again, so the canary is the stale one.
        let (got, _, _) = play_rule(next_step, &letters(true), wanted, 1, true);
        assert_eq!(got, fail, "after a fail from {start}");
    }

    #[test]
    fn canary_table() {
        // One canary beside the old replicas, then the rest; or the canary alone retired.
        check_canary("ooo", 3, "+", "r + r + r", "r");
        check_canary("o", 1, "+", "r", "r");
        check_canary("oo", 3, "+", "+ r + r", "+ r");
        // A stopped replica is cleared first; it served nothing.
        check_canary("xoo", 2, "-x +", "r + r", "r");
        // A canary already running (a retried promotion) is held, not doubled.
        check_canary("oco", 2, "", "r + r", "r");
        // Nothing to compare with: a fresh environment gets its one canary.
        check_canary("", 2, "+", "+", "+ + r");
        // Scaled to zero or nothing to start: no canary.
        assert_eq!(canary_step(&[], 0, 0, true), None);
        assert_eq!(canary_step(&[], 2, 1, false), None);
    }

    #[test]
    fn a_canary_never_serves_fewer_and_runs_at_most_one() {
        for start in ["", "o", "oo", "ooo", "oooo", "xoo", "oxo"] {
            for wanted in 1..=4 {
                let running = start.chars().filter(|c| *c == 'o').count();
                let (_, fewest, after) = play_rule(canary_step, start, wanted, 1, true);
                if fewest != usize::MAX {
                    assert!(fewest >= running, "{start} → {wanted}: dropped to {fewest}");
                }
                assert_eq!(after.iter().filter(|r| r.current).count(), 1, "{start}");
                assert_eq!(after.len(), running + 1, "{start}: old ones all kept");
            }
        }
    }
}
