//! A small reader for the Terraform in `infra/`, for the tests that check it against the
//! workflows and the code: blocks, string, list and map attributes, `locals`, and the
//! instances of `for_each` over a local or an inline `toset([...])` (with `each.key` and
//! `each.value` filled in). Not a full HCL parser: it reads the shapes these files use.

use std::collections::BTreeMap;

/// All of `infra/*.tf`, concatenated in file-name order.
pub fn infra() -> String {
    let dir = crate::workspace().join("infra");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("infra/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("tf"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The bodies of every block whose header starts with `header` (such as
/// `resource "azurerm_role_assignment"`), by the block's last label.
pub fn blocks(tf: &str, header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tf;
    while let Some(at) = rest.find(header) {
        let after = &rest[at + header.len()..];
        let open = after.find('{').expect("block body");
        let labels = &after[..open];
        let name = labels
            .split('"')
            .rfind(|s| !s.trim().is_empty())
            .unwrap_or_default()
            .to_owned();
        let mut depth = 0;
        let mut end = open;
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((name, after[open + 1..end].to_owned()));
        rest = &after[end..];
    }
    out
}

/// The raw text right of `key =` on the line that sets it.
pub fn attr<'b>(body: &'b str, key: &str) -> Option<&'b str> {
    body.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then_some(v.trim())
    })
}

pub fn attr_string(body: &str, key: &str) -> Option<String> {
    attr(body, key).map(|v| v.trim_matches('"').to_owned())
}

/// The lines of `key = <open> ... <close>` (on one line or several), from `open` on.
fn bracketed(body: &str, key: &str, open: char, close: char) -> Option<String> {
    let start = body.lines().position(|line| {
        line.split_once('=')
            .is_some_and(|(k, v)| k.trim() == key && v.trim().starts_with(open))
    })?;
    let text: String = body
        .lines()
        .skip(start)
        .scan(false, |done, line| {
            if *done {
                return None;
            }
            *done = line.contains(close);
            Some(format!("{line}\n"))
        })
        .collect();
    Some(text[text.find(open).expect("open")..].to_owned())
}

/// Every quoted string of the list `key = [ ... ]`.
pub fn attr_list(body: &str, key: &str) -> Vec<String> {
    bracketed(body, key, '[', ']')
        .map(|text| quoted(&text))
        .unwrap_or_default()
}

/// The `k = "v"` pairs of the map `key = { ... }` (keys bare or quoted).
pub fn attr_map(body: &str, key: &str) -> BTreeMap<String, String> {
    bracketed(body, key, '{', '}')
        .map(|text| {
            text.lines()
                .filter_map(|line| {
                    let (k, v) = line.split_once('=')?;
                    let k = k.trim().trim_start_matches('{').trim().trim_matches('"');
                    let v = v.trim();
                    (v.starts_with('"') && !k.is_empty())
                        .then(|| (k.to_owned(), v.trim_matches('"').to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn quoted(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The `locals` of `tf`: lists as maps from each element to itself, maps as they are.
pub fn locals(tf: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (_, body) in blocks(tf, "locals ") {
        for line in body.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if v.starts_with('[') {
                let list = attr_list(&body, k);
                out.insert(
                    k.to_owned(),
                    list.iter().map(|x| (x.clone(), x.clone())).collect(),
                );
            } else if v.starts_with('{') && !line.starts_with("      ") {
                out.insert(k.to_owned(), attr_map(&body, k));
            }
        }
    }
    out
}

/// The instances of a resource body: one per `for_each` key (with `each.key` and `each.value`
/// filled in, in strings, in index brackets and as whole values), or the body itself.
pub fn instances(body: &str, locals: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    let Some(for_each) = attr(body, "for_each") else {
        return vec![body.to_owned()];
    };
    let inner = for_each
        .trim_start_matches("toset(")
        .trim_end_matches(')')
        .trim();
    let pairs: BTreeMap<String, String> = match inner.strip_prefix("local.") {
        Some(name) => locals
            .get(name)
            .unwrap_or_else(|| panic!("no local {name}"))
            .clone(),
        None => quoted(inner).into_iter().map(|x| (x.clone(), x)).collect(),
    };
    assert!(!pairs.is_empty(), "for_each = {for_each}");
    pairs
        .iter()
        .map(|(k, v)| {
            body.replace("${each.key}", k)
                .replace("${each.value}", v)
                .replace("[each.key]", &format!("[\"{k}\"]"))
                .replace("[each.value]", &format!("[\"{v}\"]"))
                .replace("= each.key", &format!("= \"{k}\""))
                .replace("= each.value", &format!("= \"{v}\""))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_finds_what_the_tests_check() {
        let tf = "locals {\n  xs = [\"a\", \"b\"]\n  m = {\n    one   = \"x\"\n    two-2 = \"y\"\n  }\n}\nresource \"t\" \"n\" {\n  for_each = toset(local.xs)\n  scope = \"s/${each.key}\"\n  list = [\n    \"p\",\n    \"q\",\n  ]\n  inner {\n    k = \"v\"\n  }\n}\nresource \"u\" \"m\" {\n  for_each = local.m\n  who = r.p[each.value].id\n  at = \"${each.key}\"\n}\n";
        let found = blocks(tf, "resource \"t\"");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "n");
        let locals = locals(tf);
        let each: Vec<_> = instances(&found[0].1, &locals)
            .iter()
            .map(|b| attr_string(b, "scope").expect("scope"))
            .collect();
        assert_eq!(each, ["s/a", "s/b"]);
        assert_eq!(attr_list(&found[0].1, "list"), ["p", "q"]);
        let mapped: Vec<_> = instances(&blocks(tf, "resource \"u\"")[0].1, &locals)
            .iter()
            .map(|b| {
                (
                    attr_string(b, "at").expect("at"),
                    attr(b, "who").expect("who").to_owned(),
                )
            })
            .collect();
        assert_eq!(
            mapped,
            [
                ("one".to_owned(), "r.p[\"x\"].id".to_owned()),
                ("two-2".to_owned(), "r.p[\"y\"].id".to_owned())
            ]
        );
    }
}
