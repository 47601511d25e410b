//! The analysis' evidence in the plan: a window that cannot reach the minimum is refused,
//! the load is raised within the target's bound where that reaches it, and the plan says so.

use super::*;

/// prod's analysis: the committed thresholds (a 2× error comparison, extended once) with
/// `load` (`load_rate = …`, or nothing).
fn analysed(load: &str) -> PipelineConfig {
    config(&format!(
        "[environments.analysis]\nmax_error_ratio = 0.05\nmax_p99 = \"250ms\"\nmin_requests = 50\nbaseline_error_factor = 2.0\nbaseline_p99_factor = 3.0\ninconclusive = \"extend\"\n{load}\n"
    ))
}

/// The statistics' minimum at the committed thresholds (two possible ends).
fn minimum() -> u64 {
    let config = analysed("");
    let thresholds = config.environments[2]
        .analysis
        .as_ref()
        .expect("a")
        .thresholds();
    crate::analysis::power::minimum_requests(&thresholds, 2).requests
}

fn analysis(planned: &PromotionPlan) -> AnalysisStep {
    let monitor = planned.stages[0].monitor().expect("watched");
    monitor.analysis.clone().expect("analysed")
}

#[test]
fn a_window_that_holds_the_minimum_keeps_its_load_and_prints_the_error_rates() {
    let n = minimum();
    assert!((1000..5000).contains(&n), "{n}");
    // 5m at 7/s: 2100 requests.
    let planned = plan_for(&analysed("load_rate = 7.0"), None, TargetKind::Local).expect("plan");
    let step = analysis(&planned);
    assert_eq!((step.load_rate, step.raised_from), (Some(7.0), None));
    assert_eq!(step.minimum, n);
    assert!(step.from_power);
    let text = planned.to_string();
    let rates = format!(
        "   evidence: false rollbacks ≤ 1%; a 3× worse error ratio caught 9 times in 10 at ≥ {n} requests per window; 7 synthetic requests/s reach them in 5m\n"
    );
    assert!(text.contains(&rates), "{text}");
    let json = serde_json::to_value(&planned).expect("json");
    let analysis = &json["stages"][0]["apps"][0]["monitor"]["analysis"];
    assert_eq!(analysis["minimum"], n);
    assert_eq!(analysis["load_rate"], 7.0);
    assert!(analysis["raised_from"].is_null());
}

#[test]
fn a_load_too_low_for_the_window_is_raised_within_the_targets_bound_and_the_plan_says_so() {
    let n = minimum() as f64;
    for (target, monitor, bound) in [
        (TargetKind::Local, Duration::from_secs(60), 200.0),
        (TargetKind::Kube, Duration::from_secs(300), 10.0),
    ] {
        let planned = plan_for(&analysed("load_rate = 2.0"), Some(monitor), target).expect("plan");
        let step = analysis(&planned);
        let rate = step.load_rate.expect("a load");
        assert_eq!(step.raised_from, Some(2.0), "{target}");
        // Enough, and not more than a tenth above what is needed.
        assert!(rate * monitor.as_secs_f64() >= n, "{target}: {rate}");
        assert!((rate - 0.1) * monitor.as_secs_f64() < n, "{target}: {rate}");
        assert!(rate <= bound, "{target}: {rate}");
        let text = planned.to_string();
        assert!(
            text.contains(&format!(
                "load raised from 2 to {rate} synthetic requests/s"
            )),
            "{text}"
        );
    }
}

#[test]
fn a_window_too_short_at_the_targets_bound_is_refused_naming_the_shortest_that_can() {
    let n = minimum();
    for (target, monitor, bound) in [
        (TargetKind::Local, Duration::from_secs(2), 200.0),
        (TargetKind::Kube, Duration::from_secs(60), 10.0),
    ] {
        let refused =
            plan_for(&analysed("load_rate = 5.0"), Some(monitor), target).expect_err("too short");
        let shortest = (n as f64 / bound).ceil() as u64;
        let Refusal::WindowTooShort {
            minimum,
            shortest: named,
            ..
        } = &refused
        else {
            panic!("{refused:?}");
        };
        assert_eq!(*minimum, n);
        assert_eq!(*named, Duration::from_secs(shortest));
        let expected = humantime::format_duration(*named).to_string();
        // The one named is long enough at the bound, a second less is not.
        let ok = plan_for(
            &analysed("load_rate = 5.0"),
            Some(Duration::from_secs(shortest)),
            target,
        );
        assert!(ok.is_ok(), "{target}: {ok:?}");
        let less = Duration::from_secs(shortest - 1);
        assert!(plan_for(&analysed("load_rate = 5.0"), Some(less), target).is_err());
        let message = refused.to_string();
        assert!(
            message.contains(&format!("--monitor {expected}")),
            "{message}"
        );
    }
}

