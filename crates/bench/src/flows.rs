//! The flows benchmark: `ci` on a warm build and `promote --env prod --monitor 0` with the
//! approval already granted, on the local target, in a scratch GitOps repository and with
//! containers of their own; wall time per step. `ci` signs with a key made for the run and
//! prod requires the signature and the SBOM, so the figures include what signing (`ci: sign`)
//! and verification (`ci: verify`, and `promote prod: supply-chain verification`, timed on its
//! own in the same run) add; prod also requires provenance from this workstation, so `ci:
//! attest` and `promote prod: provenance verification` say what provenance adds to each (issue
//! #22's goal: under 50 ms each). Then what metric analysis adds to a monitored promotion (the
//! same watch without and with it).

use std::time::{Duration, Instant};

use ::supply_chain::cosign::SigningKey;
use adapters::attachments::{Attachments, LocalAttachments};
use adapters::docker;
use adapters::gitops::{GitOpsRepo, GitOpsSettings, seed_bare_repository};
use adapters::image::ImageBuilder;
use adapters::registry::Registry;
use adapters::target::{LocalTarget, Target};
use flow::ci::{self, CiOptions};
use flow::promote::{self, ApprovalMode, PromoteOptions};
use flow::steps::StepRecord;
use flow::supply_chain;
use flow::{Clock, Pipeline, approve};
use model::EnvName;
use model::report::Silent;
use policy::supply_chain::gate;

use super::Figure;

/// Milliseconds signing may add to `ci`, and verification to `promote` (issue #12).
const SUPPLY_CHAIN_GOAL_MS: f64 = 200.0;
/// Milliseconds provenance may add to `ci` and to the plan (issue #22).
const PROVENANCE_GOAL_MS: f64 = 50.0;
use context::workspace;

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let mut config = context::load_config()?;
    // One app's flows, as measured before apps: comparable with earlier figures.
    config.apps.truncate(1);
    // A key made for the run: its public half is the one configured, so prod's gate passes.
    let key = SigningKey::generate();
    config.supply_chain.keys = vec![key.public_key()];
    // Dev requires the signature here too, so ci's own gate (`ci: verify`) runs and is timed.
    config.environments[0].require_signature = Some(true);
    for env in &mut config.environments {
        if env.name.as_str() == "prod" {
            env.require_provenance = Some(true);
            env.builders = Some(vec![
                ::supply_chain::attest::provenance::LOCAL_BUILDER.to_owned(),
            ]);
        }
    }
    let dir = tempfile::tempdir()?;
    let remote = dir.path().join("gitops.git");
    seed_bare_repository(
        &remote,
        &workspace::root().join("gitops"),
        &config.gitops.branch,
        ("bench", "bench@paktech.invalid"),
    )?;
    let gitops = GitOpsRepo::open(
        GitOpsSettings {
            url: remote.display().to_string(),
            branch: config.gitops.branch.clone(),
            author_name: "bench".to_owned(),
            author_email: "bench@paktech.invalid".to_owned(),
            push_attempts: 10,
            token: None,
        },
        &dir.path().join("mirror.git"),
    )?;
    let docker = docker::connect().await?;
    let mut pipeline = Pipeline {
        workspace: workspace::root(),
        target: Target::Local(LocalTarget::new(docker.clone(), "bench-flows")),
        images: Some(ImageBuilder::new(docker.clone())),
        registry: Registry::Engine(docker),
        attachments: Attachments::Local(LocalAttachments::new(dir.path().join("attachments"))),
        clock: Clock::Fixed("2026-11-26T12:00:00Z".parse()?),
        slack: None,
        gitops,
        config,
        signing_key: Some(key),
    };
    let result = measure(&mut pipeline).await;
    for env in &pipeline.config.environments {
        let _ = local(&pipeline).teardown(&env.name).await;
    }
    result
}

/// The bench's pipeline always runs on the local target.
fn local(pipeline: &Pipeline) -> &LocalTarget {
    pipeline
        .target
        .as_local()
        .expect("the flows bench builds a local target")
}

