//! Where things live (docs/architecture.md, "Who owns what"), checked on every
//! `cargo test`: no top-level module of `src/` depends on another in a cycle
//! (test code included), no file on another (a `mod.rs`'s re-exports followed
//! to the file that defines the name), no SQL statement outside `src/journal/`, and no
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

/// A file's module path: `src/engine/pacing.rs` is `engine::pacing`,
/// `src/engine/mod.rs` is `engine`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let mut path: Vec<String> = relative
        .iter()
        .map(|part| part.to_str().unwrap().to_owned())
        .collect();
    if path
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        path.pop();
    }
    path
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths of a `use` tree or an expression path starting at `text`
/// (`super::{task::Counters, pacing::backoff as b}` gives two), each with the
/// name it is known by last.
fn tree_paths(text: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let skipped = rest.len() - rest.trim_start().len();
        at += skipped;
        let rest = &text[at..];
        if let Some(group) = rest.strip_prefix('{') {
            at += 1;
            let mut inner = 0;
            loop {
                let used = tree_paths(&group[inner..], &path, out);
                inner += used;
                let after = group[inner..].trim_start();
                inner = group.len() - after.len();
                if let Some(stripped) = after.strip_prefix(',') {
                    inner = group.len() - stripped.len();
                    if stripped.trim_start().starts_with('}') {
                        inner = group.len() - stripped.trim_start().len() + 1;
                        break;
                    }
                } else {
                    inner += usize::from(after.starts_with('}'));
                    break;
                }
            }
            return at + inner;
        }
        let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            break;
        }
        at += ident.len();
        if ident != "self" || path.is_empty() {
            path.push(ident);
        }
        if text[at..].starts_with("::") {
            at += 2;
        } else {
            break;
        }
    }
    if path.len() > prefix.len() {
        out.push(path);
    }
    at
}

/// Every path a file names through `crate::`, `super::` or `self::`,
/// resolved to an absolute module path.
fn named_paths(root: &Path, file: &Path, text: &str) -> Vec<Vec<String>> {
    let here = module_of(root, file);
    let mut found = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in text.match_indices(start) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            let mut raw = Vec::new();
            tree_paths(&text[at..], &[], &mut raw);
            for path in raw {
                // `super` is the parent of this file's module, `self` the
                // module itself, `crate` the root.
                let mut base = here.clone();
                let mut rest = path.as_slice();
                match rest[0].as_str() {
                    "crate" => base.clear(),
                    "super" => {
                        while rest.first().is_some_and(|s| s == "super") {
                            base.pop();
                            rest = &rest[1..];
                        }
                        found.push(base.iter().chain(rest).cloned().collect());
                        continue;
                    }
                    _ => {}
                }
                found.push(base.iter().chain(&rest[1..]).cloned().collect());
            }
        }
    }
    found
}

/// The paths a file names through a module it imported by name
/// (`use super::leshua;` then `leshua::profile::Section`).
fn paths_through_imports(
    text: &str,
    named: &[Vec<String>],
    modules: &BTreeMap<Vec<String>, PathBuf>,
) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for module in named
        .iter()
        .filter(|path| !path.is_empty() && modules.contains_key(*path))
    {
        let name = format!("{}::", module.last().unwrap());
        for (at, _) in text.match_indices(&name) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            tree_paths(&text[at + name.len()..], module, &mut found);
        }
    }
    found
}

/// A file's code without its comments: a doc link (`[`super::rows::X`]`)
/// names no dependency.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file-level graph: each file other than a `mod.rs` or `lib.rs` and the
/// files it names. A name a `mod.rs` re-exports (`pub use task::Counters`)
/// leads to the file that defines it; an item a `mod.rs` defines itself leads
/// nowhere (a module's own face is no file of its own).
fn file_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(root);
    let by_module: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|file| (module_of(root, file), file.clone()))
        .collect();
    // What each file re-exports (`pub use task::Counters;`), as the path of
    // the name it exports and the path it names.
    let mut reexports: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for file in &files {
        let text = without_comments(&std::fs::read_to_string(file).unwrap());
        let module = module_of(root, file);
        for (at, _) in text.match_indices("pub use ") {
            let mut paths = Vec::new();
            tree_paths(&text[at + 8..], &[], &mut paths);
            for path in paths {
                let target: Vec<String> = match path.first().map(String::as_str) {
                    Some("self") => module.iter().chain(&path[1..]).cloned().collect(),
                    Some("crate") => path[1..].to_vec(),
                    Some("super") => module[..module.len().saturating_sub(1)]
                        .iter()
                        .chain(&path[1..])
                        .cloned()
                        .collect(),
                    _ => module.iter().chain(&path).cloned().collect(),
                };
                let mut exported = module.clone();
                exported.push(path.last().unwrap().clone());
                reexports.insert(exported, target);
            }
        }
    }
    let resolve = |path: &[String]| -> Option<PathBuf> {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let known = (1..=path.len())
                .rev()
                .find(|n| by_module.contains_key(&path[..*n]))?;
            let file = &by_module[&path[..known]];
            if let Some(target) = path.get(known).and_then(|_| reexports.get(&path[..=known])) {
                path = target.clone();
                continue;
            }
            return (!file.ends_with("mod.rs")).then(|| file.clone());
        }
        None
    };
    let name = |file: &Path| file.strip_prefix(root).unwrap().display().to_string();
    files
        .iter()
        .filter(|file| !file.ends_with("mod.rs") && !file.ends_with("lib.rs"))
        .map(|file| {
            let text = without_comments(&std::fs::read_to_string(file).unwrap());
            let mut named = named_paths(root, file, &text);
            // A file with modules of its own (`cli.rs` and `cli/`) names
            // them bare: `journal::JournalArgs`.
            let here = module_of(root, file);
            for line in text.lines() {
                let declared = line.trim().trim_start_matches("pub ");
                if let Some(child) = declared
                    .strip_prefix("mod ")
                    .and_then(|c| c.strip_suffix(';'))
                {
                    named.push(here.iter().cloned().chain([child.to_owned()]).collect());
                }
            }
            named.extend(paths_through_imports(&text, &named, &by_module));
            let uses = named
                .iter()
                .filter_map(|path| resolve(path))
                .filter(|used| used != file)
                .map(|used| name(&used))
                .collect();
            (name(file), uses)
        })
        .collect()
}