#[test]
fn a_load_above_the_proxy_bound_is_refused_on_a_cluster_only() {
    let config = analysed("load_rate = 50.0");
    let refused = plan_for(&config, None, TargetKind::Kube).expect_err("refused");
    assert!(
        matches!(refused, Refusal::LoadAboveBound { .. }),
        "{refused:?}"
    );
    assert!(plan_for(&config, None, TargetKind::Local).is_ok());
}

#[test]
fn without_load_the_plan_relies_on_real_traffic_and_says_how_much() {
    let n = minimum();
    let planned = plan_for(&analysed(""), None, TargetKind::Kube).expect("plan");
    assert_eq!(analysis(&planned).load_rate, None);
    let text = planned.to_string();
    assert!(
        text.contains(&format!(
            "no synthetic load: relies on real traffic, {n} request(s) in 5m"
        )),
        "{text}"
    );
}

#[test]
fn monitor_zero_turns_the_analysis_off_and_says_so() {
    let planned = plan_for(
        &analysed("load_rate = 7.0"),
        Some(Duration::ZERO),
        TargetKind::Local,
    )
    .expect("plan");
    assert!(planned.stages[0].monitor().is_none());
    assert!(planned.stages[0].apps[0].analysis_off);
    let text = planned.to_string();
    assert!(
        text.contains("monitor:  none (--monitor 0); analysis off"),
        "{text}"
    );
    // Without an analysis a switched-off watch is just none.
    let plain = plan_for(&config(""), Some(Duration::ZERO), TargetKind::Local).expect("plan");
    assert!(!plain.stages[0].apps[0].analysis_off);
}

#[test]
fn a_canary_gives_each_side_half_the_load_and_needs_the_minimum_on_each() {
    let n = minimum() as f64;
    // `canary` is prod's own key: before the analysis table.
    let with_canary = |window: &str| {
        let analysis = "[environments.analysis]\nmax_error_ratio = 0.05\nmax_p99 = \"250ms\"\nmin_requests = 50\nbaseline_error_factor = 2.0\nbaseline_p99_factor = 3.0\ninconclusive = \"extend\"\nload_rate = 7.0\n";
        config(&format!("canary = \"{window}\"\n{analysis}"))
    };
    let config = with_canary("60s");
    let planned = plan_for(&config, None, TargetKind::Local).expect("plan");
    let canary = planned.stages[0].apps[0].canary.clone().expect("canary");
    let step = canary.analysis.expect("analysed");
    let rate = step.load_rate.expect("load");
    assert_eq!(step.raised_from, Some(7.0));
    assert!(rate / 2.0 * 60.0 >= n, "{rate}");
    // The watch after it keeps its own figure.
    assert_eq!(analysis(&planned).load_rate, Some(7.0));
    // A canary of 5s cannot: each side would need more than the bound gives.
    let short = with_canary("5s");
    let refused = plan_for(&short, None, TargetKind::Local).expect_err("refused");
    assert!(
        matches!(&refused, Refusal::WindowTooShort { what: "canary", .. }),
        "{refused:?}"
    );
}

#[test]
fn the_committed_configurations_plan_prod_without_raising_their_load() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (file, target) in [
        ("pipeline.toml", TargetKind::Local),
        ("pipeline.aks.toml", TargetKind::Kube),
    ] {
        let path = workspace.join(file);
        // The AKS file is a template its job fills in; a registry name makes it parse.
        let text = std::fs::read_to_string(&path)
            .expect(file)
            .replace("@ACR_LOGIN_SERVER@", "paktech.azurecr.io");
        let config = PipelineConfig::parse_in(&path, &text, &workspace).expect(file);
        let prod = config.environments.last().expect("prod");
        // The watch's sizing alone: the supply-chain gate wants evidence this test has not.
        let (monitor, _) = crate::plan::sizing::monitor(prod, None, target)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let step = monitor.and_then(|m| m.analysis).expect("analysed");
        assert_eq!(step.raised_from, None, "{file}: {step:?}");
        assert!(
            step.load_rate.is_some_and(|r| r <= target.max_load_rate()),
            "{file}"
        );
    }
}
