//! One write to an environment, as the metrics need it: decoded once from a commit's trailers,
//! small enough to cache for a long history.

use model::audit::{Action, CommitRecord, keys};

/// What a write did to its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `ci` put a new build in the first environment.
    Deploy,
    /// `promote` moved a build (or a release of several) into the next environment.
    Promote,
    /// A rollback put back the build before (by hand, or after a failed watch or analysis).
    Rollback,
}

/// One pipeline write to one environment: when, what it did, and which builds it left there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Write {
    /// The GitOps commit.
    pub revision: String,
    /// Seconds since the epoch (committer time of the GitOps commit).
    pub time: i64,
    pub env: String,
    pub kind: Kind,
    /// `(app, build sha)` for each app the write moved; an empty sha: the app has no build
    /// there any more (a rollback of an environment's first deploy).
    pub builds: Vec<(String, String)>,
    /// The write went past a failed gate (`Break-Glass`).
    pub break_glass: bool,
    /// The watch that triggered a rollback (`Watch-Verdict`), when one did.
    pub verdict: Option<String>,
    /// A failed metric analysis triggered the rollback (`Analysis`).
    pub analysis: bool,
    /// The GitOps commit a rollback undid (`Reverts`).
    pub reverts: Option<String>,
}

/// The write a pipeline commit made, or `None` for a commit that is not one (seeding, hand
/// edits, commits without `Pipeline-Action` or `Pipeline-Environment`). A commit from before
/// apps were named speaks for `default_app`.
pub fn decode(commit: &CommitRecord, default_app: &str) -> Option<Write> {
    let kind = match Action::parse(commit.trailer(keys::ACTION)?)? {
        Action::Deploy => Kind::Deploy,
        Action::Promote => Kind::Promote,
        Action::Rollback => Kind::Rollback,
    };
    let env = commit.trailer(keys::ENVIRONMENT)?;
    let builds = commit
        .builds(default_app)
        .into_iter()
        .map(|b| (b.app.to_owned(), b.sha.to_owned()))
        .collect::<Vec<_>>();
    // A rollback to "no build" carries an empty `Image-Sha`, which writes no trailer: the app
    // is still named by `App`.
    let builds = match (builds.is_empty(), kind, commit.trailer(keys::APP)) {
        (true, Kind::Rollback, app) => vec![(app.unwrap_or(default_app).to_owned(), String::new())],
        (true, _, _) => return None,
        (false, _, _) => builds,
    };
    Some(Write {
        revision: commit.revision.to_string(),
        time: commit.time,
        env: env.to_owned(),
        kind,
        builds,
        break_glass: commit.trailer(keys::BREAK_GLASS).is_some(),
        verdict: commit.trailer(keys::WATCH_VERDICT).map(str::to_owned),
        analysis: commit.trailer(keys::ANALYSIS).is_some(),
        reverts: commit.trailer(keys::REVERTS).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::audit::{Build, CommitMessage};

    fn record(message: CommitMessage) -> CommitRecord {
        CommitRecord::read_back("a".repeat(40).parse().expect("sha"), 100, &message)
    }

    /// What a commit decodes to: its kind, its `(app, sha)` builds, whether by break-glass.
    type Decoded<'a> = Option<(Kind, Vec<(&'a str, &'a str)>, bool)>;

    #[test]
    fn pipeline_commits_decode_and_others_do_not() {
        let check = |message: CommitMessage, expected: Decoded<'_>| {
            let got = decode(&record(message), "web");
            let got = got.map(|w| {
                let builds: Vec<(String, String)> = w.builds;
                (w.kind, builds, w.break_glass)
            });
            let expected = expected.map(|(k, b, g)| {
                let b = b
                    .into_iter()
                    .map(|(a, s)| (a.to_owned(), s.to_owned()))
                    .collect::<Vec<_>>();
                (k, b, g)
            });
            assert_eq!(got, expected);
        };
        let build = |app, sha| Build {
            app,
            sha,
            digest: "d",
        };
        let base = |action: &str| {
            CommitMessage::new("s")
                .trailer(keys::ACTION, action)
                .trailer(keys::ENVIRONMENT, "prod")
        };
        check(
            base("deploy").trailer(keys::IMAGE_SHA, "s1"),
            Some((Kind::Deploy, vec![("web", "s1")], false)),
        );
        check(
            base("promote")
                .builds(&[build("api", "s1"), build("web", "s2")])
                .trailer(keys::BREAK_GLASS, "hotfix"),
            Some((Kind::Promote, vec![("api", "s1"), ("web", "s2")], true)),
        );
        // A rollback of a first deploy leaves no build, and still names its app.
        check(
            base("rollback").trailer(keys::APP, "api"),
            Some((Kind::Rollback, vec![("api", "")], false)),
        );
        check(CommitMessage::new("seed"), None);
        check(base("approve"), None);
        check(
            CommitMessage::new("s")
                .trailer(keys::ACTION, "deploy")
                .trailer(keys::IMAGE_SHA, "s1"),
            None,
        );
    }
}
