//! Sync windows, as Argo CD defines them in an AppProject's `spec.syncWindows`: a cron schedule,
//! a duration and a time zone, of kind allow or deny, for matching applications or namespaces.
//! Deny wins over allow; where allow windows exist, outside all of them is closed.
//! Rollbacks always pass (the project allows manual syncs so they can); promotions may not.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use model::values::Document;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: spec.syncWindows[{index}].{key} is {value:?}: expected {expected}")]
pub struct InvalidWindow {
    pub file: String,
    pub index: usize,
    pub key: &'static str,
    pub value: String,
    pub expected: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    Allow,
    Deny,
}

/// One sync window.
#[derive(Debug, Clone)]
pub struct SyncWindow {
    pub kind: WindowKind,
    pub schedule: String,
    cron: Cron,
    pub duration: Duration,
    pub time_zone: Tz,
    pub applications: Vec<String>,
    pub namespaces: Vec<String>,
    pub manual_sync: bool,
}

/// What is being synced: a promotion may not pass a closed window; a rollback always may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPurpose {
    Promotion,
    Rollback,
}

/// Whether a sync may happen now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "window", rename_all = "snake_case")]
pub enum WindowDecision {
    Open,
    /// A rollback passing a closed window, which it may.
    OpenForRollback {
        closed_by: String,
    },
    Closed {
        by: String,
        opens_at: DateTime<Utc>,
    },
}

impl SyncWindow {
    /// `kind schedule for duration (time zone)`, for messages.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            WindowKind::Allow => "allow",
            WindowKind::Deny => "deny",
        };
        format!(
            "{kind} window \"{}\" for {} ({})",
            self.schedule,
            humantime::format_duration(self.duration),
            self.time_zone
        )
    }

    /// Whether the window applies to this application or namespace (`*` wildcards).
    pub fn applies_to(&self, application: &str, namespace: &str) -> bool {
        self.applications.iter().any(|p| glob(p, application))
            || self.namespaces.iter().any(|p| glob(p, namespace))
    }

    /// The start of the occurrence covering `t`, if the window is active at `t`.
    pub fn active_since(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let d = chrono::Duration::from_std(self.duration).ok()?;
        let from = (t - d).with_timezone(&self.time_zone);
        let start = self.cron.find_next_occurrence(&from, false).ok()?;
        let start = start.with_timezone(&Utc);
        (start <= t).then_some(start)
    }

    fn end_of(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        start + chrono::Duration::from_std(self.duration).unwrap_or_default()
    }

    fn next_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.time_zone), true)
            .ok()
            .map(|s| s.with_timezone(&Utc))
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(tail) = text.strip_prefix(prefix) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob(rest, &tail[i..]))
        }
    }
}

/// Reads `spec.syncWindows` of an AppProject document.
pub fn windows_from_appproject(doc: &Document) -> Result<Vec<SyncWindow>, InvalidWindow> {
    let mut windows = Vec::new();
    for index in 0.. {
        let base = format!("spec.syncWindows[{index}]");
        if doc.under(&base).next().is_none() {
            break;
        }
        let invalid = |key: &'static str, value: &str, expected: &'static str| InvalidWindow {
            file: doc.file().to_owned(),
            index,
            key,
            value: value.to_owned(),
            expected,
        };
        let get = |key: &str| {
            doc.get(&format!("{base}.{key}"))
                .unwrap_or_default()
                .to_owned()
        };
        let kind = match get("kind").as_str() {
            "allow" => WindowKind::Allow,
            "deny" => WindowKind::Deny,
            other => return Err(invalid("kind", other, "allow or deny")),
        };
        let schedule = get("schedule");
        let cron = Cron::from_str(&schedule).map_err(|_| {
            invalid(
                "schedule",
                &schedule,
                "a cron schedule such as \"0 22 * * *\"",
            )
        })?;
        let duration_text = get("duration");
        let duration = humantime::parse_duration(&duration_text)
            .map_err(|_| invalid("duration", &duration_text, "a duration such as 8h or 30m"))?;
        let zone = get("timeZone");
        let time_zone = if zone.is_empty() {
            Tz::UTC
        } else {
            zone.parse::<Tz>().map_err(|_| {
                invalid(
                    "timeZone",
                    &zone,
                    "an IANA time zone such as UTC or Europe/London",
                )
            })?
        };
        let list = |key: &str| -> Vec<String> {
            doc.under(&format!("{base}.{key}["))
                .map(|(_, v)| v.to_owned())
                .collect()
        };
        windows.push(SyncWindow {
            kind,
            schedule,
            cron,
            duration,
            time_zone,
            applications: list("applications"),
            namespaces: list("namespaces"),
            manual_sync: get("manualSync") == "true",
        });
    }
    Ok(windows)
}

/// May `application` in `namespace` be synced at `now` for `purpose`?
pub fn decide(
    windows: &[SyncWindow],
    application: &str,
    namespace: &str,
    now: DateTime<Utc>,
    purpose: SyncPurpose,
) -> WindowDecision {
    let relevant: Vec<&SyncWindow> = windows
        .iter()
        .filter(|w| w.applies_to(application, namespace))
        .collect();
    let Some(closed_by) = closing_window(&relevant, now) else {
        return WindowDecision::Open;
    };
    if purpose == SyncPurpose::Rollback {
        return WindowDecision::OpenForRollback {
            closed_by: closed_by.describe(),
        };
    }
    WindowDecision::Closed {
        by: closed_by.describe(),
        opens_at: opens_at(&relevant, now),
    }
}

/// The window that keeps `t` closed, if any: an active deny, or (where allow windows exist)
/// the first allow window when none is active.
fn closing_window<'w>(windows: &[&'w SyncWindow], t: DateTime<Utc>) -> Option<&'w SyncWindow> {
    if let Some(deny) = windows
        .iter()
        .find(|w| w.kind == WindowKind::Deny && w.active_since(t).is_some())
    {
        return Some(deny);
    }
    let allows: Vec<&&SyncWindow> = windows
        .iter()
        .filter(|w| w.kind == WindowKind::Allow)
        .collect();
    if !allows.is_empty() && !allows.iter().any(|w| w.active_since(t).is_some()) {
        return allows.first().map(|w| **w);
    }
    None
}

/// The first moment from `t` on when no window keeps syncs closed.
fn opens_at(windows: &[&SyncWindow], t: DateTime<Utc>) -> DateTime<Utc> {
    let mut at = t;
    // Overlapping and chained windows can push the opening out; a year of minutes is the bound.
    for _ in 0..10_000 {
        let Some(window) = closing_window(windows, at) else {
            return at;
        };
        at = match window.kind {
            WindowKind::Deny => window
                .active_since(at)
                .map_or(at, |start| window.end_of(start)),
            WindowKind::Allow => windows
                .iter()
                .filter(|w| w.kind == WindowKind::Allow)
                .filter_map(|w| w.next_start(at))
                .min()
                .unwrap_or(at),
        };
    }
    at
}

#[cfg(test)]
mod tests;
