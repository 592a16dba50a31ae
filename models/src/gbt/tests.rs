//! Tests of the boosted trees: learning, determinism, flat against walked
//! prediction, old files, and malformed trees.

use super::*;

#[test]
fn boosting_learns_a_step_with_missing_values_and_classes() {
    let rows: Vec<Vec<f64>> =
        (0..400).map(|i| vec![if i % 10 == 0 { f64::NAN } else { f64::from(i % 100) }, f64::from(i % 7)]).collect();
    let y: Vec<f64> = rows.iter().map(|r| if r[0].is_nan() { -5.0 } else if r[0] < 50.0 { 1.0 } else { 3.0 }).collect();
    let m = Gbt::fit(&rows, &y, &GbtParams { min_leaf: 5, ..GbtParams::default() });
    assert!((m.predict(&[10.0, 0.0]) - 1.0).abs() < 0.05);
    assert!((m.predict(&[90.0, 0.0]) - 3.0).abs() < 0.05);
    assert!((m.predict(&[f64::NAN, 0.0]) + 5.0).abs() < 0.1);
    let asym = Gbt::fit(&rows, &y, &GbtParams { loss: Loss::Asymmetric { under_weight: 4.0 }, ..GbtParams::default() });
    assert!(asym.predict(&[10.0, 0.0]) >= m.predict(&[10.0, 0.0]) - 1e-9);
    let median = Gbt::fit(&rows, &y, &GbtParams { loss: Loss::Quantile { q: 0.5 }, ..GbtParams::default() });
    assert!((median.predict(&[90.0, 0.0]) - 3.0).abs() < 0.05);
    let classes: Vec<f64> = y.iter().map(|v| f64::from(*v > 2.0)).collect();
    let c = Gbt::fit(&rows, &classes, &GbtParams { loss: Loss::Logistic, ..GbtParams::default() });
    assert!(c.predict_proba(&[90.0, 0.0]) > 0.9 && c.predict_proba(&[10.0, 0.0]) < 0.1);
}

/// A deterministic pseudo-random table: 5 columns, some NaN.
fn table(n: usize) -> (Matrix, Vec<f64>) {
    let mut x = Matrix::new(5);
    let mut y = Vec::with_capacity(n);
    let mut z = 0x2545_f491_4f6c_dd1du64;
    for i in 0..n {
        let mut r = [0.0; 5];
        for v in &mut r {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            *v = (z % 10_000) as f64 / 100.0;
        }
        r[4] = (r[4] / 10.0).floor();
        if i % 13 == 0 {
            r[1] = f64::NAN;
        }
        y.push(r[0].ln_1p() + if r[1] > 50.0 { 1.0 } else { 0.0 } + 0.1 * r[4] + (r[2] - 50.0) / 500.0);
        x.push_row(&r);
    }
    (x, y)
}

#[test]
fn the_same_model_on_one_thread_or_two_and_flat_prediction_matches_walking() {
    // Large enough for parallel histograms, sub-histograms and
    // subtraction; small enough for a debug build.
    let (x, y) = table(60_000);
    let params = GbtParams { trees: 8, depth: 5, max_rows_per_tree: 50_000, ..GbtParams::default() };
    let fit = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| Gbt::fit_matrix(&x, &y, &params))
    };
    let (one, two) = (fit(1), fit(2));
    assert_eq!(one, two);
    assert_eq!(one.base.to_bits(), two.base.to_bits());
    let mut batch = vec![0.0; x.len()];
    one.predict_into(&x, &mut batch);
    for (i, row) in x.rows().enumerate().step_by(97) {
        let walked = one.base + one.trees.iter().fold(0.0, |s, t| s + eval_tree(t, row));
        assert_eq!(one.predict(row).to_bits(), walked.to_bits(), "row {i}");
        assert_eq!(batch[i].to_bits(), walked.to_bits(), "row {i}");
    }
    let back: Gbt = serde_json::from_str(&serde_json::to_string(&one).unwrap()).unwrap();
    assert_eq!(back, one);
    assert_eq!(back.predict(x.row(7)).to_bits(), one.predict(x.row(7)).to_bits());
    let gains = one.gains();
    assert!(gains[0] > gains[3] && gains[1] > gains[3], "{gains:?}");
}

