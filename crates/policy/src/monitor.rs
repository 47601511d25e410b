//! Watching prod after a change: each round's probes become healthy or failing, and
//! consecutive failing rounds past a threshold call for a rollback. A round that could not be
//! judged (a probe or a metrics read that errored, a replica whose `/metrics` could not be
//! read) fails too, since a gate that cannot see fails closed; but a streak that is only
//! partly evidence did not show the build bad, so its rollback does not block the build.

use crate::health::replica_problems;
use model::Probe;

/// One round of observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round<'a> {
    pub probes: &'a [Probe],
    /// Restarts summed over the replicas, now and when monitoring began.
    pub restarts: i64,
    pub restarts_at_start: i64,
    pub expected_sha: &'a str,
    pub expected_replicas: u32,
}

/// What is wrong in a round, if anything.
pub fn problems(round: &Round<'_>) -> Vec<String> {
    let mut problems = replica_problems(round.probes, round.expected_sha, round.expected_replicas);
    if round.restarts > round.restarts_at_start {
        problems.push(format!(
            "{} container restart(s) since monitoring began",
            round.restarts - round.restarts_at_start
        ));
    }
    problems
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Healthy,
    /// Something was seen wrong: evidence against the build.
    Failing,
    /// Nothing could be seen: an error or an unreadable replica.
    Unjudged,
}

/// Counts consecutive failing rounds, and how many of them could not be judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    pub failing: u32,
    pub unjudged: u32,
}

impl Streak {
    /// Records a round that was failing or not; true when the streak reached `threshold`
    /// (roll back).
    pub fn record(&mut self, failed: bool, threshold: u32) -> bool {
        let seen = if failed { Seen::Failing } else { Seen::Healthy };
        self.see(seen, threshold)
    }

    /// Records a round; true when the streak reached `threshold` (roll back).
    pub fn see(&mut self, seen: Seen, threshold: u32) -> bool {
        match seen {
            Seen::Healthy => *self = Self::default(),
            Seen::Failing => self.failing += 1,
            Seen::Unjudged => {
                self.failing += 1;
                self.unjudged += 1;
            }
        }
        self.failing >= threshold.max(1)
    }

    /// Whether every round of the streak showed the build bad: only then does its rollback
    /// block the build.
    pub fn proven(&self) -> bool {
        self.failing > 0 && self.unjudged == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(healthy: bool, sha: &str) -> Probe {
        Probe {
            url: "http://127.0.0.1:1".to_owned(),
            healthy,
            build_sha: Some(sha.to_owned()),
            problem: (!healthy).then(|| "/health answered 500".to_owned()),
        }
    }

    #[test]
    fn rounds_and_streaks() {
        let good = [probe(true, "a"), probe(true, "a")];
        let round = |probes: &[Probe], restarts| {
            problems(&Round {
                probes,
                restarts,
                restarts_at_start: 0,
                expected_sha: "a",
                expected_replicas: 2,
            })
        };
        assert!(round(&good, 0).is_empty());
        assert_eq!(
            round(&good, 1),
            vec!["1 container restart(s) since monitoring began"]
        );
        assert_eq!(
            round(&[probe(true, "b"), probe(true, "a")], 0),
            vec!["http://127.0.0.1:1: runs b, expected a"]
        );
        assert_eq!(round(&good[..1], 0), vec!["1 of 2 replicas answer"]);
        assert_eq!(
            round(&[probe(false, "a"), probe(true, "a")], 0),
            vec!["http://127.0.0.1:1: /health answered 500"]
        );

        let mut streak = Streak::default();
        assert!(!streak.record(true, 3));
        assert!(!streak.record(true, 3));
        assert!(!streak.record(false, 3), "a good round resets the streak");
        assert!(!streak.record(true, 3));
        assert!(!streak.record(true, 3));
        assert!(streak.record(true, 3));
        assert!(streak.proven());
    }

    #[test]
    fn rounds_that_could_not_be_judged_fail_but_prove_nothing() {
        use Seen::{Failing, Healthy, Unjudged};
        // (rounds, threshold) → (rolled back after the last, proven)
        let check = |rounds: &[Seen], threshold, expected: (bool, bool)| {
            let mut streak = Streak::default();
            let mut rolled = false;
            for seen in rounds {
                rolled = streak.see(*seen, threshold);
            }
            assert_eq!((rolled, streak.proven()), expected, "{rounds:?}");
        };
        // One round that could not be judged, then healthy ones: the window goes on.
        check(&[Unjudged, Healthy, Healthy], 3, (false, false));
        // A long outage: rolled back, not proven.
        check(&[Unjudged, Unjudged, Unjudged], 3, (true, false));
        // Mixed with evidence: rolled back, still not proven (an outage was part of it).
        check(&[Failing, Unjudged, Failing], 3, (true, false));
        // Evidence alone: proven.
        check(
            &[Unjudged, Healthy, Failing, Failing, Failing],
            3,
            (true, true),
        );
        check(&[Failing], 1, (true, true));
    }
}
