//! Watching prod after a change: each round's probes become healthy or failing, and
//! consecutive failing rounds past a threshold call for a rollback.

use crate::model::Probe;
use crate::policy::health::replica_problems;

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

/// Counts consecutive failing rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    pub failing: u32,
}

impl Streak {
    /// Records a round; true when the streak reached `threshold` (roll back).
    pub fn record(&mut self, failed: bool, threshold: u32) -> bool {
        self.failing = if failed { self.failing + 1 } else { 0 };
        self.failing >= threshold.max(1)
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
    }
}
