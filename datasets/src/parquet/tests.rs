//! Parquet round trips: hand-made tables and, by property, any table.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn round_trip(table: &JobTable) -> JobTable {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.parquet");
    write(table, &path).unwrap();
    read(&path).unwrap()
}

fn sample() -> JobTable {
    let mut labels = BTreeMap::new();
    labels.insert("residency".to_string(), "eu".to_string());
    let mut features = BTreeMap::new();
    features.insert("d_model".to_string(), FeatureValue::Num(2048.0));
    features.insert("dtype".to_string(), FeatureValue::Text("bfloat16".into()));
    let full = Job {
        job_id: "1003_4".into(),
        attempt: 1,
        user: Some("alice".into()),
        group: Some("ml".into()),
        queue: Some("gpu".into()),
        name: Some("train".into()),
        submit_s: 10.5,
        start_s: Some(12.0),
        end_s: Some(100.0),
        runtime_s: Some(88.0),
        req_gpus: Some(8),
        req_cpus: Some(16),
        req_nodes: Some(2),
        req_mem_mb: Some(65_536),
        req_time_s: Some(3600.0),
        status: JobStatus::Timeout,
        priority: Some(-4),
        gpu_type: Some("a100".into()),
        depends_on: vec!["1001".into(), "1002".into()],
        labels,
        features,
    };
    let empty = Job { job_id: "x".into(), ..Job::default() };
    let mut meta = TraceMeta { format: "sacct".into(), source: "s.txt".into(), epoch_unix_s: Some(1.7e9), ..TraceMeta::default() };
    meta.capacity.cpus = Some(100);
    meta.partitions.push("gpu".into());
    JobTable { meta, jobs: vec![full, empty] }
}

#[test]
fn every_field_and_the_metadata_survive() {
    let t = sample();
    assert_eq!(round_trip(&t), t);
}

#[test]
fn the_frame_has_canonical_columns_then_features() {
    let df = to_dataframe(&sample()).unwrap();
    let names: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
    assert_eq!(&names[..20], &CANONICAL_COLUMNS[..]);
    assert_eq!(&names[20..], ["d_model", "dtype"]);
    assert_eq!(df.column("req_gpus").unwrap().dtype(), &DataType::UInt32);
    assert_eq!(df.column("depends_on").unwrap().dtype(), &DataType::List(Box::new(DataType::String)));
}

#[test]
fn mixed_feature_kinds_are_written_as_text() {
    let mut t = sample();
    t.jobs[1].features.insert("d_model".into(), FeatureValue::Text("wide".into()));
    let back = round_trip(&t);
    assert_eq!(back.jobs[0].features["d_model"], FeatureValue::Text("2048".into()));
    assert_eq!(back.jobs[1].features["d_model"], FeatureValue::Text("wide".into()));
}

#[test]
fn a_file_that_is_not_a_job_table_is_a_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.parquet");
    let mut df = df!("x" => [1i64, 2]).unwrap();
    ParquetWriter::new(File::create(&path).unwrap()).finish(&mut df).unwrap();
    let err = read(&path).unwrap_err().to_string();
    assert!(err.contains("other.parquet") && err.contains("`job_id` column"), "{err}");
    std::fs::write(&path, b"PAR1 garbage").unwrap();
    assert!(read(&path).unwrap_err().to_string().starts_with("parquet file"));
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(".{0,12}")
}

fn finite() -> impl Strategy<Value = f64> {
    -1e12f64..1e12
}

prop_compose! {
    fn arb_job(kinds: Vec<(String, bool)>)(
        job_id in ".{0,10}", attempt in 0u32..5, user in opt_text(), group in opt_text(), queue in opt_text(),
        name in opt_text(), submit_s in finite(), start_s in proptest::option::of(finite()),
        end_s in proptest::option::of(finite()), runtime_s in proptest::option::of(finite()),
        req_gpus in proptest::option::of(any::<u32>()), req_cpus in proptest::option::of(any::<u32>()),
        req_nodes in proptest::option::of(any::<u32>()), req_mem_mb in proptest::option::of(any::<u64>()),
        req_time_s in proptest::option::of(finite()), status in proptest::sample::select(JobStatus::ALL.to_vec()),
        priority in proptest::option::of(any::<i64>()), gpu_type in opt_text(),
        depends_on in proptest::collection::vec(".{0,6}", 0..3),
        labels in proptest::collection::btree_map("[a-z]{1,5}", ".{0,8}", 0..3),
        values in proptest::collection::vec((any::<bool>(), finite(), ".{0,6}"), kinds.len()),
    ) -> Job {
        let features = kinds.iter().zip(values)
            .filter(|(_, (present, _, _))| *present)
            .map(|((name, numeric), (_, x, t))| {
                (name.clone(), if *numeric { FeatureValue::Num(x) } else { FeatureValue::Text(t) })
            })
            .collect();
        Job { job_id, attempt, user, group, queue, name, submit_s, start_s, end_s, runtime_s, req_gpus, req_cpus,
              req_nodes, req_mem_mb, req_time_s, status, priority, gpu_type, depends_on, labels, features }
    }
}

fn arb_table() -> impl Strategy<Value = JobTable> {
    proptest::collection::vec(("f_[a-z]{1,4}", any::<bool>()), 0..3)
        .prop_flat_map(|kinds| {
            let mut kinds = kinds;
            kinds.sort();
            kinds.dedup_by(|a, b| a.0 == b.0);
            proptest::collection::vec(arb_job(kinds), 0..8)
        })
        .prop_map(|jobs| JobTable { meta: TraceMeta { format: "swf".into(), source: "p".into(), ..TraceMeta::default() }, jobs })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any job table (features of one kind each, as every reader makes
    /// them) comes back from Parquet unchanged.
    #[test]
    fn proptest_parquet_round_trip_is_lossless(table in arb_table()) {
        prop_assert_eq!(round_trip(&table), table);
    }
}
