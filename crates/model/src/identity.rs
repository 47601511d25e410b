//! Who did something and why: names and reasons as they are recorded in approvals, blocks
//! and commit trailers. Both are refused when they hold characters that change how text
//! displays without being seen (control and format characters such as U+202E or U+200B), so
//! a record can never display as somebody else's name; names compare in one normalised form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

use super::InvalidValue;

/// Whether `c` may stand in recorded text: no control, format, separator-other-than-space,
/// private-use, surrogate or unassigned characters.
fn visible(c: char) -> bool {
    use GeneralCategory::*;
    match get_general_category(c) {
        Control | Format | LineSeparator | ParagraphSeparator | PrivateUse | Surrogate
        | Unassigned => false,
        // Spaces other than U+0020 (no-break, em, ideographic…) make look-alike names.
        SpaceSeparator => c == ' ',
        _ => true,
    }
}

fn text(s: &str, max: usize) -> Option<&str> {
    let trimmed = s.trim_matches(' ');
    (!trimmed.is_empty() && trimmed.chars().count() <= max && s.chars().all(visible))
        .then_some(trimmed)
}

/// A person's (or CI actor's) name, as recorded in approvals and trailers: 1 to 100 visible
/// characters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Person(String);

impl Person {
    pub const EXPECTED: &'static str =
        "a name of 1 to 100 characters without control, format or invisible characters";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form names are compared in: Unicode NFKC, lowercase, inner spaces collapsed; so
    /// `Bob`, `bob ` and `ｂｏｂ` (fullwidth) are one person.
    pub fn key(&self) -> String {
        self.0
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether `other` names the same person.
    pub fn same_as(&self, other: &Person) -> bool {
        self.key() == other.key()
    }
}

impl PartialEq for Person {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl Eq for Person {}

impl FromStr for Person {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        text(s, 100)
            .map(|t| Self(t.to_owned()))
            .ok_or_else(|| InvalidValue::new("identity", s, Self::EXPECTED))
    }
}

string_conversions!(Person);

/// Why something was done (a rollback, a break-glass promotion, an unblock): 1 to 200
/// visible characters on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    pub const EXPECTED: &'static str =
        "text of 1 to 200 characters without control, format or invisible characters";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A reason made from free text (an error message, say): characters that may not stand
    /// in a record become spaces, and what is longer than 200 characters is cut, ending in `…`.
    pub fn summarise(text: &str) -> Self {
        let clean: String = text
            .chars()
            .map(|c| if visible(c) { c } else { ' ' })
            .collect();
        let clean = clean.trim_matches(' ');
        let cut: String = if clean.chars().count() > 200 {
            clean.chars().take(199).chain(['…']).collect()
        } else {
            clean.to_owned()
        };
        cut.parse()
            .unwrap_or_else(|_| Self("no reason was given".to_owned()))
    }
}

impl FromStr for Reason {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        text(s, 200)
            .map(|t| Self(t.to_owned()))
            .ok_or_else(|| InvalidValue::new("reason", s, Self::EXPECTED))
    }
}

string_conversions!(Reason);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, ok: bool) {
        let got = input.parse::<Person>();
        assert_eq!(got.is_ok(), ok, "{input:?}: {got:?}");
    }

    #[test]
    fn person() {
        for good in ["Alice Example", "github:octocat", "José", "李雷", " bob "] {
            check(good, true);
        }
        for bad in [
            "",
            "   ",
            "alice\nPipeline-Action: rollback",
            "bob\u{7}",
            "\u{202e}ecila",  // right-to-left override: displays reversed
            "bo\u{200b}b",    // zero-width space
            "bob\u{2066}",    // left-to-right isolate
            "\u{feff}bob",    // byte-order mark
            "bo\u{ad}b",      // soft hyphen
            "bob\u{a0}smith", // no-break space
            "bob\u{2028}x",   // line separator
            "\u{e000}",       // private use
            &"x".repeat(101),
        ] {
            check(bad, false);
        }
    }

    #[test]
    fn one_normalised_form() {
        let p = |s: &str| s.parse::<Person>().expect("person");
        assert_eq!(p("Bob"), p(" bob "));
        assert_eq!(p("ｂｏｂ"), p("bob"), "fullwidth letters are NFKC-equal");
        assert_eq!(p("Bob  Smith"), p("bob smith"));
        assert_ne!(p("bob"), p("bobby"));
        assert_eq!(p("ALICE").key(), "alice");
    }

    #[test]
    fn reason() {
        assert!("rolled back: 5xx on /".parse::<Reason>().is_ok());
        assert!("x".repeat(200).parse::<Reason>().is_ok());
        for bad in ["", "a\nReason: forged", "\u{202e}x", &"x".repeat(201)] {
            assert!(bad.parse::<Reason>().is_err(), "{bad:?}");
        }
        assert_eq!(
            Reason::summarise("502 on\nhttp://x\u{202e}").as_str(),
            "502 on http://x"
        );
        let long = Reason::summarise(&"y".repeat(300));
        assert_eq!(long.as_str().chars().count(), 200);
        assert!(long.as_str().ends_with('…'));
        assert_eq!(Reason::summarise("\n").as_str(), "no reason was given");
    }
}
