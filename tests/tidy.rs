//! Tidy checks that run as tests: dependency direction between the crates
//! (from `cargo metadata`), `core` free of I/O-heavy dependencies, lints
//! inherited everywhere, module docs, no trailing whitespace, small files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace crates each crate may depend on (normal dependencies).
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("foresight-core", &[][..]),
        ("foresight-datasets", &["foresight-core"][..]),
        ("foresight-models", &["foresight-core", "foresight-datasets"][..]),
        ("foresight-simulator", &["foresight-core"][..]),
        ("foresight-controller", &["foresight-core", "foresight-datasets", "foresight-models", "foresight-simulator"][..]),
        (
            "foresight-reports",
            &["foresight-core", "foresight-datasets", "foresight-models", "foresight-simulator", "foresight-controller"][..],
        ),
        ("foresight-server", &["foresight-core"][..]),
    ])
}

/// External crates `core` must never depend on.
const FORBIDDEN_IN_CORE: [&str; 7] = ["polars", "tokio", "tonic", "linfa", "smartcore", "nvml-wrapper", "reqwest"];

fn metadata() -> serde_json::Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn crate_dependencies_point_one_way() {
    let meta = metadata();
    let allowed = allowed();
    let mut seen = BTreeSet::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        seen.insert(name.to_string());
        let normal: Vec<&str> = pkg["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        if name == "foresight" {
            continue;
        }
        let ok = allowed.get(name).unwrap_or_else(|| panic!("crate {name} is not in the dependency rules of tests/tidy.rs"));
        for dep in normal.iter().filter(|d| d.starts_with("foresight")) {
            assert!(ok.contains(dep), "{name} must not depend on {dep} (see ARCHITECTURE.md)");
        }
        if name == "foresight-core" {
            for dep in &normal {
                assert!(!FORBIDDEN_IN_CORE.contains(dep), "core must stay pure but depends on {dep}");
            }
        }
    }
    for name in allowed.keys() {
        assert!(seen.contains(*name), "{name} is missing from the workspace");
    }
}

#[test]
fn every_crate_inherits_the_workspace_lints() {
    for dir in [".", "core", "datasets", "models", "simulator", "controller", "reports", "server"] {
        let toml = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
        assert!(toml.contains("[lints]\nworkspace = true"), "{dir}/Cargo.toml must inherit the workspace lints");
    }
    let ws = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(ws.contains("unsafe_code = \"forbid\""));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if !["target", ".git", "fuzz"].contains(&name.as_str()) {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_says_what_it_holds_and_stays_small() {
    let mut files = Vec::new();
    for dir in ["src", "core/src", "datasets/src", "models/src", "simulator/src", "controller/src", "reports/src", "server/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(root()).unwrap().display().to_string();
        if !text.trim_start().starts_with("//!") {
            problems.push(format!("{rel}: no `//!` module doc at the top"));
        }
        let lines = text.lines().count();
        if lines > 600 {
            problems.push(format!("{rel}: {lines} lines; split it (most files stay under 400)"));
        }
        if text.contains("#[should_panic]") {
            problems.push(format!("{rel}: #[should_panic]; assert on the error instead"));
        }
        for (i, line) in text.lines().enumerate() {
            if line.ends_with(' ') || line.ends_with('\t') {
                problems.push(format!("{rel}:{}: trailing whitespace", i + 1));
            }
        }
    }
    assert!(problems.is_empty(), "tidy problems:\n{}", problems.join("\n"));
}
