//! YAML files and documents read as JSON values, for tests that check workflows, charts and manifests.

use super::*;

/// The committed GitHub workflows (`.github/workflows/*.yml`), by file name, as JSON values.
pub fn workflows() -> Vec<(String, serde_json::Value)> {
    yaml_files(&workspace().join(".github/workflows"))
}

/// The first document of every `.yml`/`.yaml` file of `dir`, by file name, sorted.
pub fn yaml_files(dir: &std::path::Path) -> Vec<(String, serde_json::Value)> {
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "yml" || x == "yaml")
        })
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("YAML file");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, yaml_documents(&text).remove(0))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every document of a YAML stream, as JSON values (for schema checks and assertions).
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    use saphyr::LoadableYamlNode;
    saphyr::Yaml::load_from_str(text)
        .expect("valid YAML")
        .iter()
        .map(yaml_to_json)
        .filter(|v| !v.is_null())
        .collect()
}

pub(super) fn yaml_to_json(node: &saphyr::Yaml<'_>) -> serde_json::Value {
    use saphyr::{Scalar, Yaml};
    use serde_json::Value;
    match node {
        Yaml::Value(Scalar::Null) | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Representation(s, ..) => Value::String(s.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(_, inner) => yaml_to_json(inner),
    }
}
