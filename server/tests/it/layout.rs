//! The server's modules import one another in one direction: no circle but between a parent
//! and its children, and the store knows nothing of sockets or HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module of `server/src`, by path (`socket::rooms`), with its code (tests and comments
/// left out).
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(&root).ok()?.with_extension("");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if parts == ["main"] {
                return None;
            }
            let name = if parts == ["lib"] {
                "crate".to_owned()
            } else {
                parts.join("::")
            };
            let text = std::fs::read_to_string(&file).ok()?;
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            Some((name, code))
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Which modules each one names in a `crate::` path (the longest prefix that is a module).
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    modules
        .iter()
        .map(|(name, code)| {
            let mut used = BTreeSet::new();
            for (at, _) in code.match_indices("crate::") {
                let path: String = code[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
                let module = (1..=segments.len())
                    .rev()
                    .map(|n| segments[..n].join("::"))
                    .find(|m| modules.contains_key(m));
                if let Some(m) = module
                    && &m != name
                {
                    used.insert(m);
                }
            }
            (name.clone(), used)
        })
        .collect()
}

fn is_parent_and_child(a: &str, b: &str) -> bool {
    let parent_of = |p: &str, c: &str| {
        c.strip_prefix(p).is_some_and(|rest| rest.starts_with("::"))
            || (p == "crate" && !c.contains("::"))
    };
    parent_of(a, b) || parent_of(b, a)
}

#[test]
fn no_module_imports_in_a_circle() {
    let modules = modules();
    assert!(modules.len() > 20, "found {} modules", modules.len());
    let imports = imports(&modules);
    // A circle has an edge a -> b with a path b -> ... -> a; only a parent and its children
    // may name each other.
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            if m == to {
                return true;
            }
            if seen.insert(m.clone()) {
                todo.extend(imports[&m].iter().cloned());
            }
        }
        false
    };
    let mut circles = Vec::new();
    for (a, used) in &imports {
        for b in used {
            if !is_parent_and_child(a, b) && reaches(b, a) {
                circles.push(format!("{a} -> {b} -> ... -> {a}"));
            }
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_store_knows_nothing_of_sockets_or_http() {
    let modules = modules();
    for (name, code) in modules.iter().filter(|(n, _)| n.starts_with("store")) {
        for foreign in [
            "socketioxide",
            "axum",
            "crate::socket",
            "crate::http",
            "crate::state",
        ] {
            assert!(!code.contains(foreign), "{name} uses {foreign}");
        }
    }
}

#[test]
fn the_cluster_knows_no_feature_and_no_state() {
    let modules = modules();
    let cluster: Vec<_> = modules
        .iter()
        .filter(|(n, _)| n.starts_with("cluster"))
        .collect();
    assert!(!cluster.is_empty(), "the cluster modules are read");
    for (name, code) in cluster {
        for foreign in ["crate::socket", "crate::http", "crate::state", "axum"] {
            assert!(!code.contains(foreign), "{name} uses {foreign}");
        }
    }
}
