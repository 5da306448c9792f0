//! Where things live (docs/architecture.md, "Who owns what"), checked on every
//! `cargo test`: no top-level module of `src/` depends on another in a cycle
//! (test code included), no SQL statement outside `src/journal/`, and no
//! gateway compared by its name outside `src/gateway/`. `scripts/module-cycles`
//! prints the whole module graph; this test fails on the first rule broken.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Each top-level module and the top-level modules it names as `crate::NAME`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = src();
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        modules.entry(name).or_default().extend(files);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .into_iter()
        .map(|(name, files)| {
            let mut uses = BTreeSet::new();
            for file in files {
                let text = std::fs::read_to_string(file).unwrap();
                for (at, _) in text.match_indices("crate::") {
                    let used: String = text[at + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if used != name && names.contains(&used) {
                        uses.insert(used);
                    }
                }
            }
            (name, uses)
        })
        .collect()
}

/// A path from `to` back to `from`, if `from -> to` closes a cycle.
fn path_back(
    graph: &BTreeMap<String, BTreeSet<String>>,
    to: &str,
    from: &str,
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![to.to_owned()]];
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        if last == from {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in &graph[last] {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = module_graph();
    assert!(graph.contains_key("journal") && graph.contains_key("gateway"));
    assert!(
        graph["commands"].contains("journal"),
        "the graph is read: {graph:?}"
    );
    for (module, uses) in &graph {
        for used in uses {
            if let Some(back) = path_back(&graph, used, module) {
                panic!("a module cycle: {module} -> {}", back.join(" -> "));
            }
        }
    }
}

/// The lines of files outside `owner` (under `src/`) that match `matches`.
fn lines_outside(owner: &str, matches: impl Fn(&str) -> bool) -> Vec<String> {
    let src = src();
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        if relative.starts_with(owner) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if matches(line) {
                found.push(format!(
                    "src/{}:{}: {}",
                    relative.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

#[test]
fn only_the_journal_speaks_sql() {
    let sql = |line: &str| {
        ["SELECT ", "INSERT INTO ", "DELETE FROM ", "PRAGMA "]
            .iter()
            .any(|keyword| line.contains(keyword))
            || (line.contains("UPDATE ") && line.contains(" SET "))
    };
    assert!(
        !lines_outside("gateway", sql).is_empty(),
        "the check finds the journal's own statements"
    );
    let outside = lines_outside("journal", sql);
    assert!(
        outside.is_empty(),
        "SQL outside src/journal/:\n{}",
        outside.join("\n")
    );
}

#[test]
fn only_the_gateways_know_their_names() {
    let named = |line: &str| {
        ["\"leshua\"", "\"lianshang\""].iter().any(|name| {
            line.contains(&format!("== {name}")) || line.contains(&format!("{name} =="))
        })
    };
    let outside = lines_outside("gateway", named);
    assert!(
        outside.is_empty(),
        "a gateway compared by name outside src/gateway/:\n{}",
        outside.join("\n")
    );
}
