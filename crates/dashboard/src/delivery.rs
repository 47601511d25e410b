//! The delivery figures on the board: per environment, the figures of the last 30 days in
//! words beside a small chart of each over that time (server-rendered SVG with a `<title>` and
//! a `<desc>` giving every value, so it reads without script and to a screen reader), and the
//! same figures in Prometheus text for `GET /metrics`.

use std::fmt::Write;

use delivery::{self, Figures, Query, Report, Scope};

use crate::html::escape;
use ::delivery::words;
use context::delivery::Delivery;

/// The period the board shows, in days, and how many points each chart has.
pub const DAYS: i64 = 30;
pub const POINTS: usize = 15;
const DAY: i64 = 86_400;

/// The figures the board shows, counted at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The last [`DAYS`] days, up to the end of today (UTC), with charts.
    pub recent: Report,
    /// The whole history (what the `/metrics` counters count).
    pub all_time: Report,
    pub sources_reachable: bool,
}

/// Counts `delivery` at `now` (seconds since the epoch; the newest write when that is later)
/// for environments in `order`.
pub fn panel(delivery: &Delivery, now: i64, order: &[String]) -> Panel {
    // Whole days, so the charts' points stay put between polls.
    let until = (delivery.until(now).div_euclid(DAY) + 1) * DAY;
    let query = |since: i64, points: usize| Query {
        since,
        until,
        env: None,
        app: None,
        order: order.to_vec(),
        points,
    };
    Panel {
        recent: delivery::report(&delivery.changes, &query(until - DAYS * DAY, POINTS)),
        all_time: delivery::report(&delivery.changes, &query(i64::MIN / 2, 0)),
        sources_reachable: delivery.sources_reachable,
    }
}

/// `GET /metrics`: the panel in the Prometheus text exposition format.
pub fn exposition(panel: &Panel) -> String {
    delivery::exposition(&panel.all_time, &panel.recent)
}

/// The "Delivery" section: each environment's figures in words and charts.
pub fn write(out: &mut String, panel: Option<&Result<Panel, String>>) {
    out.push_str(
        "<section aria-labelledby=\"delivery\">\n<h2 id=\"delivery\">Delivery, last 30 days (DORA figures from the GitOps history)</h2>\n",
    );
    let panel = match panel {
        None => {
            out.push_str("<p>Not read yet.</p>\n</section>\n");
            return;
        }
        Some(Err(error)) => {
            let _ = writeln!(
                out,
                "<p class=\"state bad\">The delivery figures cannot be read: {}</p>\n</section>",
                escape(error)
            );
            return;
        }
        Some(Ok(panel)) => panel,
    };
    if !panel.sources_reachable {
        out.push_str("<p>Lead time unknown: the source repository cannot be opened.</p>\n");
    }
    let envs: Vec<&Scope> = panel
        .recent
        .scopes
        .iter()
        .filter(|s| s.app.is_none())
        .collect();
    if envs.is_empty() {
        out.push_str("<p>No deployments yet.</p>\n</section>\n");
        return;
    }
    out.push_str("<div class=\"lanes\">\n");
    for scope in envs {
        write_env(out, scope, &panel.recent);
    }
    out.push_str("</div>\n<p>The same figures for Grafana: <a href=\"/metrics\">/metrics</a> (Prometheus text).</p>\n</section>\n");
}

fn write_env(out: &mut String, scope: &Scope, report: &Report) {
    let env = escape(&scope.env);
    let _ = writeln!(
        out,
        "<article class=\"lane delivery\" id=\"figures-{env}\" aria-labelledby=\"delivery-{env}\">\n<h3 id=\"delivery-{env}\">{env}</h3>\n<dl>"
    );
    for (name, words) in words::lines(&scope.figures) {
        let _ = writeln!(out, "<dt>{name}</dt><dd>{}</dd>", escape(&words));
    }
    out.push_str("</dl>\n<div class=\"charts\">\n");
    for chart in CHARTS {
        write_chart(out, &scope.env, chart, &scope.series);
    }
    out.push_str("</div>\n");
    let apps: Vec<&Scope> = report
        .scopes
        .iter()
        .filter(|s| s.env == scope.env && s.app.is_some())
        .collect();
    if apps.len() > 1 {
        out.push_str("<details><summary>Per app</summary>\n<ul>\n");
        for app in apps {
            let f = &app.figures;
            let _ = writeln!(
                out,
                "<li><strong>{}</strong>: {} deployment(s), {} failed, {} rollback(s)</li>",
                escape(app.app.as_deref().unwrap_or_default()),
                f.deployments,
                f.failures,
                f.rollbacks
            );
        }
        out.push_str("</ul>\n</details>\n");
    }
    out.push_str("</article>\n");
}

/// One chart: what it shows and how to read a point's value.
struct Chart {
    name: &'static str,
    value: fn(&Figures) -> Option<f64>,
    words: fn(f64) -> String,
}

const CHARTS: &[Chart] = &[
    Chart {
        name: "deployments",
        value: |f| Some(f.deployments as f64),
        words: |v| format!("{v:.0}"),
    },
    Chart {
        name: "lead time p50",
        value: |f| f.lead_time.p50.map(|s| s as f64),
        words: |v| words::duration(v as i64),
    },
    Chart {
        name: "change failure rate",
        value: |f| f.change_failure_rate,
        words: words::percent,
    },
    Chart {
        name: "time to restore p50",
        value: |f| f.time_to_restore.p50.map(|s| s as f64),
        words: |v| words::duration(v as i64),
    },
];

