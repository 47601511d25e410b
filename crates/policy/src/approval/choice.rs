//! Which promotion request an approval is for: the one named (by its own id, or by the commit
//! its builds were made from) or, when none is named, the newest one still waiting for
//! approvals. Pure: the flow reads the records and says which requests wait.

use model::{EnvName, GitSha, PromotionRequest};

/// A request as the choice sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'r> {
    pub request: &'r PromotionRequest,
    /// It still waits for approvals (the gate would not pass it yet).
    pub waiting: bool,
    /// Where the records branch last wrote it, newest first (0: the newest commit); `None`
    /// when it is older than the history read. Orders requests made at one instant, as under
    /// a fixed clock.
    pub recorded: Option<usize>,
}

/// Why no request was chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoChoice {
    #[error(
        "nobody asked to promote anything to {env}, so there is nothing to approve; `cargo xtask promote --env {env}` records the request"
    )]
    NothingRequested { env: String },
    #[error(
        "nobody asked to promote {sha} to {env}, so there is nothing to approve; `cargo xtask promote --env {env} --sha {sha}` records the request"
    )]
    NotRequested { env: String, sha: String },
    #[error(
        "every request to promote to {env} already has its approvals (the newest is {newest}); `cargo xtask promote --env {env}` takes it, or name another with --sha"
    )]
    NothingWaiting { env: String, newest: String },
    #[error(
        "{count} releases waiting for {env} are made of builds of {sha}: {ids}; name one with --sha <release id>"
    )]
    Ambiguous {
        env: String,
        sha: String,
        count: usize,
        ids: String,
    },
}

/// The request for `env` an approval naming `which` (or nothing) is for.
///
/// - `which` is a request's own id (a build's SHA, or a release's id): that request.
/// - `which` is a commit whose builds a release is made of (`app@<which>`): the one such
///   request still waiting; the newest such when none waits; ambiguous when several wait.
/// - nothing: the newest request still waiting. Newest by when it was asked and, among
///   requests asked at one instant, by the records branch's order; a request that already
///   has its approvals (as one promoted, then rolled back, has) is not waiting.
pub fn choose<'r>(
    env: &EnvName,
    candidates: &[Candidate<'r>],
    which: Option<&GitSha>,
) -> Result<&'r PromotionRequest, NoChoice> {
    let for_env: Vec<Candidate<'r>> = candidates
        .iter()
        .copied()
        .filter(|c| &c.request.env == env)
        .collect();
    let Some(sha) = which else {
        let Some(newest) = newest(for_env.iter().copied()) else {
            return Err(NoChoice::NothingRequested {
                env: env.to_string(),
            });
        };
        return newest_waiting(&for_env).ok_or_else(|| NoChoice::NothingWaiting {
            env: env.to_string(),
            newest: describe(newest.request),
        });
    };
    if let Some(exact) = for_env.iter().find(|c| &c.request.sha == sha) {
        return Ok(exact.request);
    }
    let of_commit: Vec<Candidate<'r>> = for_env
        .iter()
        .copied()
        .filter(|c| {
            c.request
                .builds
                .iter()
                .any(|b| b.split_once('@').is_some_and(|(_, s)| s == sha.as_str()))
        })
        .collect();
    let waiting: Vec<Candidate<'r>> = sorted(of_commit.iter().copied().filter(|c| c.waiting));
    match waiting.as_slice() {
        [one] => Ok(one.request),
        [] => newest(of_commit.iter().copied())
            .map(|c| c.request)
            .ok_or_else(|| NoChoice::NotRequested {
                env: env.to_string(),
                sha: sha.to_string(),
            }),
        several => Err(NoChoice::Ambiguous {
            env: env.to_string(),
            sha: sha.to_string(),
            count: several.len(),
            ids: several
                .iter()
                .map(|c| describe(c.request))
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

/// A request in a message: its id and, for a release, what it moves.
pub fn describe(request: &PromotionRequest) -> String {
    if request.builds.is_empty() {
        request.sha.to_string()
    } else {
        format!("{} ({})", request.sha, request.builds.join(", "))
    }
}

fn newest_waiting<'r>(candidates: &[Candidate<'r>]) -> Option<&'r PromotionRequest> {
    newest(candidates.iter().copied().filter(|c| c.waiting)).map(|c| c.request)
}

fn newest<'r>(candidates: impl Iterator<Item = Candidate<'r>>) -> Option<Candidate<'r>> {
    sorted(candidates).into_iter().next()
}

