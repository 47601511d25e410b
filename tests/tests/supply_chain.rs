//! Signing and verification before any write, against the real engine and Debian's
//! `docker-registry` on 127.0.0.1: a build signed, with an SBOM it attested and signed
//! provenance passes the gate and is promoted; unsigned, signed by an unknown key, a signature
//! of another digest (copied from another image's `.sig` tag), a tampered payload, a missing
//! SBOM, an SBOM swapped after the build signed it, and provenance missing, from a builder
//! prod does not accept or of another commit are refused with exit 3 and the GitOps refs
//! unchanged. The formats' interoperability: `signature_interop.rs`, `provenance_interop.rs`.
//!
//! Longer than 400 lines: every refusal of the gate runs against the same engine, registry and
//! signed build, set up once per case by the helpers here.

use std::path::Path;
use std::time::Duration;

use ::supply_chain::attest::dsse::{Envelope, IN_TOTO};
use ::supply_chain::attest::provenance::{self, Builder};
use ::supply_chain::cosign::{self, PublicKey, SigningKey};
use adapters::attachments::{Attachments, LocalAttachments};
use adapters::registry::{Distribution, Registry};
use flow::ci::{self, CiOptions};
use flow::promote::{self, ApprovalMode, PromoteOptions, StageOutcome};
use flow::{self, Pipeline};
use model::report::{Outcome, Silent};
use model::{AttestationLayer, SignatureLayer};
use model::{Digest, GitSha, Repository};
use policy::plan::Refusal;
use tests::registry::LocalRegistry;
use tests::require::Service;
use tests::{another_build, env, pretend_it_ran};

fn options(target: &str, sha: &GitSha, dry_run: bool) -> PromoteOptions {
    PromoteOptions {
        apps: Vec::new(),
        env: env(target),
        sha: Some(sha.clone()),
        dry_run,
        requested_by: "alice".parse().expect("person"),
        run_id: "supply-chain".to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(Duration::ZERO),
    }
}

fn refs(dir: &Path) -> String {
    tests::git_cli(&dir.join("gitops.git"), &["for-each-ref"])
}

/// `pipeline` with prod requiring a signature by `key` and an SBOM, as committed.
fn require_in_prod(pipeline: &mut Pipeline, key: &SigningKey) {
    pipeline.config.supply_chain.keys =
        vec![PublicKey::from_pem("test.pub", &key.public_key().to_pem()).expect("public key")];
    let prod = tests::env_mut(pipeline, "prod");
    prod.require_signature = Some(true);
    prod.require_sbom = Some(true);
    prod.require_provenance = Some(true);
    prod.builders = Some(vec![provenance::LOCAL_BUILDER.to_owned()]);
}

/// The SBOM attestation `key` makes for `sbom` of `digest`, as `ci` makes it.
fn sbom_attestation(
    key: &SigningKey,
    repository: &Repository,
    digest: &Digest,
    sbom: &[u8],
) -> AttestationLayer {
    let statement =
        ::supply_chain::attest::sbom::statement(repository.as_str(), digest, sbom).expect("json");
    layer(key, &statement)
}

/// The provenance `key` signs for `digest`, built by `builder` from `sha`.
fn provenance_attestation(
    key: &SigningKey,
    digest: &Digest,
    sha: &GitSha,
    builder: &str,
) -> AttestationLayer {
    layer(
        key,
        &provenance::sample(&Builder::named(builder), sha, digest),
    )
}

fn layer(
    key: &SigningKey,
    statement: &::supply_chain::attest::statement::Statement,
) -> AttestationLayer {
    AttestationLayer {
        predicate_type: statement.predicate_type.clone(),
        envelope: Envelope::sign(IN_TOTO, statement.to_json(), key).to_json(),
    }
}

/// The signature layer `key` makes for `digest` in `repository`.
fn signature(key: &SigningKey, repository: &Repository, digest: &Digest) -> SignatureLayer {
    let payload = cosign::payload(repository, digest);
    SignatureLayer {
        signature_b64: key.sign(&payload),
        payload,
    }
}