async fn measure(pipeline: &mut Pipeline) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let ci_options = CiOptions {
        skip_tests: true,
        allow_dirty: true,
        ..CiOptions::new("bench".parse()?, "bench")
    };
    // Warm the build first, so the measured run is the warm-build case.
    let (warm, error) = ci::run(pipeline, &ci_options, &Silent).await;
    if let Some(error) = error {
        return Err(error.into());
    }
    for env in &pipeline.config.environments {
        local(pipeline).teardown(&env.name).await?;
    }
    let started = Instant::now();
    let (report, error) = ci::run(pipeline, &ci_options, &Silent).await;
    if let Some(error) = error {
        return Err(error.into());
    }
    figures.extend(steps(
        "ci",
        &report.steps,
        started.elapsed(),
        "ci --skip-tests on a warm build, dev deployed from scratch",
    ));

    let tag = warm
        .image
        .map(|i| i.tag)
        .ok_or_else(|| anyhow::anyhow!("ci built no image"))?;
    if tag.is_dirty() {
        eprintln!(
            "promote not measured: the work tree is dirty, and its <sha>-dirty build cannot be promoted; commit first"
        );
        return Ok(figures);
    }
    let sha = tag.sha().clone();
    let options = |env: &str| -> anyhow::Result<PromoteOptions> {
        Ok(PromoteOptions {
            env: env.parse()?,
            apps: Vec::new(),
            sha: Some(sha.clone()),
            dry_run: false,
            requested_by: "bench".parse()?,
            run_id: "bench".to_owned(),
            break_glass: None,
            approval: ApprovalMode::NoWait,
            monitor: Some(Duration::ZERO),
        })
    };
    let (_, error) = promote::run(pipeline, &options("staging")?, &Silent).await;
    if let Some(error) = error {
        return Err(error.into());
    }
    // As a person would: the first run records the request and stops at the gate, someone
    // else approves, the measured run goes through.
    match promote::run(pipeline, &options("prod")?, &Silent).await {
        (_, Some(flow::Error::AwaitingApproval { .. })) => {}
        (_, Some(error)) => return Err(error.into()),
        (_, None) => anyhow::bail!("prod was promoted without an approval"),
    }
    approve::approve(
        pipeline,
        &"prod".parse()?,
        Some(&sha),
        &"bench-approver".parse()?,
        None,
    )
    .await?;
    let started = Instant::now();
    let (report, error) = promote::run(pipeline, &options("prod")?, &Silent).await;
    if let Some(error) = error {
        return Err(error.into());
    }
    figures.extend(steps(
        "promote prod",
        &report.steps,
        started.elapsed(),
        "promote --env prod --monitor 0, approval granted, staging already at the build; 3 replicas rolled",
    ));
    // What the plan step spends on the supply chain: reading the signatures and the SBOM,
    // checking each signature, and the gate, for the digest prod pins.
    let digest = report
        .digest
        .ok_or_else(|| anyhow::anyhow!("promote reported no digest"))?;
    let prod: EnvName = "prod".parse()?;
    let started = Instant::now();
    let repository = &pipeline.config.apps[0].repository;
    let found =
        supply_chain::evidence(pipeline, repository, std::slice::from_ref(&prod), &digest).await;
    let required = pipeline.config.requirements(&prod);
    gate(&prod, &required, &digest, &sha, &found)?;
    figures.push(Figure {
        benchmark: "flows",
        name: "promote prod: supply-chain verification".to_owned(),
        value: started.elapsed().as_secs_f64() * 1e3,
        unit: "ms",
        goal: Some(format!("< {SUPPLY_CHAIN_GOAL_MS}")),
        method: "read the digest's signatures, SBOM and attestations from the local store, verify each, gate (part of promote's plan step)".to_owned(),
    });
    // Provenance's own share of it: reading and verifying the attestations, and the gate on
    // provenance alone.
    let started = Instant::now();
    let (_, provenance) = flow::attest::read(pipeline, repository, &digest, None)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let only_provenance = policy::supply_chain::Requirements {
        provenance: true,
        builders: required.builders.clone(),
        ..Default::default()
    };
    let evidence = policy::supply_chain::Evidence {
        provenance: Ok(provenance),
        ..policy::supply_chain::Evidence::not_read(digest.clone())
    };
    gate(&prod, &only_provenance, &digest, &sha, &evidence)?;
    figures.push(Figure {
        benchmark: "flows",
        name: "promote prod: provenance verification".to_owned(),
        value: started.elapsed().as_secs_f64() * 1e3,
        unit: "ms",
        goal: Some(format!("< {PROVENANCE_GOAL_MS}")),
        method: "read the digest's attestations from the local store, verify the DSSE envelope, check subject, commit and builder (part of promote's plan step)".to_owned(),
    });
    figures.extend(analysis_cost(pipeline, &options("prod")?).await?);
    Ok(figures)
}

