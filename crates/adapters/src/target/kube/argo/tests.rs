use super::*;

const REV: &str = "1111111111111111111111111111111111111111";
const OLD: &str = "2222222222222222222222222222222222222222";
const CHART: &str = "3333333333333333333333333333333333333333";

fn status(sync: &str, revision: &str, health: &str) -> ApplicationStatus {
    ApplicationStatus::of(&json!({"status": {
        "sync": {"status": sync, "revisions": [CHART, revision]},
        "health": {"status": health, "message": "from the test"},
    }}))
    .expect("status")
}

#[test]
fn done_only_when_synced_to_the_revision_and_healthy() {
    assert_eq!(
        status("Synced", REV, "Healthy").verdict(REV, ""),
        Verdict::Done
    );
    assert_eq!(
        status("Synced", OLD, "Healthy").verdict(REV, ""),
        Verdict::Waiting
    );
    assert_eq!(
        status("OutOfSync", REV, "Healthy").verdict(REV, ""),
        Verdict::Waiting
    );
    assert_eq!(
        status("Synced", REV, "Progressing").verdict(REV, ""),
        Verdict::Waiting
    );
}

#[test]
fn a_later_revision_with_the_pinned_image_live_is_done() {
    let image = "localhost:5001/paktech-app@sha256:aaaa";
    let mut later = status(
        "Synced",
        "5555555555555555555555555555555555555555",
        "Healthy",
    );
    later.summary.images = vec![image.to_owned()];
    assert_eq!(later.verdict(REV, image), Verdict::Done);
    // The same later revision with the old image live is not.
    later.summary.images = vec!["localhost:5001/paktech-app@sha256:bbbb".to_owned()];
    assert_eq!(later.verdict(REV, image), Verdict::Waiting);
}

#[test]
fn degraded_at_the_revision_is_for_the_workload_to_judge_and_an_old_one_waits() {
    assert_eq!(
        status("Synced", REV, "Degraded").verdict(REV, ""),
        Verdict::Degraded("health Degraded (from the test)".to_owned())
    );
    assert_eq!(
        status("Synced", OLD, "Degraded").verdict(REV, ""),
        Verdict::Waiting
    );
}

#[test]
fn a_failed_sync_operation_for_the_revision_fails() {
    let s = ApplicationStatus::of(&json!({"status": {
        "sync": {"status": "OutOfSync", "revision": REV},
        "health": {"status": "Healthy"},
        "operationState": {"phase": "Failed", "message": "one or more objects failed to apply",
            "syncResult": {"revision": REV}},
    }}))
    .expect("status");
    assert_eq!(
        s.verdict(REV, ""),
        Verdict::Failed("sync Failed (one or more objects failed to apply)".to_owned())
    );
}

/// One status as Argo CD 3.x writes it for our two-source Application: `sync` at the
/// values revision `values`, `health` without a message, the images of the live pods.
fn v3(sync: &str, values: &str, health: &str, images: &[&str]) -> ApplicationStatus {
    ApplicationStatus::of(&json!({"status": {
        "sync": {"status": sync, "revisions": [CHART, values]},
        "health": {"status": health},
        "summary": {"images": images},
    }}))
    .expect("status")
}

fn check(status: ApplicationStatus, expected: Verdict) {
    assert_eq!(status.verdict(REV, GOOD), expected, "{status}");
}

const GOOD: &str = "localhost:5001/paktech-app@sha256:aaaa";
const BAD: &str = "localhost:5001/paktech-app@sha256:bbbb";
const LATER: &str = "5555555555555555555555555555555555555555";

#[test]
fn failure_is_final_only_when_synced_at_the_pushed_revision() {
    let failed = || Verdict::Degraded("health Degraded".to_owned());
    // A rollback to GOOD at REV starts from the bad rollout: Degraded at OLD, with the
    // previous ReplicaSet's pods still running GOOD. That is not the rollback failing.
    check(
        v3("Synced", OLD, "Degraded", &[GOOD, BAD]),
        Verdict::Waiting,
    );
    // Argo CD compared REV but has not synced it: the health is still the old rollout's.
    check(
        v3("OutOfSync", REV, "Degraded", &[GOOD, BAD]),
        Verdict::Waiting,
    );
    // Synced at REV and Degraded: the rollout of REV failed.
    check(v3("Synced", REV, "Degraded", &[GOOD, BAD]), failed());
    // The pinned image live counts only when Synced.
    check(v3("OutOfSync", LATER, "Healthy", &[GOOD]), Verdict::Waiting);
    check(
        v3("OutOfSync", LATER, "Degraded", &[GOOD, BAD]),
        Verdict::Waiting,
    );
    check(v3("Synced", LATER, "Healthy", &[GOOD]), Verdict::Done);
    check(v3("Synced", REV, "Healthy", &[GOOD]), Verdict::Done);
}

#[test]
fn a_failed_operation_counts_only_when_it_names_the_pushed_revision() {
    let with_operation = |operation: Value| {
        let mut status = v3("OutOfSync", REV, "Healthy", &[GOOD]);
        status.operation_state = Some(OperationState::deserialize(operation).expect("op"));
        status
    };
    // The bad rollout's failed sync, read while the rollback's revision is compared.
    check(
        with_operation(
            json!({"phase": "Failed", "message": "one or more objects failed to apply",
                "syncResult": {"revision": "", "revisions": [CHART, OLD]}}),
        ),
        Verdict::Waiting,
    );
    // An operation that failed before Argo CD resolved any revision says nothing.
    check(
        with_operation(json!({"phase": "Error", "message": "rpc error"})),
        Verdict::Waiting,
    );
    // An automated sync names its revisions in the operation before any result exists.
    check(
        with_operation(json!({"phase": "Error", "message": "rpc error",
                "operation": {"sync": {"revisions": [CHART, REV]}}})),
        Verdict::Failed("sync Error (rpc error)".to_owned()),
    );
    check(
        with_operation(
            json!({"phase": "Failed", "message": "one or more objects failed to apply",
                "syncResult": {"revision": "", "revisions": [CHART, REV]}}),
        ),
        Verdict::Failed("sync Failed (one or more objects failed to apply)".to_owned()),
    );
}

#[test]
fn a_missing_status_is_empty_and_reads_as_unknown() {
    let s = ApplicationStatus::of(&json!({"metadata": {"name": "x"}})).expect("status");
    assert_eq!(s.verdict(REV, ""), Verdict::Waiting);
    assert_eq!(s.to_string(), "sync Unknown, health Unknown");
}

#[test]
fn the_one_line_summary_names_revisions_health_and_conditions() {
    let s = ApplicationStatus::of(&json!({"status": {
        "sync": {"status": "OutOfSync", "revisions": [CHART, OLD]},
        "health": {"status": "Progressing", "message": "Waiting for rollout to finish"},
        "conditions": [{"type": "SyncError", "message": "deny window active"}],
    }}))
    .expect("status");
    assert_eq!(
        s.to_string(),
        "sync OutOfSync at 3333333+2222222, health Progressing (Waiting for rollout to finish), SyncError: deny window active"
    );
}