#[test]
fn a_file_without_gains_still_reads() {
    let json = r#"{"base":1.5,"trees":[[{"feature":0,"threshold":2.0,"left":1,"value":0.0},
        {"feature":4294967295,"threshold":0.0,"left":0,"value":-1.0},
        {"feature":4294967295,"threshold":0.0,"left":0,"value":1.0}]],"loss":{"kind":"squared"}}"#;
    let m: Gbt = serde_json::from_str(json).unwrap();
    assert!(m.gains().is_empty());
    assert_eq!((m.predict(&[1.0]), m.predict(&[3.0]), m.predict(&[f64::NAN])), (0.5, 2.5, 0.5));
}

#[test]
fn an_ensemble_read_on_its_own_never_panics_or_loops_on_a_malformed_tree() {
    // node 0 splits with its children at 0 and 1: a cycle back to itself
    let cyclic = r#"{"base":1.0,"trees":[[{"feature":0,"threshold":2.0,"left":0,"value":0.0},
        {"feature":4294967295,"threshold":0.0,"left":0,"value":1.0}],[]],"loss":{"kind":"squared"}}"#;
    let m: Gbt = serde_json::from_str(cyclic).unwrap();
    assert!(m.flat.is_none(), "not flattened");
    assert_eq!(m.check(1), Err(crate::invalid::Problem::ChildNotAfter { tree: 0, node: 0, left: 0 }));
    assert!(m.predict(&[5.0]).is_nan() && m.predict(&[]).is_nan());
    // a valid tree asked about a row narrower than its features
    let json = r#"{"base":1.5,"trees":[[{"feature":3,"threshold":2.0,"left":1,"value":0.0},
        {"feature":4294967295,"threshold":0.0,"left":0,"value":-1.0},
        {"feature":4294967295,"threshold":0.0,"left":0,"value":1.0}]],"loss":{"kind":"squared"}}"#;
    let m: Gbt = serde_json::from_str(json).unwrap();
    assert_eq!(m.check(3), Err(crate::invalid::Problem::FeatureOutOfRange { tree: 0, node: 0, feature: 3, width: 3 }));
    assert!(m.predict(&[0.0; 3]).is_nan());
    assert_eq!(m.predict(&[0.0; 4]), 0.5);
}

#[test]
fn many_trees_beside_a_deep_one_are_walked_not_flattened_into_a_huge_heap() {
    // one tree of depth 12 (a chain) and 300 one-leaf trees: 301 * 4096
    // slots flat, past the cap
    let leaf = Node { feature: u32::MAX, threshold: 0.0, left: 0, value: 0.25 };
    let mut chain = Vec::new();
    for i in 0..12u32 {
        chain.push(Node { feature: 0, threshold: f64::from(i), left: 2 * i + 1, value: 0.0 });
        chain.push(Node { value: f64::from(i), ..leaf });
    }
    chain.push(Node { value: 100.0, ..leaf });
    let mut trees = vec![chain];
    trees.extend(std::iter::repeat_n(vec![leaf], 300));
    let m: Gbt = GbtData { base: 0.0, trees, loss: Loss::Squared, gain: Vec::new() }.into();
    assert!(m.flat.is_none());
    assert_eq!(m.check(1), Ok(()));
    assert_eq!(m.predict(&[5.5]), 6.0 + 300.0 * 0.25);
    assert_eq!(m.predict(&[20.0]), 100.0 + 300.0 * 0.25);
    let small: Gbt = GbtData { base: 0.0, trees: m.trees[..200].to_vec(), loss: Loss::Squared, gain: Vec::new() }.into();
    assert!(small.flat.is_some(), "200 * 4096 slots are under the cap");
    assert_eq!(small.predict(&[5.5]), 6.0 + 199.0 * 0.25);
}
