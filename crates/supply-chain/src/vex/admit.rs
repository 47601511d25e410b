//! Which VEX documents the pipeline trusts: signed by a configured key (a detached `.sig`
//! beside the file), written by an accepted author, every statement current. A document that
//! fails any of these is refused whole: a gate fails closed rather than apply half a file.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::document::{self, Document};
use super::{Location, Reason, Refusal, Result};
use crate::keys::{self, PublicKey};

/// How far ahead of the clock a statement may be dated (clocks differ a little).
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// What a VEX document must satisfy, from `[supply_chain.vex]` and the supply-chain keys.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// Accepted authors; empty accepts any (the signing key is then the only check).
    pub authors: &'a [String],
    /// The oldest a statement may be, by its last update or its timestamp.
    pub max_age: Duration,
    /// Whether every document needs a signature by one of `keys`.
    pub require_signature: bool,
    pub keys: &'a [PublicKey],
}

/// The detached signature's name for `file`: `<file>.sig`.
pub fn signature_name(file: &str) -> String {
    format!("{file}.sig")
}

/// Reads `bytes` (the file named `file`) as a VEX document the pipeline trusts at `now`, given
/// its detached signature's text (standard base64 of a DER ECDSA P-256 signature over the
/// file's bytes), if there is one. A signature that is there is always checked; it is checked
/// before the document is read.
pub fn admit(
    file: &str,
    bytes: &[u8],
    signature: Option<&str>,
    trust: &Trust<'_>,
    now: DateTime<Utc>,
) -> Result<Document> {
    let refuse = |statement, reason| Refusal {
        at: Location {
            file: file.to_owned(),
            statement,
        },
        reason,
    };
    match signature {
        Some(sig) => {
            keys::signed_by(bytes, sig, trust.keys).map_err(|rejection| {
                refuse(
                    None,
                    Reason::BadSignature {
                        signature: signature_name(file),
                        rejection,
                    },
                )
            })?;
        }
        None if trust.require_signature => {
            return Err(refuse(
                None,
                Reason::Unsigned {
                    signature: signature_name(file),
                    file: file.to_owned(),
                },
            ));
        }
        None => {}
    }
    let doc = document::parse(file, bytes)?;
    if !trust.authors.is_empty() && !trust.authors.iter().any(|a| a == &doc.author) {
        return Err(refuse(
            None,
            Reason::OtherAuthor {
                author: doc.author.clone(),
                accepted: trust.authors.join(", "),
            },
        ));
    }
    let skew = chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default();
    let future = |t: DateTime<Utc>| {
        (t > now + skew).then(|| Reason::Future {
            time: t.to_rfc3339(),
            now: now.to_rfc3339(),
        })
    };
    if let Some(reason) = future(doc.timestamp).or_else(|| doc.last_updated.and_then(future)) {
        return Err(refuse(None, reason));
    }
    for statement in &doc.statements {
        let time = statement.time();
        let at = Some(statement.index);
        if let Some(reason) = future(time) {
            return Err(refuse(at, reason));
        }
        let age = (now - time).to_std().unwrap_or_default();
        if age > trust.max_age {
            return Err(refuse(
                at,
                Reason::Expired {
                    time: time.to_rfc3339(),
                    age: days(age),
                    max_age: days(trust.max_age),
                },
            ));
        }
    }
    Ok(doc)
}

/// A duration as days, hours and minutes, as `max_age` is written (`180d`, `29d 8h`); seconds
/// only below a minute.
fn days(age: Duration) -> String {
    let secs = age.as_secs();
    let parts: Vec<String> = [
        (secs / 86_400, "d"),
        (secs % 86_400 / 3600, "h"),
        (secs % 3600 / 60, "m"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n}{unit}"))
    .collect();
    if parts.is_empty() {
        format!("{secs}s")
    } else {
        parts.join(" ")
    }
}
