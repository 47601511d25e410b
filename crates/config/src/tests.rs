//! `pipeline.toml` read and refused: table-driven checks of every key and of the apps.

use super::*;

/// Two environments, as little else as parses; other modules' tests build on it.
pub(super) const GOOD: &str = r#"
[app]
name = "paktech-app"
[image]
repository = "paktech-app"
[[environments]]
name = "dev"
namespace = "paktech-dev"
[[environments]]
name = "prod"
namespace = "paktech-prod"
approvals = 1
monitor = "5m"
sync_timeout = "90s"
"#;

fn check(text: &str, expected_error: &str) {
    let err = PipelineConfig::parse(Path::new("pipeline.toml"), text).expect_err("refused");
    let message = err.to_string();
    assert!(message.starts_with("pipeline.toml: "), "{message}");
    assert!(
        message.contains(expected_error),
        "{message}\nexpected to contain: {expected_error}"
    );
}

#[test]
fn good_config_parses_with_defaults() {
    let c = PipelineConfig::parse(Path::new("pipeline.toml"), GOOD).expect("parse");
    assert_eq!(c.environments.len(), 2);
    assert_eq!(c.first().name.as_str(), "dev");
    let prod = c.environment("prod").expect("prod");
    assert_eq!(prod.monitor, Duration::from_secs(300));
    assert_eq!(prod.sync_timeout, Duration::from_secs(90));
    assert_eq!(
        c.environment("dev").expect("dev").sync_timeout,
        Duration::from_secs(120)
    );
    assert_eq!(c.previous(&prod.name).map(|e| e.name.as_str()), Some("dev"));
    assert_eq!(c.gitops.branch, "main");
    assert_eq!(c.local.prefix, "paktech");
    assert!(c.scan.fail_on.is_none());
    assert_eq!(
        c.values_path(&c.apps[0].name, &prod.name),
        "apps/paktech-app/prod/values.yaml"
    );
}

#[test]
fn refusals_name_the_key_and_what_was_expected() {
    check(
        &format!("{GOOD}\n[surprise]\nx = 1\n"),
        "unknown field `surprise`",
    );
    check(
        &GOOD.replace("[image]\nrepository = \"paktech-app\"\n", ""),
        "missing field `image`",
    );
    check(
        &GOOD.replace("monitor = \"5m\"", "monitor = \"soon\""),
        "expected a duration such as 90s",
    );
    check(
        &GOOD.replace("name = \"prod\"", "name = \"../prod\""),
        "expected lowercase letters",
    );
    check(
        &GOOD.replace("name = \"prod\"", "name = \"dev\""),
        "\"dev\" appears twice",
    );
    check(
        &GOOD.replace("repository = \"paktech-app\"", "repository = \"Bad Repo\""),
        "image repository",
    );
    check("[app\n", "TOML parse error");
    check(
        &format!("{GOOD}\n[scan]\nfail_on = \"catastrophic\"\n"),
        "unknown variant `catastrophic`",
    );
    for prefix in ["", "-paktech", "pak tech", "paktech/dev"] {
        check(
            &format!("{GOOD}\n[local]\nprefix = {prefix:?}\n"),
            &format!(
                "local.prefix: {prefix:?} cannot start a Docker network's or container's name; expected a letter or digit"
            ),
        );
    }
    let named = format!("{GOOD}\n[local]\nprefix = \"acme.shop_2\"\n");
    let c = PipelineConfig::parse(Path::new("pipeline.toml"), &named).expect("parse");
    assert_eq!(c.local.prefix, "acme.shop_2");
}

const ANALYSIS: &str = r#"
[environments.analysis]
max_error_ratio = 0.05
max_p99 = "250ms"
min_requests = 20
baseline_error_factor = 2.0
inconclusive = "extend"
load_rate = 5.0
"#;

#[test]
fn analysis_table_parses_and_refuses_bad_values() {
    let c = PipelineConfig::parse(Path::new("pipeline.toml"), &format!("{GOOD}{ANALYSIS}"))
        .expect("parse");
    let prod = c.environment("prod").expect("prod");
    let analysis = prod.analysis.as_ref().expect("prod's analysis");
    assert_eq!(analysis.max_p99, Duration::from_millis(250));
    assert_eq!(analysis.load_rate, Some(5.0));
    assert_eq!(analysis.thresholds().baseline_p99_factor, None);
    assert!(c.environment("dev").expect("dev").analysis.is_none());
    let with = |from: &str, to: &str| format!("{GOOD}{}", ANALYSIS.replace(from, to));
    for (text, expected) in [
        (
            with("max_error_ratio = 0.05", "max_error_ratio = 5"),
            "environments[1].analysis.max_error_ratio: 5 is not a ratio",
        ),
        (
            with("\"250ms\"", "\"0s\""),
            "analysis.max_p99: 0s would fail every window",
        ),
        (
            with("min_requests = 20", "min_requests = 0"),
            "analysis.min_requests: expected at least 1",
        ),
        (
            with("= 2.0", "= 0.5"),
            "analysis.baseline_error_factor: expected a number of at least 1",
        ),
        (
            with("load_rate = 5.0", "load_rate = 5000.0"),
            "analysis.load_rate: expected requests per second above 0 and at most 200",
        ),
        (
            with("\"extend\"", "\"maybe\""),
            "unknown variant `maybe`, expected one of `pass`, `fail`, `extend`",
        ),
        (
            with("min_requests = 20", "min_requests = 20\nsurprise = 1"),
            "unknown field `surprise`",
        ),
        (
            format!("{GOOD}{ANALYSIS}").replace("monitor = \"5m\"", "monitor = \"0s\""),
            "environments[1].analysis: set, but monitor is 0s",
        ),
    ] {
        check(&text, expected);
    }
}

