//! Tenants: the demand split by queue, group or user, so that each tenant's
//! arrivals and work are forecast on their own series, with their own band,
//! and each tenant's synthetic jobs are resampled from that tenant's recent
//! jobs. The largest tenants by recent requested work are kept by name; the
//! rest share one tenant, [`OTHER`].

use super::classes::work_cpu_h;
use foresight_core::Job;
use serde::{Deserialize, Serialize};

/// The name of the tenant that holds every job of the smaller tenants (and
/// jobs that name none).
pub const OTHER: &str = "(other)";

/// What names a job's tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantKey {
    /// The job's queue (a Slurm partition; an SWF log's partition, else its
    /// queue).
    Queue,
    /// The job's group (a Slurm account).
    Group,
    /// The job's user.
    User,
}

/// A tenant key that is none of `queue`, `group` and `user`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{0}`: expected a tenant key: queue (or partition), group (or account) or user")]
pub struct BadTenantKey(pub String);

impl std::str::FromStr for TenantKey {
    type Err = BadTenantKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "queue" | "partition" => Ok(Self::Queue),
            "group" | "account" => Ok(Self::Group),
            "user" => Ok(Self::User),
            _ => Err(BadTenantKey(s.to_string())),
        }
    }
}

impl std::fmt::Display for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Queue => "queue",
            Self::Group => "group",
            Self::User => "user",
        })
    }
}

impl TenantKey {
    /// The tenant `j` names, if it names one.
    pub fn of<'a>(&self, j: &'a Job) -> Option<&'a str> {
        match self {
            Self::Queue => j.queue.as_deref(),
            Self::Group => j.group.as_deref(),
            Self::User => j.user.as_deref(),
        }
    }
}

/// The tenants a plan forecasts: the key and the names, [`OTHER`] last
/// (it holds the smaller tenants, jobs that name none, and tenants not seen
/// in the recent past, such as those of older periods).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenants {
    /// What names a job's tenant.
    pub key: TenantKey,
    /// The tenants, largest recent work first, [`OTHER`] last.
    pub names: Vec<String>,
}

impl Tenants {
    /// The `most` tenants of `recent` with the largest requested CPU hours
    /// (ties by name), and [`OTHER`] for every other job; `None` when
    /// `recent`'s jobs fall in fewer than two tenants (nothing to split).
    pub fn largest(recent: &[Job], key: TenantKey, most: usize) -> Option<Self> {
        let mut work: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
        let mut unnamed = false;
        for j in recent {
            match key.of(j) {
                Some(t) if t != OTHER => *work.entry(t).or_default() += work_cpu_h(j),
                _ => unnamed = true,
            }
        }
        if work.len() + usize::from(unnamed) < 2 {
            return None;
        }
        let mut by_work: Vec<(&str, f64)> = work.into_iter().collect();
        by_work.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let mut names: Vec<String> = by_work.iter().take(most.max(1)).map(|t| t.0.to_string()).collect();
        names.push(OTHER.to_string());
        Some(Self { key, names })
    }

    /// The index of `j`'s tenant in [`Tenants::names`]: its own if named,
    /// else [`OTHER`]'s (the last).
    pub fn index(&self, j: &Job) -> usize {
        let last = self.names.len().saturating_sub(1);
        match self.key.of(j) {
            Some(t) => self.names.iter().position(|n| n == t && n != OTHER).unwrap_or(last),
            None => last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(queue: Option<&str>, cpus: u32) -> Job {
        Job { queue: queue.map(String::from), req_cpus: Some(cpus), req_time_s: Some(3600.0), ..Job::default() }
    }

    #[test]
    fn the_largest_tenants_by_work_are_named_and_the_rest_share_other() {
        let recent = vec![job(Some("a"), 4), job(Some("b"), 16), job(Some("c"), 1), job(None, 2), job(Some("b"), 1)];
        let t = Tenants::largest(&recent, TenantKey::Queue, 2).unwrap();
        assert_eq!(t.names, ["b", "a", OTHER]);
        assert_eq!(recent.iter().map(|j| t.index(j)).collect::<Vec<_>>(), [1, 0, 2, 2, 0]);
        assert_eq!(t.index(&job(Some("new"), 1)), 2, "a tenant not seen before counts as other");
        let all = Tenants::largest(&recent[..3], TenantKey::Queue, 8).unwrap();
        assert_eq!(all.names, ["b", "a", "c", OTHER], "other stays, for tenants of other periods");
        assert_eq!(Tenants::largest(&[job(Some("a"), 1), job(Some("a"), 2)], TenantKey::Queue, 8), None);
        assert_eq!(Tenants::largest(&recent, TenantKey::User, 8), None, "no job names a user");
    }

    #[test]
    fn tenant_keys_parse_with_their_slurm_names_and_refuse_others() {
        assert_eq!("partition".parse::<TenantKey>(), Ok(TenantKey::Queue));
        assert_eq!("Account".parse::<TenantKey>(), Ok(TenantKey::Group));
        assert_eq!("user".parse::<TenantKey>(), Ok(TenantKey::User));
        assert!("tenant".parse::<TenantKey>().unwrap_err().to_string().contains("`tenant`: expected a tenant key"));
    }
}
