//! The approval gate: an approval is bound to one SHA and one environment, the approver must
//! differ from the requester, an allow-list may name who may approve, and N distinct
//! approvals are needed. An approval admits one promotion: a rollback of what it admitted
//! revokes it (`flow::rollback`), and the block the rollback leaves is lifted by someone
//! other than who asked for the promotion ([`may_unblock`]).

use model::{AppName, Approval, EnvName, GitSha, Person, PromotionRequest};

pub mod choice;

/// Who may approve and how many must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule<'a> {
    pub required: u32,
    /// Empty: anyone but the requester.
    pub approvers: &'a [Person],
}

/// Where a promotion stands at the gate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GateStatus {
    NotRequired,
    Approved {
        by: Vec<Person>,
    },
    Waiting {
        have: Vec<Person>,
        need: u32,
        may_approve: String,
    },
}

/// Why someone may not approve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{approver} requested this promotion and cannot approve it; someone else must")]
    SelfApproval { approver: Person },
    #[error(
        "{approver} may not approve promotions to {env}; approvers are: {}",
        names(allowed)
    )]
    NotAnApprover {
        approver: Person,
        env: String,
        allowed: Vec<Person>,
    },
    #[error(
        "{by} asked to promote {app}@{sha} (to {env}) and cannot lift its block; someone else must"
    )]
    RequesterUnblock {
        by: Person,
        app: String,
        sha: String,
        env: String,
    },
}