/// What metric analysis adds to a monitored promotion: the same promotion (prod already at
/// the build, so nothing rolls) watched for the same window, without and then with prod's
/// `[environments.analysis]`, its synthetic load included.
async fn analysis_cost(
    pipeline: &mut Pipeline,
    options: &PromoteOptions,
) -> anyhow::Result<Vec<Figure>> {
    const WINDOW: Duration = Duration::from_secs(20);
    let Some(analysis) = pipeline.config.environment("prod")?.analysis.clone() else {
        eprintln!("analysis not measured: prod has no [environments.analysis] in pipeline.toml");
        return Ok(Vec::new());
    };
    let options = PromoteOptions {
        monitor: Some(WINDOW),
        ..options.clone()
    };
    let how = format!(
        "promote --env prod --monitor 20s of a build prod already runs (3 replicas, nothing rolled), every {}; the same run without and with analysis ({})",
        humantime::format_duration(pipeline.config.environment("prod")?.monitor_interval),
        analysis
            .load_rate
            .map_or_else(|| "no load".to_owned(), |r| format!("{r}/s synthetic load"))
    );
    let mut totals = Vec::new();
    let mut figures = Vec::new();
    for with in [false, true] {
        for env in &mut pipeline.config.environments {
            if env.name.as_str() == "prod" {
                env.analysis = with.then(|| analysis.clone());
            }
        }
        let started = Instant::now();
        let (report, error) = promote::run(pipeline, &options, &Silent).await;
        if let Some(error) = error {
            return Err(error.into());
        }
        let total = started.elapsed();
        totals.push(total.as_secs_f64());
        let flow = if with {
            "promote prod monitored, analysis"
        } else {
            "promote prod monitored, no analysis"
        };
        figures.extend(steps(flow, &report.steps, total, &how));
    }
    figures.push(Figure {
        benchmark: "flows",
        name: "analysis adds to a monitored promotion".to_owned(),
        value: totals[1] - totals[0],
        unit: "s",
        goal: None,
        method: how,
    });
    Ok(figures)
}

fn steps(flow: &str, records: &[StepRecord], total: Duration, how: &str) -> Vec<Figure> {
    let mut figures: Vec<Figure> = records
        .iter()
        .map(|s| {
            // Issue #12's goal for what signing and verification add, in milliseconds, and
            // issue #22's for what attesting provenance (and the SBOM) adds.
            let supply_chain = matches!(s.step.as_str(), "sign" | "verify" | "attest");
            let goal = if s.step == "attest" {
                PROVENANCE_GOAL_MS
            } else {
                SUPPLY_CHAIN_GOAL_MS
            };
            Figure {
                benchmark: "flows",
                name: format!("{flow}: {}", s.step),
                value: if supply_chain {
                    s.seconds * 1e3
                } else {
                    s.seconds
                },
                unit: if supply_chain { "ms" } else { "s" },
                goal: supply_chain.then(|| format!("< {goal}")),
                method: how.to_owned(),
            }
        })
        .collect();
    figures.push(Figure {
        benchmark: "flows",
        name: format!("{flow}: total"),
        value: total.as_secs_f64(),
        unit: "s",
        goal: (flow == "promote prod").then(|| "<= 15".to_owned()),
        method: how.to_owned(),
    });
    figures
}