const WIDTH: usize = 150;
const HEIGHT: usize = 36;

/// A bar per point (none where the point has no value), scaled to the largest value.
fn write_chart(out: &mut String, env: &str, chart: &Chart, series: &[delivery::Point]) {
    let values: Vec<Option<f64>> = series.iter().map(|p| (chart.value)(&p.figures)).collect();
    let top = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    let described: Vec<String> = series
        .iter()
        .zip(&values)
        .map(|(p, v)| {
            format!(
                "{} to {}: {}",
                day(p.start),
                day(p.end - 1),
                v.map_or_else(|| "none".to_owned(), chart.words)
            )
        })
        .collect();
    let id = format!("{}-{}", env, chart.name).replace(' ', "-");
    let _ = write!(
        out,
        "<figure class=\"chart\"><svg width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\">\
<title id=\"{id}-t\">{} in {}, per {} days</title><desc id=\"{id}-d\">{}</desc>\
<line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" stroke=\"#889\"/>",
        escape(chart.name),
        escape(env),
        DAYS / POINTS as i64,
        escape(&described.join("; ")),
    );
    let slot = WIDTH / values.len().max(1);
    for (i, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        let height = if top > 0.0 {
            ((value / top) * (HEIGHT as f64 - 2.0)).round().max(1.0)
        } else {
            1.0
        };
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\" fill=\"#3b6ea5\"/>",
            i * slot + 1,
            HEIGHT as f64 - height,
            slot.saturating_sub(2).max(1),
        );
    }
    let last = values
        .iter()
        .rev()
        .flatten()
        .next()
        .map_or_else(|| "none".to_owned(), |v| (chart.words)(*v));
    let _ = writeln!(
        out,
        "</svg><figcaption>{}: latest {}</figcaption></figure>",
        escape(chart.name),
        escape(&last)
    );
}

/// `2026-12-04` for seconds since the epoch.
fn day(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use adapters::delivery_log::Ledger;
    use delivery::{Kind, Write, changes};

    use super::*;

    /// Prod's history: a at 00:00 (source commit 1 h before), b at 01:00, b rolled back to a
    /// at 02:00, on 2026-12-01; the board read at noon that day.
    fn delivery() -> Delivery {
        let day = 1_796_083_200; // 2026-12-01T00:00:00Z
        let write = |hour: i64, kind, sha: &str| Write {
            revision: format!("r{hour}"),
            time: day + hour * 3_600,
            env: "prod".to_owned(),
            kind,
            builds: vec![("web".to_owned(), sha.to_owned())],
            break_glass: false,
            verdict: None,
            analysis: false,
            reverts: None,
        };
        let writes = vec![
            write(0, Kind::Promote, "a"),
            write(1, Kind::Promote, "b"),
            write(2, Kind::Rollback, "a"),
        ];
        Delivery {
            changes: changes(&writes, |sha| (sha == "a").then_some(day - 3_600)),
            ledger: Ledger {
                tip: "e".repeat(40).parse().expect("sha"),
                writes,
                walked: 3,
                rebuilt: None,
            },
            sources_reachable: true,
        }
    }

    #[test]
    fn each_environment_has_its_figures_in_words_beside_charts_with_text() {
        let panel = panel(&delivery(), 1_796_126_400, &["prod".to_owned()]);
        let mut html = String::new();
        write(&mut html, Some(&Ok(panel.clone())));
        // 2 deployments, 1 rolled back: 50.0%; restored after 2 - 1 = 1 h; lead time of a: 1 h.
        for expected in [
            "<h3 id=\"delivery-prod\">prod</h3>",
            "<dt>deployments</dt><dd>2 (0.07 a day)</dd>",
            "1 of 2 deployment(s) rolled back (50.0%)",
            "p50 1h 0m, p90 1h 0m (1 failure(s) restored); 0 not restored yet",
            "role=\"img\" aria-labelledby=\"prod-deployments-t prod-deployments-d\"",
            "<title id=\"prod-deployments-t\">deployments in prod, per 2 days</title>",
            "2026-11-30 to 2026-12-01: 2",
            "<figcaption>change failure rate: latest 50.0%</figcaption>",
            "<a href=\"/metrics\">/metrics</a>",
        ] {
            assert!(html.contains(expected), "{expected} missing from {html}");
        }
        assert_eq!(html.matches("<svg ").count(), 4, "four charts");
        assert!(html.contains("<rect "), "the deployments are drawn");
        let text = exposition(&panel);
        assert!(text.contains("paktech_delivery_deployments_total{env=\"prod\",app=\"web\"} 2\n"));
        assert!(text.contains("paktech_delivery_env_change_failure_ratio{env=\"prod\"} 0.5\n"));
    }

    #[test]
    fn a_failed_read_and_an_empty_history_are_said() {
        let check = |panel: Option<&Result<Panel, String>>, expected: &str| {
            let mut html = String::new();
            write(&mut html, panel);
            assert!(html.contains(expected), "{html}");
        };
        check(None, "Not read yet.");
        check(
            Some(&Err("cannot fetch <main>".to_owned())),
            "cannot be read: cannot fetch &lt;main&gt;",
        );
        let empty = Delivery {
            changes: changes(&[], |_| None),
            sources_reachable: false,
            ..delivery()
        };
        let panel = panel(&empty, 0, &[]);
        check(Some(&Ok(panel.clone())), "No deployments yet.");
        check(Some(&Ok(panel)), "Lead time unknown");
    }
}
