//! Malformed and hostile model files: a real trained file (`linear+gbt`,
//! so trees, pooled and per-name regressions, and the classifier) with its
//! indices, lengths and values mangled is either refused when read, with
//! an error that says where, or read and then predicts runtimes that are
//! never NaN, never negative and never above the request. Never a panic,
//! a loop or a stack overflow.

use foresight_core::Job;
use foresight_core::predictor::Predictor;
use foresight_core::state::{JobInfo, JobKey};
use foresight_datasets::JobTable;
use foresight_models::features::build_rows;
use foresight_models::history::JobTelemetry;
use foresight_models::runtime::requested_s;
use foresight_models::{FilePredictor, ModelError, ModelFile, ModelKind, Problem, SplitOptions, train};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// The embedded H100 jobs and a `linear+gbt` file trained on them, as JSON.
fn trained() -> &'static (JobTable, Value) {
    static TRAINED: OnceLock<(JobTable, Value)> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
        let file = train(&table, ModelKind::Hybrid, &JobTelemetry::new(), SplitOptions::default()).unwrap();
        assert!(file.failure.is_some(), "the classifier is mangled too");
        let json = serde_json::to_value(&file).unwrap();
        (table, json)
    })
}

fn parse(json: &Value) -> Result<ModelFile, ModelError> {
    ModelFile::parse(&serde_json::to_vec(json).unwrap(), Path::new("mangled.json"))
}

/// The problem a mangled file is refused for, with its part.
fn refused(json: &Value) -> (String, Problem) {
    match parse(json) {
        Err(ModelError::InvalidFile { path, invalid }) => {
            assert_eq!(path, Path::new("mangled.json"));
            (invalid.part, invalid.problem)
        }
        other => panic!("not refused as invalid: {other:?}"),
    }
}

/// What the policies see of `job` under handle `key`: the one mapping.
fn info(key: u32, job: &Job) -> JobInfo {
    JobInfo::of(job, JobKey(key), &mut foresight_core::NameTables::default())
}

/// Predicts a few jobs with a file that was read, offline (rows of the
/// file's schema, the classifier too) and through a predictor that learns
/// from their ends: runtimes never NaN, never negative, never above the
/// request; probabilities within [0, 1].
fn predicts_sane_values(file: ModelFile, table: &JobTable) {
    let jobs = &table.jobs[..40];
    for row in build_rows(&file.schema, jobs, &JobTelemetry::new()) {
        let (p, limit) = (file.runtime.predict(&file.schema, &row), requested_s(&row));
        assert!(!p.is_nan() && p >= 0.0 && p <= limit, "{p} for a request of {limit} s");
        assert!(p.is_finite() || limit.is_infinite(), "{p}");
        if let Some(f) = &file.failure {
            let q = f.predict(&row);
            assert!((0.0..=1.0).contains(&q), "probability {q}");
        }
    }
    let keys: Vec<u32> = (0..table.jobs.len() as u32).collect();
    let mut p = FilePredictor::new(file, table, &keys);
    for (i, job) in jobs.iter().enumerate() {
        let j = info(i as u32, job);
        let e = p.predict(&j);
        assert!(!e.is_nan() && e >= 0.0, "{e}");
        p.observe_start(&j, job.submit_s);
        p.observe_end(&j, job.runtime_s.unwrap_or(1.0), job.submit_s + 1.0);
    }
}