/// Two apps, the second listed first and depending on the other.
const APPS: &str = r#"
[[apps]]
name = "paktech-gateway"
repository = "paktech-gateway"
depends_on = ["paktech-app"]
[apps.environments.prod]
approvals = 2
[[apps]]
name = "paktech-app"
repository = "paktech-app"
[[environments]]
name = "dev"
namespace = "paktech-dev"
[[environments]]
name = "prod"
namespace = "paktech-prod"
approvals = 1
monitor = "5m"
"#;

#[test]
fn several_apps_read_in_dependency_order_with_their_own_rules() {
    let c = PipelineConfig::parse(Path::new("pipeline.toml"), APPS).expect("parse");
    let names: Vec<&str> = c.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["paktech-app", "paktech-gateway"]);
    let gateway = c.app("paktech-gateway").expect("gateway");
    assert_eq!(gateway.package(), "paktech-gateway");
    assert_eq!(gateway.chart(), "helm/paktech-gateway");
    let prod: EnvName = "prod".parse().expect("env");
    assert_eq!(c.for_app(gateway, &prod).approvals, 2);
    assert_eq!(
        c.for_app(c.app("paktech-app").expect("app"), &prod)
            .approvals,
        1
    );
    assert_eq!(
        c.values_path(&gateway.name, &prod),
        "apps/paktech-gateway/prod/values.yaml"
    );
    assert_eq!(c.application(&gateway.name, &prod), "paktech-gateway-prod");
    assert_eq!(c.system_name(), "paktech-app");
    assert_eq!(
        c.app("paktech-db").expect_err("unknown").to_string(),
        "unknown app \"paktech-db\": expected one of paktech-app, paktech-gateway"
    );
    // The one-app form reads as one app, rebuilt on any change of the workspace.
    let one = PipelineConfig::parse(Path::new("pipeline.toml"), GOOD).expect("parse");
    assert_eq!(one.apps.len(), 1);
    assert_eq!(one.apps[0].paths, ["."]);
    assert_eq!(one.system_name(), "paktech-app");
}

#[test]
fn a_set_of_apps_is_refused_when_it_cannot_be_delivered() {
    let both = format!("{APPS}\n[app]\nname = \"x\"\n[image]\nrepository = \"x\"\n");
    check(&both, "[app] and [[apps]] both set");
    check(
        &APPS.replace(
            "name = \"paktech-app\"\nrepository",
            "name = \"paktech-gateway\"\nrepository",
        ),
        "apps[1].name: \"paktech-gateway\" appears twice",
    );
    check(
        &APPS.replace(
            "repository = \"paktech-app\"",
            "repository = \"registry.example.com/paktech-app\"",
        ),
        "is in another registry than",
    );
    check(
        &APPS.replace("[apps.environments.prod]", "[apps.environments.qa]"),
        "apps[0].environments.qa: not an environment of this file",
    );
    check(
        &APPS.replace("approvals = 2", "surprise = 2"),
        "unknown field `surprise`",
    );
    check(
        &GOOD.replace("[image]\nrepository = \"paktech-app\"\n", ""),
        "[app] needs [image]",
    );
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let c = PipelineConfig::parse(Path::new("pipeline.toml"), GOOD).expect("parse");
    let err = c.environment("qa").expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown environment \"qa\": expected one of dev, prod"
    );
}

#[test]
fn a_canary_is_a_window_and_refused_when_it_cannot_judge() {
    let canary =
        |line: &str| GOOD.replace("monitor = \"5m\"", &format!("monitor = \"5m\"\n{line}"));
    let with = |line: &str| format!("{}{ANALYSIS}", canary(line));
    let c = PipelineConfig::parse(Path::new("pipeline.toml"), &with("canary = \"30s\""))
        .expect("parse");
    let prod = c.environment("prod").expect("prod");
    assert_eq!(prod.canary, Some(Duration::from_secs(30)));
    assert_eq!(c.environment("dev").expect("dev").canary, None);
    check(
        &with("canary = \"0s\""),
        "environments[1].canary: 0s compares nothing",
    );
    check(
        &with("canary = \"soon\""),
        "expected a duration such as 90s",
    );
    // A canary is judged by the environment's analysis thresholds: none, no canary.
    check(
        &canary("canary = \"30s\""),
        "environments[1].canary: set, but there is no [environments.analysis] table",
    );
}