/// Newest first: by when asked, then by the records branch's order (unknown: oldest).
fn sorted<'r>(candidates: impl Iterator<Item = Candidate<'r>>) -> Vec<Candidate<'r>> {
    let mut all: Vec<Candidate<'r>> = candidates.collect();
    all.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.request.at),
            c.recorded.unwrap_or(usize::MAX),
        )
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";
    const D: &str = "dddddddddddddddddddddddddddddddddddddddd";
    const R1: &str = "1111111111111111111111111111111111111111";
    const R2: &str = "2222222222222222222222222222222222222222";

    fn request(id: &str, env: &str, at: i64, builds: &[String]) -> PromotionRequest {
        PromotionRequest {
            sha: id.parse().expect("sha"),
            env: env.parse().expect("env"),
            requester: "alice".parse().expect("person"),
            at: Utc.timestamp_opt(at, 0).single().expect("time"),
            run_id: "run".to_owned(),
            builds: builds.to_vec(),
        }
    }

    fn of(sha: &str) -> Vec<String> {
        vec![
            format!("paktech-app@{sha}"),
            format!("paktech-gateway@{sha}"),
        ]
    }

    /// `request` as the flow would hand it over.
    fn candidate(
        request: &PromotionRequest,
        waiting: bool,
        recorded: Option<usize>,
    ) -> Candidate<'_> {
        Candidate {
            request,
            waiting,
            recorded,
        }
    }

    fn prod() -> EnvName {
        "prod".parse().expect("env")
    }

    fn chosen(candidates: &[Candidate<'_>], which: Option<&str>) -> Result<String, NoChoice> {
        let which: Option<GitSha> = which.map(|s| s.parse().expect("sha"));
        choose(&prod(), candidates, which.as_ref()).map(|r| r.sha.to_string())
    }

    #[test]
    fn without_a_sha_the_newest_waiting_request_is_chosen_even_under_a_fixed_clock() {
        // Both asked at the same instant (PAKTECH_NOW): the older one, already approved (it
        // was promoted and rolled back), is recorded first.
        let old = request(R1, "prod", 100, &of(D));
        let new = request(R2, "prod", 100, &of(C));
        let candidates = [
            candidate(&new, true, Some(0)),
            candidate(&old, false, Some(3)),
        ];
        assert_eq!(chosen(&candidates, None).as_deref(), Ok(R2));
        // Listed the other way round, the same choice.
        let reversed = [candidates[1], candidates[0]];
        assert_eq!(chosen(&reversed, None).as_deref(), Ok(R2));
        // Two waiting at one instant: the records branch's order decides.
        let both = [
            candidate(&old, true, Some(3)),
            candidate(&new, true, Some(0)),
        ];
        assert_eq!(chosen(&both, None).as_deref(), Ok(R2));
        // Asked later wins over recorded later.
        let later = request(R1, "prod", 200, &of(D));
        let by_time = [
            candidate(&later, true, Some(3)),
            candidate(&new, true, Some(0)),
        ];
        assert_eq!(chosen(&by_time, None).as_deref(), Ok(R1));
    }

    #[test]
    fn without_a_sha_and_nothing_waiting_it_says_so() {
        let done = request(R1, "prod", 100, &of(D));
        let staging = request(R2, "staging", 200, &of(C));
        let candidates = [
            candidate(&done, false, Some(0)),
            candidate(&staging, true, Some(1)),
        ];
        match chosen(&candidates, None) {
            Err(NoChoice::NothingWaiting { env, newest }) => {
                assert_eq!(env, "prod");
                assert!(newest.starts_with(R1), "{newest}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            chosen(&candidates[1..], None),
            Err(NoChoice::NothingRequested { .. })
        ));
    }

    #[test]
    fn a_commit_names_the_release_made_of_its_builds() {
        let release = request(R2, "prod", 100, &of(C));
        let other = request(R1, "prod", 100, &of(D));
        let candidates = [
            candidate(&release, true, Some(0)),
            candidate(&other, true, Some(1)),
        ];
        assert_eq!(chosen(&candidates, Some(C)).as_deref(), Ok(R2));
        // Its own id still names it, and a build request by its SHA.
        assert_eq!(chosen(&candidates, Some(R1)).as_deref(), Ok(R1));
        let build = request(C, "prod", 50, &[]);
        let with_build = [candidate(&build, false, None)];
        assert_eq!(chosen(&with_build, Some(C)).as_deref(), Ok(C));
        // A commit nothing was made of.
        let none = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
        match chosen(&candidates, Some(none)) {
            Err(NoChoice::NotRequested { sha, .. }) => assert_eq!(sha, none),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_commit_in_several_waiting_releases_is_ambiguous_and_names_them() {
        let one = request(R1, "prod", 100, &of(C));
        let mixed = vec![format!("paktech-app@{C}"), format!("paktech-gateway@{D}")];
        let two = request(R2, "prod", 100, &mixed);
        let candidates = [
            candidate(&one, true, Some(1)),
            candidate(&two, true, Some(0)),
        ];
        match chosen(&candidates, Some(C)) {
            Err(NoChoice::Ambiguous { count, ids, .. }) => {
                assert_eq!(count, 2);
                assert!(ids.starts_with(R2) && ids.contains(R1), "{ids}");
            }
            other => panic!("{other:?}"),
        }
        // One of them approved already: the other is the one waiting.
        let settled = [candidate(&one, false, Some(1)), candidates[1]];
        assert_eq!(chosen(&settled, Some(C)).as_deref(), Ok(R2));
        // Neither waiting: the newest of them.
        let none_waiting = [
            candidate(&one, false, Some(1)),
            candidate(&two, false, Some(0)),
        ];
        assert_eq!(chosen(&none_waiting, Some(C)).as_deref(), Ok(R2));
    }
}