/// One change to the file's JSON.
#[derive(Debug, Clone)]
enum Mangle {
    Number(f64),
    Integer(u64),
    Negative(i64),
    Shift(i64),
    Null,
    Text(&'static str),
    Remove(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    Clear,
}

fn mangle() -> impl Strategy<Value = Mangle> {
    prop_oneof![
        prop::sample::select(vec![0.0, 0.5, -0.5, 1e-300, 1e300, -1e300, f64::MAX, f64::MIN, 1e15]).prop_map(Mangle::Number),
        prop::sample::select(vec![0, 1, 2, 3, 63, 64, 4096, 65_535, 1 << 20, 4_294_967_294, 4_294_967_295, 1 << 32, u64::MAX])
            .prop_map(Mangle::Integer),
        prop::sample::select(vec![-1, -2, i64::MIN]).prop_map(Mangle::Negative),
        (-3i64..=3).prop_map(Mangle::Shift),
        Just(Mangle::Null),
        prop::sample::select(vec!["", "gbt", "linear", "hybrid", "requested", "logistic", "squared", "auto", "x"]).prop_map(Mangle::Text),
        any::<prop::sample::Index>().prop_map(Mangle::Remove),
        any::<prop::sample::Index>().prop_map(Mangle::Duplicate),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(|(a, b)| Mangle::Swap(a, b)),
        Just(Mangle::Clear),
    ]
}

/// JSON pointers to every value below `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (k, item) in fields {
                pointers(item, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// The pointers of the trained file: those inside trees, and the rest.
fn targets() -> &'static (Vec<String>, Vec<String>) {
    static TARGETS: OnceLock<(Vec<String>, Vec<String>)> = OnceLock::new();
    TARGETS.get_or_init(|| {
        let mut all = Vec::new();
        pointers(&trained().1, String::new(), &mut all);
        all.into_iter().partition(|p| p.contains("/trees/"))
    })
}

fn apply(json: &mut Value, pointer: &str, m: &Mangle) {
    let Some(v) = json.pointer_mut(pointer) else { return };
    match (m, v) {
        (Mangle::Remove(i), Value::Array(a)) if !a.is_empty() => {
            a.remove(i.index(a.len()));
        }
        (Mangle::Duplicate(i), Value::Array(a)) if !a.is_empty() => {
            let item = a[i.index(a.len())].clone();
            a.push(item);
        }
        (Mangle::Swap(i, j), Value::Array(a)) if !a.is_empty() => {
            let (i, j) = (i.index(a.len()), j.index(a.len()));
            a.swap(i, j);
        }
        (Mangle::Clear, Value::Array(a)) => a.clear(),
        (Mangle::Clear, Value::Object(o)) => o.clear(),
        (Mangle::Shift(d), v) => {
            *v = match (v.as_u64(), v.as_f64()) {
                (Some(u), _) => serde_json::json!(u.saturating_add_signed(*d)),
                (None, Some(f)) => serde_json::json!(f + *d as f64),
                _ => Value::Null,
            }
        }
        (Mangle::Number(x), v) => *v = serde_json::json!(x),
        (Mangle::Integer(x), v) => *v = serde_json::json!(x),
        (Mangle::Negative(x), v) => *v = serde_json::json!(x),
        (Mangle::Text(s), v) => *v = Value::String(s.to_string()),
        (_, v) => *v = Value::Null,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn proptest_mangled_model_files_are_refused_or_predict_sane_runtimes(
        changes in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), mangle()), 1..4)
    ) {
        let (table, json) = trained();
        let (in_trees, rest) = targets();
        let mut json = json.clone();
        for (tree, at, m) in &changes {
            let list = if *tree { in_trees } else { rest };
            apply(&mut json, &list[at.index(list.len())], m);
        }
        match parse(&json) {
            Ok(file) => predicts_sane_values(file, table),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// The first split of tree 0 of the runtime trees, and the tree's nodes.
fn first_split(json: &mut Value) -> (usize, &mut Vec<Value>) {
    let tree = json["runtime"]["trees"]["trees"][0].as_array_mut().unwrap();
    let n = tree.iter().position(|node| node["feature"] != u32::MAX).expect("a split");
    (n, tree)
}

#[test]
fn trees_with_no_node_a_cycle_or_indices_out_of_range_are_refused_where_they_are() {
    let (table, json) = trained();
    predicts_sane_values(parse(json).expect("the trained file reads"), table);

    let mut cyclic = json.clone();
    let (n, tree) = first_split(&mut cyclic);
    tree[n]["left"] = n.into();
    let (part, problem) = refused(&cyclic);
    assert_eq!(part, "runtime.trees");
    assert_eq!(problem, Problem::ChildNotAfter { tree: 0, node: n, left: n as u32 });

    let mut past = json.clone();
    let (n, tree) = first_split(&mut past);
    let nodes = tree.len();
    tree[n]["left"] = (nodes - 1).into();
    assert_eq!(refused(&past).1, Problem::ChildOutOfRange { tree: 0, node: n, left: nodes as u32 - 1, nodes });

    let mut feature = json.clone();
    let width = json["feature_names"].as_array().unwrap().len();
    let (n, tree) = first_split(&mut feature);
    tree[n]["feature"] = width.into();
    assert_eq!(refused(&feature).1, Problem::FeatureOutOfRange { tree: 0, node: n, feature: width as u32, width });

    let mut empty = json.clone();
    empty["failure"]["model"]["trees"][3] = serde_json::json!([]);
    assert_eq!(refused(&empty), ("failure.model".to_string(), Problem::EmptyTree { tree: 3 }));
}

#[test]
fn regressions_schemas_and_names_that_disagree_are_refused_where_they_are() {
    let (_, json) = trained();
    let mut short = json.clone();
    let used = short["runtime"]["linear"]["pooled"]["used"].as_array_mut().unwrap();
    used.pop();
    let n = used.len();
    let (part, problem) = refused(&short);
    assert_eq!(part, "runtime.linear.pooled");
    assert!(matches!(problem, Problem::Length { found, expected, .. } if found == n + 1 && expected == n), "{problem}");

    let mut column = json.clone();
    column["runtime"]["linear"]["pooled"]["used"][0] = 100_000.into();
    assert!(matches!(refused(&column).1, Problem::ColumnOutOfRange { column: 100_000, .. }));

    let mut scale = json.clone();
    scale["runtime"]["linear"]["pooled"]["scales"][0] = 0.0.into();
    assert!(matches!(refused(&scale).1, Problem::BadNumber { value, .. } if value == 0.0));

    let mut floor = json.clone();
    floor["schema"]["runtime_floor_s"] = (-1.0).into();
    assert_eq!(refused(&floor).0, "schema");

    let mut names = json.clone();
    names["feature_names"][2] = "log_req_time".into();
    assert!(matches!(refused(&names).1, Problem::FeatureName { index: 2, .. }));

    let mut kind = json.clone();
    kind["kind"] = "gbt".into();
    let (part, problem) = refused(&kind);
    assert_eq!(part, "runtime");
    assert!(problem.to_string().contains("`hybrid`"), "{problem}");

    let mut loss = json.clone();
    loss["failure"]["model"]["loss"] = serde_json::json!({"kind": "squared"});
    assert!(matches!(refused(&loss), (part, Problem::Mismatch { .. }) if part == "failure.model"));
}

#[test]
fn a_tree_deeper_than_any_stack_is_walked_without_recursion() {
    let (table, json) = trained();
    // a chain of 200,000 splits, each child after its parent: valid, and
    // 100,000 levels deep
    let mut deep = json.clone();
    let leaf = serde_json::json!({"feature": u32::MAX, "threshold": 0.0, "left": 0, "value": 0.0});
    let mut nodes = Vec::new();
    for i in 0..100_000u32 {
        nodes.push(serde_json::json!({"feature": 1, "threshold": -1.0, "left": 2 * i + 1, "value": 0.0}));
        nodes.push(leaf.clone());
    }
    nodes.push(leaf.clone());
    // node 2i's children are 2i+1 and 2i+2: a leaf and the next split,
    // where every job (log requested cpus >= 0 > -1) goes
    deep["runtime"]["trees"]["trees"][0] = Value::Array(nodes);
    let file = parse(&deep).expect("a deep chain is a valid tree");
    predicts_sane_values(file, table);
}

#[test]
fn the_model_file_fuzz_seeds_read_and_predict() {
    // `foresight train` on the first 30 (gbt, requested) or 150 (linear,
    // linear+gbt) H100 jobs, trees cut to two or three per ensemble
    let (table, _) = trained();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/model_file");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = ModelFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        predicts_sane_values(file, table);
        seeds += 1;
    }
    assert_eq!(seeds, 4, "{}", dir.display());
}
