//! A promotion plan as a person reads it (`promote --dry-run`).

use std::fmt;

use super::{PromotionPlan, Stage};
use crate::approval::{GateStatus, names};
use crate::freeze::WindowGate;

impl fmt::Display for PromotionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = self.stages.last().map(|s| s.env.as_str()).unwrap_or("?");
        match self.apps.as_slice() {
            [one] => writeln!(
                f,
                "Plan: promote {} ({}) from {} to {target}, requested by {}",
                one.sha, one.digest, one.source, self.requested_by
            )?,
            several => {
                writeln!(
                    f,
                    "Plan: promote a release of {} apps to {target}, requested by {}",
                    several.len(),
                    self.requested_by
                )?;
                writeln!(
                    f,
                    "  release {} (what approvals are bound to)",
                    self.release
                )?;
                for m in several {
                    writeln!(
                        f,
                        "  - {} {} ({}) from {}",
                        m.app, m.sha, m.digest, m.source
                    )?;
                }
            }
        }
        writeln!(
            f,
            "  planned at {} from GitOps revision {}",
            self.planned_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.tip.short()
        )?;
        writeln!(f, "Checks passed:")?;
        for check in &self.checks {
            writeln!(f, "  - {}: {}", check.check, check.detail)?;
        }
        for (i, stage) in self.stages.iter().enumerate() {
            write!(f, "{}. ", i + 1)?;
            stage.fmt(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.env)?;
        let window = match &self.window {
            WindowGate::Open => "open now; decided again right before the write".to_owned(),
            WindowGate::BreakGlass { by, reason } => {
                format!("closed by {by}; passed with break-glass: {reason}")
            }
            WindowGate::Closed { by, opens_at } => format!(
                "closed by {by} until {}: refused now (wait, or --break-glass --reason TEXT)",
                opens_at.to_rfc3339()
            ),
        };
        writeln!(f, "   window:   {window}")?;
        let approval = match &self.approval.status {
            GateStatus::NotRequired => "not required".to_owned(),
            GateStatus::Approved { by } => format!("approved by {}", names(by)),
            GateStatus::Waiting {
                have,
                need,
                may_approve,
            } => format!(
                "{} of {need} given; may approve: {may_approve}; waits for the rest",
                have.len()
            ),
        };
        writeln!(f, "   approval: {approval}")?;
        let several = self.apps.len() > 1;
        for app in &self.apps {
            let name = if several {
                format!("{}: ", app.app)
            } else {
                String::new()
            };
            if app.edit.diff.is_empty() {
                writeln!(
                    f,
                    "   values:   {name}{} already names this build",
                    app.edit.path
                )?;
            } else {
                writeln!(f, "   values:   {name}{}", app.edit.path)?;
                for line in &app.edit.diff {
                    writeln!(f, "      {line}")?;
                }
            }
        }
        if several {
            writeln!(f, "   commit:   one GitOps commit for every app above")?;
        }
        for app in &self.apps {
            if let Some(canary) = &app.canary {
                writeln!(
                    f,
                    "   canary:   start one replica of it beside the old ones; compare them for {} by the analysis thresholds; pass: roll the rest, fail: roll {} back",
                    humantime::format_duration(canary.window),
                    self.env
                )?;
                if let Some(analysis) = &canary.analysis {
                    writeln!(f, "             evidence: {analysis}")?;
                }
            }
        }
        let order = self
            .apps
            .iter()
            .map(|a| a.app.as_str())
            .collect::<Vec<_>>()
            .join(", then ");
        if several {
            writeln!(
                f,
                "   deploy:   in dependency order ({order}): wait until {} runs each (up to {}), smoke-test every replica",
                self.env,
                humantime::format_duration(self.sync_timeout)
            )?;
        } else {
            writeln!(
                f,
                "   deploy:   wait until {} runs it (up to {}), smoke-test every replica",
                self.env,
                humantime::format_duration(self.sync_timeout)
            )?;
        }
        match self.monitor() {
            Some(m) => {
                let what = if several {
                    "every app"
                } else {
                    &self.env.to_string()
                };
                writeln!(
                    f,
                    "   monitor:  watch {what} for {} (every {}); roll {} back after {} failing round(s) in a row",
                    humantime::format_duration(m.duration),
                    humantime::format_duration(m.interval),
                    if several {
                        "every app of the release"
                    } else {
                        self.env.as_str()
                    },
                    m.failures
                )?;
                for app in &self.apps {
                    let name = if several {
                        format!("{}: ", app.app)
                    } else {
                        String::new()
                    };
                    match app.monitor.as_ref().and_then(|m| m.analysis.as_ref()) {
                        Some(analysis) => {
                            writeln!(f, "   analysis: {name}{}", analysis.thresholds)?;
                            writeln!(f, "   evidence: {name}{analysis}")?;
                        }
                        None => writeln!(f, "   analysis: {name}none (health only)")?,
                    }
                }
                Ok(())
            }
            None if self.apps.iter().any(|a| a.analysis_off) => writeln!(
                f,
                "   monitor:  none (--monitor 0); analysis off: nothing judges the build after the write"
            ),
            None => writeln!(f, "   monitor:  none"),
        }
    }
}
