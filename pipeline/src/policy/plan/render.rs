//! A promotion plan as a person reads it (`promote --dry-run`).

use std::fmt;

use super::{PromotionPlan, Stage};
use crate::policy::approval::{GateStatus, names};
use crate::policy::freeze::WindowGate;

impl fmt::Display for PromotionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = self.stages.last().map(|s| s.env.as_str()).unwrap_or("?");
        writeln!(
            f,
            "Plan: promote {} ({}) from {} to {target}, requested by {}",
            self.sha, self.digest, self.source, self.requested_by
        )?;
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
        if self.edit.diff.is_empty() {
            writeln!(
                f,
                "   values:   {} already names this build",
                self.edit.path
            )?;
        } else {
            writeln!(f, "   values:   {}", self.edit.path)?;
            for line in &self.edit.diff {
                writeln!(f, "      {line}")?;
            }
        }
        if let Some(canary) = &self.canary {
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
        writeln!(
            f,
            "   deploy:   wait until {} runs it (up to {}), smoke-test every replica",
            self.env,
            humantime::format_duration(self.sync_timeout)
        )?;
        match &self.monitor {
            Some(m) => {
                writeln!(
                    f,
                    "   monitor:  watch for {} (every {}); roll {} back after {} failing round(s) in a row",
                    humantime::format_duration(m.duration),
                    humantime::format_duration(m.interval),
                    self.env,
                    m.failures
                )?;
                match &m.analysis {
                    Some(analysis) => {
                        writeln!(f, "   analysis: {}", analysis.thresholds)?;
                        writeln!(f, "   evidence: {analysis}")
                    }
                    None => writeln!(f, "   analysis: none (health only)"),
                }
            }
            None if self.analysis_off => writeln!(
                f,
                "   monitor:  none (--monitor 0); analysis off: nothing judges the build after the write"
            ),
            None => writeln!(f, "   monitor:  none"),
        }
    }
}
