//! The rollback decision: revert exactly what one promotion commit changed in one values
//! file, on top of whatever the file says now. Keys changed by the commit and untouched since
//! go back; keys changed since by someone else are a conflict (nothing is written); every
//! other key, and every other file, is left alone. This is what `HEAD~1` gets wrong.

use crate::values::{Document, Scalar};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot revert {key} in {file}: the promotion set it to {promoted:?}, but it is now {current:?}; resolve by hand, nothing was written"
)]
pub struct RevertConflict {
    pub file: String,
    pub key: String,
    pub promoted: String,
    pub current: String,
}

/// The edits that undo the change from `before` to `promoted` on `current`. Empty when the
/// change is already undone.
pub fn plan(
    before: &Document,
    promoted: &Document,
    current: &Document,
) -> Result<Vec<(String, Scalar)>, RevertConflict> {
    let mut edits = Vec::new();
    for (key, old) in before.under("") {
        let Some(new) = promoted.get(key) else {
            continue;
        };
        if new == old {
            continue;
        }
        let now = current.get(key).unwrap_or_default();
        if now == old {
            continue;
        }
        if now != new {
            return Err(RevertConflict {
                file: current.file().to_owned(),
                key: key.to_owned(),
                promoted: new.to_owned(),
                current: now.to_owned(),
            });
        }
        edits.push((key.to_owned(), Scalar::str(old)));
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(tag: &str, digest: &str, replicas: u32) -> Document {
        Document::parse(
            "prod/values.yaml",
            format!("# prod\nimage:\n  tag: \"{tag}\"\n  digest: \"{digest}\"\nreplicaCount: {replicas}\n"),
        )
        .expect("yaml")
    }

    fn check(current: Document, expected: Result<Vec<(&str, &str)>, &str>) {
        let before = doc("good", "d-good", 3);
        let promoted = doc("bad", "d-bad", 3);
        let got = plan(&before, &promoted, &current)
            .map(|edits| {
                edits
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.key);
        let expected = expected
            .map(|edits| {
                edits
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect::<Vec<_>>()
            })
            .map_err(str::to_owned);
        assert_eq!(got, expected);
    }

    #[test]
    fn table() {
        // Nothing happened since the promotion: tag and digest go back.
        check(
            doc("bad", "d-bad", 3),
            Ok(vec![("image.digest", "d-good"), ("image.tag", "good")]),
        );
        // Someone scaled prod since: the scale stays, the image goes back.
        check(
            doc("bad", "d-bad", 5),
            Ok(vec![("image.digest", "d-good"), ("image.tag", "good")]),
        );
        // Already rolled back: nothing to do.
        check(doc("good", "d-good", 3), Ok(vec![]));
        // Someone promoted another build since: a conflict, not a silent overwrite.
        check(doc("newer", "d-newer", 3), Err("image.digest"));
    }
}
