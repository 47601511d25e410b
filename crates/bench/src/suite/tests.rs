use super::*;

/// A report nextest 0.9.143 wrote (`cargo nextest run --profile ci` over three tests of this
/// workspace, with the `services` setup script), kept as written: the shape `figures` reads is
/// nextest's, not ours.
const REPORT: &str = include_str!("../../tests/fixtures/nextest-junit.xml");

#[test]
fn the_wall_time_the_sum_and_the_slowest_tests_come_from_the_report() {
    let figures = figures(REPORT, 2).expect("a nextest report");
    let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "suite wall time",
            "sum of test times (reference)",
            "slowest test #1",
            "slowest test #2"
        ]
    );
    let document = roxmltree::Document::parse(REPORT).expect("xml");
    let wall: f64 = document
        .root_element()
        .attribute("time")
        .and_then(|t| t.parse().ok())
        .expect("the run's time");
    assert_eq!(figures[0].value, wall);
    assert_eq!(figures[0].goal.as_deref(), Some("<= 300"));
    assert!(
        figures[0].method.contains("3 tests, 0 failed"),
        "{:?}",
        figures[0]
    );
    let times: Vec<f64> = document
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.attribute("classname") != Some("@setup-script:services"))
        .filter_map(|n| n.attribute("time")?.parse().ok())
        .collect();
    assert_eq!(times.len(), 3);
    assert!((figures[1].value - times.iter().sum::<f64>()).abs() < 1e-9);
    assert!(figures[2].value >= figures[3].value);
    assert!(figures[2].method.contains("::"), "{:?}", figures[2]);
}

#[test]
fn a_missing_report_says_which_command_writes_it() {
    let dir = tempfile::tempdir().expect("dir");
    let err = read(
        dir.path(),
        &Options {
            profile: "default".into(),
            slowest: 5,
        },
    )
    .expect_err("no report");
    let said = format!("{err:#}");
    assert!(
        said.contains("nextest/default/junit.xml")
            && said.contains("cargo nextest run --workspace"),
        "{said}"
    );
}

#[test]
fn a_report_of_another_shape_is_refused_by_name() {
    let err = figures("<testsuite tests=\"1\"/>", 5).expect_err("not nextest's");
    assert!(err.to_string().contains("expected <testsuites>"), "{err}");
    let err = figures("<testsuites tests=\"1\"/>", 5).expect_err("no time");
    assert!(err.to_string().contains("no time"), "{err}");
}
