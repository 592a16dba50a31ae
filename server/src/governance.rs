//! Governance terms checked before placement: data residency (a job's
//! `region` label must equal the worker's), node selectors (each
//! `key=value` the job selects must be among the worker's labels) and
//! taints (a worker's taint keeps away every job without a matching
//! toleration). A job's selectors and tolerations are kept in reserved
//! labels until the store has columns for them; a worker's labels and
//! taints are what its last `Lease` offered.

use std::collections::BTreeMap;

/// The label that names where a job's data may be processed, and where a
/// worker is.
pub const REGION_LABEL: &str = "region";
/// Reserved label prefix of a job's node selectors (`foresight/select/KEY`).
pub const SELECT_PREFIX: &str = "foresight/select/";
/// Reserved label prefix of a job's tolerations (`foresight/tolerate/KEY`;
/// an empty value tolerates any value of the taint).
pub const TOLERATE_PREFIX: &str = "foresight/tolerate/";

/// What a worker offers beyond its capacity: its labels and its taints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerTerms {
    /// Its labels (`region`, `disk`, ...).
    pub labels: BTreeMap<String, String>,
    /// Its taints, `key -> value`: jobs without a matching toleration stay away.
    pub taints: BTreeMap<String, String>,
}

/// Whether a job's labels carry any governance term (region, selector or
/// toleration).
pub fn has_terms(job_labels: &BTreeMap<String, String>) -> bool {
    job_labels.contains_key(REGION_LABEL)
        || job_labels.keys().any(|k| k.starts_with(SELECT_PREFIX) || k.starts_with(TOLERATE_PREFIX))
}

/// `Ok` with why a worker may take the job (for the decision log), or
/// `Err` with the first term it breaks.
pub fn check(job_labels: &BTreeMap<String, String>, w: &WorkerTerms) -> Result<String, String> {
    let mut why = Vec::new();
    if let Some(region) = job_labels.get(REGION_LABEL) {
        match w.labels.get(REGION_LABEL) {
            Some(r) if r == region => why.push(format!("region {region}")),
            Some(r) => return Err(format!("data residency: job's region `{region}`, worker's `{r}`")),
            None => return Err(format!("data residency: job's region `{region}`, worker has none")),
        }
    }
    for (k, v) in job_labels {
        if let Some(key) = k.strip_prefix(SELECT_PREFIX) {
            if w.labels.get(key) != Some(v) {
                return Err(format!("node selector: worker lacks label `{key}={v}`"));
            }
            why.push(format!("selects {key}={v}"));
        }
    }
    for (key, value) in &w.taints {
        match job_labels.get(&format!("{TOLERATE_PREFIX}{key}")) {
            Some(t) if t.is_empty() || t == value => why.push(format!("tolerates {key}={value}")),
            _ => return Err(format!("taint: worker has `{key}={value}`, job does not tolerate it")),
        }
    }
    Ok(if why.is_empty() { "no governance terms".into() } else { why.join(", ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn residency_selectors_and_taints_each_refuse_with_their_reason() {
        let eu = WorkerTerms { labels: map(&[("region", "eu"), ("disk", "ssd")]), taints: BTreeMap::new() };
        let plain = map(&[("team", "x")]);
        assert_eq!(check(&plain, &eu).unwrap(), "no governance terms");
        assert_eq!(check(&map(&[("region", "eu")]), &eu).unwrap(), "region eu");
        assert!(check(&map(&[("region", "us")]), &eu).unwrap_err().starts_with("data residency"));
        assert!(check(&map(&[("region", "us")]), &WorkerTerms::default()).unwrap_err().contains("worker has none"));
        assert_eq!(check(&map(&[("foresight/select/disk", "ssd")]), &eu).unwrap(), "selects disk=ssd");
        assert!(check(&map(&[("foresight/select/disk", "hdd")]), &eu).unwrap_err().starts_with("node selector"));
        let tainted = WorkerTerms { taints: map(&[("reserved", "training")]), ..eu.clone() };
        assert!(check(&plain, &tainted).unwrap_err().starts_with("taint"));
        assert!(check(&map(&[("foresight/tolerate/reserved", "serving")]), &tainted).is_err());
        assert_eq!(
            check(&map(&[("foresight/tolerate/reserved", "training")]), &tainted).unwrap(),
            "tolerates reserved=training"
        );
        assert!(check(&map(&[("foresight/tolerate/reserved", "")]), &tainted).is_ok(), "an empty value tolerates any");
        assert!(!has_terms(&plain) && has_terms(&map(&[("foresight/select/a", "b")])));
    }
}