/// A refusal case of what a build attested: its name, the SBOM the build signed, its
/// provenance (signed by, of the build's own commit, the builder it names), and the refusal.
type AttestedCase<'a> = (
    &'a str,
    Option<&'a [u8]>,
    Option<(&'a SigningKey, bool, &'a str)>,
    &'a str,
);

const SBOM: &[u8] = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn promote_to_prod_takes_only_signed_builds_with_an_sbom_from_a_registry() {
    if !tests::require(Service::Registry, "supply_chain_registry") {
        return;
    }
    let Some(docker) = tests::docker_or_skip("supply_chain_registry").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = LocalRegistry::start(dir.path(), "");
    let prefix = tests::unique_prefix("supply");
    let _cleanup = tests::Cleanup::new(&prefix);
    let mut pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let repository = registry.repository("paktech-app");
    pipeline.config.apps[0].repository = repository.clone();
    pipeline.registry = Registry::Distribution(Distribution::new(None));
    pipeline.attachments = Attachments::for_repository(&repository, dir.path(), None);
    let key = SigningKey::generate();
    require_in_prod(&mut pipeline, &key);

    // Builds pushed to the registry: one real build, and images derived from it (each its own
    // manifest digest), each recorded as having run in staging.
    let base = another_build(&pipeline, &docker, None).await;
    let images = pipeline.images("test").expect("engine");
    let build = async |case: &str| -> (GitSha, Digest) {
        let sha: GitSha = format!("{:040x}", rand::random::<u128>())
            .parse()
            .expect("sha");
        images
            .derive(
                &format!("{repository}:{base}"),
                &format!("{repository}:{sha}"),
                &[&format!("LABEL paktech.test.case={case}")],
            )
            .await
            .expect("derive");
        images
            .push(repository.as_str(), sha.as_str(), None)
            .await
            .expect("push");
        let digest = pipeline
            .registry
            .digest(&repository, sha.as_str())
            .await
            .expect("registry")
            .expect("pushed");
        (sha, digest)
    };
    let attest = async |digest: &Digest, layer: AttestationLayer| {
        pipeline
            .attachments
            .put_attestation(&repository, digest, &layer)
            .await
            .expect("attestation stored");
    };
    // A signature when given, and with `sbom` the SBOM, attested by `key`.
    let attach = async |digest: &Digest, layer: Option<SignatureLayer>, sbom: bool| {
        if sbom {
            attest(digest, sbom_attestation(&key, &repository, digest, SBOM)).await;
        }
        if let Some(layer) = layer {
            pipeline
                .attachments
                .put_signature(&repository, digest, &layer)
                .await
                .expect("signature stored");
        }
        if sbom {
            pipeline
                .attachments
                .put_sbom(&repository, digest, SBOM)
                .await
                .expect("sbom stored");
        }
    };

    // Signed by the configured key, with an SBOM: the plan's supply-chain check passes.
    let (good, good_digest) = build("good").await;
    pretend_it_ran(&pipeline, "staging", &good, good_digest.as_str());
    attach(
        &good_digest,
        Some(signature(&key, &repository, &good_digest)),
        true,
    )
    .await;
    attest(
        &good_digest,
        provenance_attestation(&key, &good_digest, &good, "local"),
    )
    .await;
    let (report, error) = promote::run(&pipeline, &options("prod", &good, true), &Silent).await;
    assert!(error.is_none(), "{error:?}");
    let plan = report.plan.expect("plan");
    let check = plan
        .checks
        .iter()
        .find(|c| c.check == "supply chain")
        .expect("the dry run shows the check");
    assert!(
        check.detail.contains(&key.public_key().id) && check.detail.contains("SBOM sha256:"),
        "{check:?}"
    );
    assert!(
        check.detail.contains(&format!(
            "provenance built by local from git+https://github.com/paktech/paktech-gitops at {good}"
        )),
        "{check:?}"
    );

    // Each refusal: exit 3's kind of error, naming what is missing, nothing written.
    let other_key = SigningKey::generate();
    let (_, another_digest) = build("another").await;
    let another_signature = signature(&key, &repository, &another_digest);
    attach(&another_digest, Some(another_signature.clone()), true).await;
    let mut cases: Vec<(&str, GitSha, Digest, &str)> = Vec::new();
    let (sha, digest) = build("unsigned").await;
    attach(&digest, None, true).await;
    cases.push(("unsigned", sha, digest, "takes only signed builds"));
    let (sha, digest) = build("unknown-key").await;
    attach(
        &digest,
        Some(signature(&other_key, &repository, &digest)),
        true,
    )
    .await;
    cases.push(("unknown key", sha, digest, "no configured key verifies it"));
    let (sha, digest) = build("other-digest").await;
    // The `.sig` layer of another image, copied as it is: a genuine signature, of that image.
    attach(&digest, Some(another_signature.clone()), true).await;
    cases.push((
        "signature of another digest",
        sha,
        digest,
        "it signs sha256:",
    ));
    let (sha, digest) = build("tampered").await;
    let mut tampered = signature(&key, &repository, &digest);
    tampered.payload = String::from_utf8(tampered.payload)
        .expect("utf-8")
        .replace(
            "cosign container image signature",
            "cosign container image signaturE",
        )
        .into_bytes();
    attach(&digest, Some(tampered), true).await;
    cases.push((
        "tampered payload",
        sha,
        digest,
        "no configured key verifies it",
    ));
    let (sha, digest) = build("no-sbom").await;
    attach(&digest, Some(signature(&key, &repository, &digest)), false).await;
    cases.push(("missing SBOM", sha, digest, "requires an SBOM"));
    // Signed, with an SBOM stored; what the build attested differs per case.
    let signed_other: &[u8] = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"signed"}]}"#;
    let feature_branch =
        "https://github.com/paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/feature";
    // (case, the SBOM the build attested, provenance: (signed by, of its own commit, builder))
    let attested: [AttestedCase<'_>; 6] = [
        // Someone with push rights replaced the SBOM beside the image after the build signed one.
        (
            "SBOM swapped after signing",
            Some(signed_other),
            Some((&key, true, "local")),
            "not the SBOM the build signed",
        ),
        (
            "SBOM not attested",
            None,
            Some((&key, true, "local")),
            "takes only an SBOM the build signed",
        ),
        (
            "no provenance",
            Some(SBOM),
            None,
            "none is stored beside the image",
        ),
        (
            "provenance from a builder prod does not accept",
            Some(SBOM),
            Some((&key, true, feature_branch)),
            "is not one this environment accepts (local)",
        ),
        (
            "provenance of another commit",
            Some(SBOM),
            Some((&key, false, "local")),
            "built from commit",
        ),
        (
            "provenance signed by an unknown key",
            Some(SBOM),
            Some((&other_key, true, "local")),
            "no configured key verifies it",
        ),
    ];
    for (i, (case, sbom, provenance, expected)) in attested.into_iter().enumerate() {
        let (sha, digest) = build(&format!("attested-{i}")).await;
        attach(&digest, Some(signature(&key, &repository, &digest)), false).await;
        pipeline
            .attachments
            .put_sbom(&repository, &digest, SBOM)
            .await
            .expect("sbom stored");
        if let Some(document) = sbom {
            attest(
                &digest,
                sbom_attestation(&key, &repository, &digest, document),
            )
            .await;
        }
        if let Some((by, own, builder)) = provenance {
            let commit = if own { &sha } else { &good };
            attest(
                &digest,
                provenance_attestation(by, &digest, commit, builder),
            )
            .await;
        }
        cases.push((case, sha, digest, expected));
    }

    for (case, sha, digest, expected) in &cases {
        // Staging runs it: only the supply chain stands between it and prod.
        pretend_it_ran(&pipeline, "staging", sha, digest.as_str());
        let before = refs(dir.path());
        for dry_run in [true, false] {
            let (_, error) = promote::run(&pipeline, &options("prod", sha, dry_run), &Silent).await;
            let error = error.unwrap_or_else(|| panic!("{case}: refused"));
            let text = error.to_string();
            assert!(
                matches!(
                    error,
                    flow::Error::Plan(
                        Refusal::Unsigned { .. }
                            | Refusal::SignatureRejected { .. }
                            | Refusal::NoSbom { .. }
                            | Refusal::SbomNotAttested { .. }
                            | Refusal::NoProvenance { .. }
                    )
                ),
                "{case}: {text}"
            );
            assert!(text.contains(expected), "{case}: {text}");
            assert_eq!(refs(dir.path()), before, "{case}: nothing was written");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_signs_what_it_pins_and_dev_prod_take_only_verified_builds_on_the_engine() {
    let Some(docker) = tests::docker_or_skip("supply_chain_engine").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("signed");
    let _cleanup = tests::Cleanup::new(&prefix);
    let mut pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let key = SigningKey::generate();
    require_in_prod(&mut pipeline, &key);
    // Dev requires a signature too, so ci's own gate before its write decides.
    pipeline.config.environments[0].require_signature = Some(true);
    let repository = pipeline.config.apps[0].repository.clone();
    let ci_options = CiOptions {
        skip_tests: true,
        allow_dirty: true,
        ..CiOptions::new("ci".parse().expect("person"), "run-sign")
    };

    // No key: the sign step says so, and dev refuses the unsigned build; nothing written.
    let before = refs(dir.path());
    let (report, error) = ci::run(&pipeline, &ci_options, &Silent).await;
    let error = error.expect("dev refuses an unsigned build");
    assert!(
        matches!(error, flow::Error::Plan(Refusal::Unsigned { .. })),
        "{error}"
    );
    let step = |report: &ci::CiReport, name: &str| {
        report
            .steps
            .iter()
            .find(|s| s.step == name)
            .unwrap_or_else(|| panic!("a {name} step: {:?}", report.steps))
            .clone()
    };
    let sign = step(&report, "sign");
    assert_eq!(sign.outcome, Outcome::Skipped);
    assert!(sign.detail.contains("skipped: no signing key"), "{sign:?}");
    assert_eq!(step(&report, "verify").outcome, Outcome::Failed);
    assert_eq!(refs(dir.path()), before, "nothing was written");

    // With the key: ci signs the digest it pins, the signature is stored, its gate passes.
    pipeline.signing_key = Some(key.clone());
    let (report, error) = ci::run(&pipeline, &ci_options, &Silent).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(step(&report, "sign").outcome, Outcome::Succeeded);
    let verify = step(&report, "verify");
    assert!(verify.detail.contains(&key.public_key().id), "{verify:?}");
    let attested = step(&report, "attest");
    assert_eq!(attested.outcome, Outcome::Succeeded, "{attested:?}");
    assert!(
        attested.detail.contains("provenance (builder local)"),
        "{attested:?}"
    );
    let digest: Digest = report
        .digest
        .clone()
        .expect("digest")
        .parse()
        .expect("a digest");
    // What ci attested passes prod's gate: the signature, the SBOM it signed, provenance
    // naming this workstation and the commit the image is tagged with.
    let built_sha = report.image.as_ref().expect("image").tag.sha().clone();
    let prod = env("prod");
    let evidence =
        flow::supply_chain::evidence(&pipeline, &repository, std::slice::from_ref(&prod), &digest)
            .await;
    let passed = policy::supply_chain::gate(
        &prod,
        &pipeline.config.requirements(&prod),
        &digest,
        &built_sha,
        &evidence,
    )
    .expect("ci's own build passes prod's gate")
    .expect("prod requires evidence");
    assert!(
        passed.contains("provenance built by local from git+"),
        "{passed}"
    );
    assert!(passed.contains(&format!("at {built_sha}")), "{passed}");
    // `cargo xtask verify` says the same, check by check.
    let app = pipeline.config.apps[0].clone();
    let built_tag = report.image.as_ref().expect("image").tag.clone();
    let (verified, refusal) = flow::verify::verify(&pipeline, &app, &prod, &built_tag)
        .await
        .expect("verify");
    assert!(
        refusal.is_none() && verified.refused.is_none(),
        "{verified:?}"
    );
    let passed: Vec<(&str, bool)> = verified
        .checks
        .iter()
        .map(|c| (c.check, c.passed))
        .collect();
    assert_eq!(
        passed[..3],
        [("signature", true), ("sbom", true), ("provenance", true)],
        "{verified:?}"
    );
    assert!(
        verified.checks[2].detail.contains("built by local"),
        "{verified:?}"
    );
    let layers = pipeline
        .attachments
        .signatures(&repository, &digest)
        .await
        .expect("signatures");
    assert!(
        layers.iter().any(|l| cosign::verify_found(
            l,
            &pipeline.config.supply_chain.keys,
            &digest,
            Some(&repository)
        )
        .is_ok()),
        "{layers:?}"
    );

    // A build signed and with an SBOM goes to prod (approved, rolled out, smoke-tested).
    let sha = another_build(&pipeline, &docker, None).await;
    let digest: Digest = tests::digest_of(&pipeline, &sha)
        .await
        .parse()
        .expect("digest");
    // Nothing attached yet: verify refuses it as prod would, naming each missing piece.
    let tag = model::ImageTag::clean(sha.clone());
    let (verified, refusal) = flow::verify::verify(&pipeline, &app, &prod, &tag)
        .await
        .expect("verify");
    assert!(
        matches!(refusal, Some(Refusal::Unsigned { .. })),
        "{refusal:?}"
    );
    for check in &verified.checks[..3] {
        assert!(check.required && !check.passed, "{check:?}");
    }
    assert!(
        verified.checks[0]
            .others
            .iter()
            .any(|o| o.contains("no signature is stored beside the image")),
        "{verified:?}"
    );
    assert!(
        verified.checks[1].detail.contains("no SBOM is stored"),
        "{verified:?}"
    );
    pipeline
        .attachments
        .put_signature(&repository, &digest, &signature(&key, &repository, &digest))
        .await
        .expect("signature stored");
    pipeline
        .attachments
        .put_sbom(&repository, &digest, SBOM)
        .await
        .expect("sbom stored");
    for layer in [
        sbom_attestation(&key, &repository, &digest, SBOM),
        provenance_attestation(&key, &digest, &sha, "local"),
    ] {
        pipeline
            .attachments
            .put_attestation(&repository, &digest, &layer)
            .await
            .expect("attestation stored");
    }
    pretend_it_ran(&pipeline, "staging", &sha, digest.as_str());
    tests::request_and_approve(&pipeline, "prod", &sha, "alice", "bob").await;
    let (report, error) = promote::run(&pipeline, &options("prod", &sha, false), &Silent).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(report.environments[0].outcome, StageOutcome::Promoted);

    // The store unreadable: the gate refuses (fail closed), nothing written.
    let not_a_folder = dir.path().join("not-a-folder");
    std::fs::write(&not_a_folder, "").expect("file");
    pipeline.attachments = Attachments::Local(LocalAttachments::new(not_a_folder));
    let before = refs(dir.path());
    let (_, error) = promote::run(&pipeline, &options("prod", &sha, false), &Silent).await;
    let error = error.expect("refused");
    assert!(
        matches!(error, flow::Error::Plan(Refusal::EvidenceUnreadable { .. })),
        "{error}"
    );
    assert_eq!(refs(dir.path()), before);
}
