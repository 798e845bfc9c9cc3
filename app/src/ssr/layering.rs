//! Keeps the backend's layers as `ssr/mod.rs` draws them: reads every
//! source file under `src/ssr`, collects the `crate::ssr::…` paths each
//! one names, and fails on a path that runs against the allowed
//! direction or on a circle between units. A unit is a capability folder,
//! one infrastructure module, or one wiring module.
//!
//! Paths are found textually (`crate::ssr::x` and `use crate::ssr::{x,
//! y::z}` groups), which is what this codebase writes; a `super::` path
//! never leaves its own folder here, so it needs no rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CAPABILITIES: [&str; 5] = ["accounts", "numbers", "providers", "registry", "standing"];
const WIRING: [&str; 4] = ["auth", "housekeeping", "state", "worker"];

/// The capabilities each capability may import (besides infrastructure).
fn capability_may_import(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("standing", "numbers" | "registry" | "accounts")
            | ("numbers", "registry" | "accounts")
            | ("registry", "accounts")
            | ("providers", "registry" | "accounts")
    )
}

/// A unit: `infra::jobs`, `numbers`, `auth`.
fn unit_of(path: &[&str]) -> Option<String> {
    match path {
        ["infra", module, ..] => Some(format!("infra::{module}")),
        [first, ..] => Some((*first).to_owned()),
        [] => None,
    }
}

fn kind_of(unit: &str) -> &'static str {
    if unit.starts_with("infra::") || unit == "infra" {
        "infra"
    } else if CAPABILITIES.contains(&unit) {
        "capability"
    } else if WIRING.contains(&unit) {
        "wiring"
    } else {
        "unknown"
    }
}

/// Whether `from` may name `to`; the reason when not.
pub(crate) fn allowed(from: &str, to: &str) -> Result<(), String> {
    if from == to {
        return Ok(());
    }
    match (kind_of(from), kind_of(to)) {
        (_, "unknown") | ("unknown", _) => Err(format!(
            "{from} → {to}: unknown unit; add it to ssr/layering.rs and the README"
        )),
        ("wiring", _) => Ok(()),
        (_, "wiring") => Err(format!(
            "{from} → {to}: only the wiring may use state, auth, worker or housekeeping"
        )),
        ("infra", "infra") => Ok(()),
        ("infra", _) => Err(format!(
            "{from} → {to}: infrastructure never imports a capability"
        )),
        ("capability", "infra") => Ok(()),
        ("capability", "capability") if capability_may_import(from, to) => Ok(()),
        _ => Err(format!(
            "{from} → {to}: against the direction standing → numbers → registry → \
             accounts, providers → registry"
        )),
    }
}

fn rust_files(directory: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(directory).expect("read src/ssr");
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The unit a file belongs to, from its path under `src/ssr`.
fn unit_of_file(relative: &Path) -> Option<String> {
    let parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        // Module declarations and these checks themselves.
        ["mod"] | ["layering"] | ["schema_sets"] => None,
        ["infra", "mod"] => Some("infra".into()),
        other => unit_of(other),
    }
}

/// Every `crate::ssr::…` path in `source`, as segments.
pub(crate) fn ssr_paths(source: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::ssr::") {
        rest = &rest[at + "crate::ssr::".len()..];
        expand("", rest, &mut paths);
    }
    paths
}

/// Reads one path (or a `{…}` group) at the start of `text`, after
/// `prefix`.
fn expand(prefix: &str, text: &str, paths: &mut Vec<Vec<String>>) {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    expand(prefix, &group[start..i], paths);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(prefix, &group[start..i], paths);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let (head, tail) = text.split_at(end);
    let full = format!("{prefix}{head}");
    if full.ends_with("::") && tail.trim_start().starts_with('{') {
        expand(&full, tail, paths);
        return;
    }
    let segments: Vec<String> = full
        .split("::")
        .filter(|s| !s.is_empty() && *s != "self")
        .map(str::to_owned)
        .collect();
    if !segments.is_empty() {
        paths.push(segments);
    }
}

/// The edges between units, with the file that adds each.
fn edges() -> BTreeMap<(String, String), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ssr");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut edges = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&root).expect("under src/ssr");
        let Some(from) = unit_of_file(relative) else {
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("read source");
        for path in ssr_paths(&source) {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(to) = unit_of(&segments)
                && to != from
            {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| relative.display().to_string());
            }
        }
    }
    edges
}

/// A circle in `edges`, as the units along it, if there is one.
pub(crate) fn find_circle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    // Depth-first search; `on_path` holds the units of the current walk.
    fn walk<'a>(
        unit: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        on_path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = on_path.iter().position(|u| *u == unit) {
            let mut circle: Vec<String> = on_path[at..].iter().map(|u| (*u).to_owned()).collect();
            circle.push(unit.to_owned());
            return Some(circle);
        }
        if !done.insert(unit) {
            return None;
        }
        on_path.push(unit);
        for to in next.get(unit).into_iter().flatten() {
            if let Some(circle) = walk(to, next, on_path, done) {
                return Some(circle);
            }
        }
        on_path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for unit in next.keys() {
        if let Some(circle) = walk(unit, &next, &mut Vec::new(), &mut done) {
            return Some(circle);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_import_runs_the_documented_way() {
        let wrong: Vec<String> = edges()
            .iter()
            .filter_map(|((from, to), file)| {
                allowed(from, to).err().map(|why| format!("{file}: {why}"))
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "imports against the layers:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn no_circle_between_units() {
        let edges: BTreeSet<_> = edges().into_keys().collect();
        assert!(
            edges.iter().any(|(from, _)| from == "standing"),
            "the scan found the sources"
        );
        if let Some(circle) = find_circle(&edges) {
            panic!("an import circle: {}", circle.join(" → "));
        }
    }

    #[test]
    fn paths_are_read_from_use_groups() {
        let source = "use crate::ssr::{accounts::two_factor, auth, infra::{db, jobs::{self, Job}}};\n\
                      let x = crate::ssr::standing::roster::upload::MAX_BYTES;";
        let units: BTreeSet<String> = ssr_paths(source)
            .iter()
            .filter_map(|p| unit_of(&p.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect();
        assert_eq!(
            units,
            ["accounts", "auth", "infra::db", "infra::jobs", "standing"]
                .map(String::from)
                .into()
        );
    }

    #[test]
    fn the_rules_refuse_back_edges_and_find_circles() {
        assert!(allowed("numbers", "registry").is_ok());
        assert!(allowed("registry", "numbers").is_err());
        assert!(allowed("infra::jobs", "numbers").is_err());
        assert!(allowed("accounts", "auth").is_err());
        assert!(allowed("worker", "numbers").is_ok());
        let edges: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a")]
            .map(|(f, t)| (f.to_owned(), t.to_owned()))
            .into();
        assert_eq!(
            find_circle(&edges),
            Some(["a", "b", "c", "a"].map(String::from).to_vec())
        );
    }
}