/// Names for a message, comma-separated.
pub fn names(people: &[Person]) -> String {
    people
        .iter()
        .map(Person::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// May `approver` approve a promotion of `env` requested by `requester` (when known)?
pub fn may_approve(
    rule: &ApprovalRule<'_>,
    env: &EnvName,
    approver: &Person,
    requester: Option<&Person>,
) -> Result<(), Refusal> {
    if requester.is_some_and(|r| r == approver) {
        return Err(Refusal::SelfApproval {
            approver: approver.clone(),
        });
    }
    if !rule.approvers.is_empty() && !rule.approvers.contains(approver) {
        return Err(Refusal::NotAnApprover {
            approver: approver.clone(),
            env: env.to_string(),
            allowed: rule.approvers.to_vec(),
        });
    }
    Ok(())
}

/// May `by` lift the block on `app`'s build `sha`? Not when they asked for a promotion of
/// it: a release or one build (`requests`, every environment's) naming that build.
pub fn may_unblock(
    requests: &[PromotionRequest],
    app: &AppName,
    sha: &GitSha,
    by: &Person,
) -> Result<(), Refusal> {
    let build = format!("{app}@{sha}");
    let theirs = requests.iter().find(|r| {
        &r.requester == by
            && if r.builds.is_empty() {
                &r.sha == sha
            } else {
                r.builds.contains(&build)
            }
    });
    match theirs {
        Some(request) => Err(Refusal::RequesterUnblock {
            by: by.clone(),
            app: app.to_string(),
            sha: sha.to_string(),
            env: request.env.to_string(),
        }),
        None => Ok(()),
    }
}

/// The gate for promoting `sha` to `env` at `requester`'s request, given every approval on
/// record. Approvals for another SHA or environment, by the requester, by someone not on the
/// allow-list, or repeated by one person, do not count.
pub fn gate(
    rule: &ApprovalRule<'_>,
    env: &EnvName,
    sha: &GitSha,
    requester: &Person,
    approvals: &[Approval],
) -> GateStatus {
    if rule.required == 0 {
        return GateStatus::NotRequired;
    }
    let mut counted: Vec<Person> = Vec::new();
    for a in approvals.iter().filter(|a| &a.sha == sha && &a.env == env) {
        let valid = may_approve(rule, env, &a.approver, Some(requester)).is_ok();
        if valid && !counted.contains(&a.approver) {
            counted.push(a.approver.clone());
        }
    }
    if counted.len() >= rule.required as usize {
        GateStatus::Approved { by: counted }
    } else {
        GateStatus::Waiting {
            have: counted,
            need: rule.required,
            may_approve: if rule.approvers.is_empty() {
                format!("anyone but {requester}")
            } else {
                names(
                    &rule
                        .approvers
                        .iter()
                        .filter(|a| *a != requester)
                        .cloned()
                        .collect::<Vec<_>>(),
                )
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn approval(sha: &str, env: &str, who: &str) -> Approval {
        Approval {
            sha: sha.parse().expect("sha"),
            env: env.parse().expect("env"),
            approver: who.parse().expect("person"),
            at: "2026-11-26T12:00:00Z".parse().expect("time"),
            comment: None,
        }
    }

    fn check(required: u32, approvers: &[&str], records: &[Approval], expected: &str) {
        let approvers: Vec<Person> = approvers
            .iter()
            .map(|s| s.parse().expect("person"))
            .collect();
        let rule = ApprovalRule {
            required,
            approvers: &approvers,
        };
        let got = match gate(
            &rule,
            &"prod".parse().expect("env"),
            &SHA.parse().expect("sha"),
            &"alice".parse().expect("person"),
            records,
        ) {
            GateStatus::NotRequired => "not required".to_owned(),
            GateStatus::Approved { by } => format!("approved by {}", names(&by).replace(", ", ",")),
            GateStatus::Waiting {
                have,
                need,
                may_approve,
            } => format!("waiting {}/{need} ({may_approve})", have.len()),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn table() {
        check(0, &[], &[], "not required");
        check(1, &[], &[], "waiting 0/1 (anyone but alice)");
        check(1, &[], &[approval(SHA, "prod", "bob")], "approved by bob");
        check(
            1,
            &[],
            &[approval(SHA, "prod", "alice")],
            "waiting 0/1 (anyone but alice)",
        );
        check(
            1,
            &[],
            &[approval(SHA, "prod", "ALICE ")],
            "waiting 0/1 (anyone but alice)",
        );
        check(
            1,
            &[],
            &[approval(OTHER, "prod", "bob")],
            "waiting 0/1 (anyone but alice)",
        );
        check(
            1,
            &[],
            &[approval(SHA, "staging", "bob")],
            "waiting 0/1 (anyone but alice)",
        );
        check(
            2,
            &[],
            &[approval(SHA, "prod", "bob"), approval(SHA, "prod", "Bob")],
            "waiting 1/2 (anyone but alice)",
        );
        check(
            2,
            &[],
            &[approval(SHA, "prod", "bob"), approval(SHA, "prod", "carol")],
            "approved by bob,carol",
        );
        check(
            1,
            &["carol", "alice"],
            &[approval(SHA, "prod", "bob")],
            "waiting 0/1 (carol)",
        );
        check(
            1,
            &["carol"],
            &[approval(SHA, "prod", "carol")],
            "approved by carol",
        );
    }

    #[test]
    fn refusals() {
        let p = |s: &str| s.parse::<Person>().expect("person");
        let approvers = [p("carol")];
        let rule = ApprovalRule {
            required: 1,
            approvers: &approvers,
        };
        let prod = "prod".parse().expect("env");
        assert_eq!(
            may_approve(&rule, &prod, &p("carol"), Some(&p("Carol")))
                .expect_err("self")
                .to_string(),
            "carol requested this promotion and cannot approve it; someone else must"
        );
        assert_eq!(
            may_approve(&rule, &prod, &p("bob"), Some(&p("alice")))
                .expect_err("not listed")
                .to_string(),
            "bob may not approve promotions to prod; approvers are: carol"
        );
        assert!(may_approve(&rule, &prod, &p("carol"), None).is_ok());
        // A look-alike written with fullwidth letters is the same person.
        assert!(may_approve(&rule, &prod, &p("ｃａｒｏｌ"), Some(&p("carol"))).is_err());
    }

    #[test]
    fn who_asked_for_a_promotion_of_a_build_cannot_lift_its_block() {
        let p = |s: &str| s.parse::<Person>().expect("person");
        let request = |sha: &str, who: &str, builds: &[&str]| PromotionRequest {
            sha: sha.parse().expect("sha"),
            env: "prod".parse().expect("env"),
            requester: p(who),
            at: "2026-11-26T12:00:00Z".parse().expect("time"),
            run_id: "run".to_owned(),
            builds: builds.iter().map(|b| (*b).to_owned()).collect(),
        };
        let app: AppName = "paktech-app".parse().expect("app");
        let sha: GitSha = SHA.parse().expect("sha");
        // One build asked for by alice; a release naming the build asked for by dave.
        let release = format!("paktech-app@{SHA}");
        let requests = [
            request(SHA, "alice", &[]),
            request(OTHER, "dave", &[release.as_str(), "paktech-gateway@abc"]),
        ];
        assert_eq!(
            may_unblock(&requests, &app, &sha, &p("Alice"))
                .expect_err("alice asked")
                .to_string(),
            format!(
                "Alice asked to promote paktech-app@{SHA} (to prod) and cannot lift its block; someone else must"
            )
        );
        assert!(may_unblock(&requests, &app, &sha, &p("dave")).is_err());
        assert!(may_unblock(&requests, &app, &sha, &p("carol")).is_ok());
        // Another app's build of the same commit is not what dave asked for.
        let gateway: AppName = "paktech-gateway".parse().expect("app");
        assert!(may_unblock(&requests, &gateway, &sha, &p("dave")).is_ok());
    }
}
