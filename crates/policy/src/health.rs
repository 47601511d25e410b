//! One rule for whether an environment's replicas serve the build they should: the smoke test
//! after a rollout and every monitoring round judge probes by it.

use model::Probe;

/// What is wrong with `probes` of an environment that should run `expected_sha` on at least
/// `expected_replicas` replicas; empty when nothing is. More replicas than asked for is fine
/// (an autoscaler may own the count); fewer is not.
pub fn replica_problems(
    probes: &[Probe],
    expected_sha: &str,
    expected_replicas: u32,
) -> Vec<String> {
    let mut problems: Vec<String> = probes
        .iter()
        .filter(|p| !p.runs(expected_sha))
        .map(|p| match (&p.problem, &p.build_sha) {
            (Some(problem), _) => format!("{}: {problem}", p.url),
            (None, found) => format!(
                "{}: runs {}, expected {expected_sha}",
                p.url,
                found.as_deref().unwrap_or("nothing")
            ),
        })
        .collect();
    if probes.len() < expected_replicas as usize {
        problems.push(format!(
            "{} of {expected_replicas} replicas answer",
            probes.len()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(healthy: bool, sha: Option<&str>) -> Probe {
        Probe {
            url: "http://127.0.0.1:1".to_owned(),
            healthy,
            build_sha: sha.map(str::to_owned),
            problem: (!healthy).then(|| "/health answered 500".to_owned()),
        }
    }

    fn check(probes: &[Probe], replicas: u32, expected: &[&str]) {
        assert_eq!(replica_problems(probes, "a", replicas), expected);
    }

    #[test]
    fn table() {
        let good = probe(true, Some("a"));
        check(&[good.clone(), good.clone()], 2, &[]);
        check(&[good.clone(), good.clone(), good.clone()], 2, &[]);
        check(std::slice::from_ref(&good), 2, &["1 of 2 replicas answer"]);
        check(&[], 1, &["0 of 1 replicas answer"]);
        check(
            &[probe(true, Some("b")), good.clone()],
            2,
            &["http://127.0.0.1:1: runs b, expected a"],
        );
        check(
            &[probe(true, None), good.clone()],
            2,
            &["http://127.0.0.1:1: runs nothing, expected a"],
        );
        check(
            &[probe(false, Some("a")), good],
            2,
            &["http://127.0.0.1:1: /health answered 500"],
        );
    }
}