/// Every cycle of the graph, each once, from its smallest file.
fn cycles_of(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut cycles = BTreeSet::new();
    for (file, uses) in graph {
        for used in uses {
            if let Some(mut cycle) = path_back(graph, used, file) {
                let start = (0..cycle.len()).min_by_key(|i| &cycle[*i]).unwrap();
                cycle.rotate_left(start);
                cycles.insert(cycle.join(" -> "));
            }
        }
    }
    cycles.into_iter().collect()
}

#[test]
fn the_file_check_sees_each_kind_of_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let put = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    // Siblings naming each other, one through its parent's re-export.
    put(
        "engine/mod.rs",
        "mod task;\nmod pacing;\npub use task::Counters;\n",
    );
    put(
        "engine/task.rs",
        "use super::pacing::Pace;\npub struct Counters;\n",
    );
    put(
        "engine/pacing.rs",
        "use super::Counters; // [`super::task`]\npub struct Pace;\n",
    );
    // A parent file and its child, the parent naming it bare.
    put(
        "cli.rs",
        "mod journal;\npub use journal::Args;\npub struct Places;\n",
    );
    put("cli/journal.rs", "use super::Places;\npub struct Args;\n");
    // A module imported by name, then used through it.
    put("gateway/mod.rs", "pub mod leshua;\npub mod profile;\n");
    put(
        "gateway/profile.rs",
        "use super::{leshua};\nenum S { L(leshua::profile::Section) }\n",
    );
    put("gateway/leshua/mod.rs", "pub mod profile;\n");
    put(
        "gateway/leshua/profile.rs",
        "use crate::gateway::profile::S;\npub struct Section;\n",
    );
    // Named only in a comment: no edge.
    put(
        "batch/error.rs",
        "//! [`super::rows::RowProblem`]\npub struct FileError;\n",
    );
    put("batch/rows.rs", "use super::error::FileError;\n");
    assert_eq!(
        cycles_of(&file_graph(dir.path())),
        [
            "cli.rs -> cli/journal.rs",
            "engine/pacing.rs -> engine/task.rs",
            "gateway/leshua/profile.rs -> gateway/profile.rs",
        ]
    );
}

#[test]
fn no_file_depends_on_itself_through_others() {
    let graph = file_graph(&src());
    assert!(
        graph["engine/task.rs"].contains("engine/writer.rs"),
        "the file graph is read: {:?}",
        graph["engine/task.rs"]
    );
    let cycles = cycles_of(&graph);
    assert!(
        cycles.is_empty(),
        "files that depend on each other:\n{}",
        cycles.join("\n")
    );
}

/// The states a line of SQL text names: `state = 'x'`, `state <> 'x'`,
/// `state IN ('a', 'b')`.
fn states_named(line: &str) -> Vec<String> {
    let quoted = |text: &str| -> Vec<String> {
        text.split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in line.match_indices("state ") {
        let rest = &line[at + 6..];
        if let Some(list) = rest.strip_prefix("IN (") {
            names.extend(quoted(&list[..list.find(')').unwrap_or(list.len())]));
        } else if let Some(one) = rest.strip_prefix("= '").or(rest.strip_prefix("<> '")) {
            names.extend(one.split('\'').next().map(str::to_owned));
        }
    }
    names
}

#[test]
fn every_state_spelt_in_sql_is_a_state() {
    let mut named = Vec::new();
    for file in rust_files(&src().join("journal")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            named.extend(states_named(line));
        }
    }
    assert!(
        named.iter().any(|name| name == "retry_wait"),
        "the check reads the journal's SQL: {named:?}"
    );
    let unknown: Vec<&String> = named
        .iter()
        .filter(|name| bulkrefund::journal::State::parse(name).is_none())
        .collect();
    assert!(unknown.is_empty(), "states no State names: {unknown:?}");
}
