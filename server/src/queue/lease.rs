//! A worker's `Lease`: the queue's expiries and the kept runtimes
//! brought up to date, the decision (on the kept runtime, or from the rows
//! where budgets or a mode other than enforce are in play), and the grants
//! written with their decision-log details.

use super::*;

impl<S: Store> Queue<S> {
    /// Leases what the policy starts on worker `offer` now; the caller
    /// ([`Queue::lease_with`]) has checked its role.
    pub(super) fn lease_now(
        &mut self,
        caller: &Caller,
        offer: WorkerRow,
        terms: crate::governance::WorkerTerms,
        now_ms: i64,
    ) -> Result<Vec<Granted>, QueueError> {
        self.sync_admin()?;
        self.set_baseline_terms(&offer.id, &terms);
        self.dispatcher.set_terms(&offer.id, terms);
        // the kept runtimes follow what changed since the last call, the
        // expiries included
        self.follow(now_ms)?;
        if self.expire_now(now_ms)? > 0 {
            self.follow(now_ms)?;
        }
        let mut offer = offer;
        offer.seen_at_ms = now_ms;
        self.store.put_worker(&offer)?;
        let since = now_ms - self.cfg.lease_ttl_ms;
        self.keep_worker(&offer)?;
        let limits = self.limits()?;
        let mut used = self.used_today(&limits, now_ms)?;
        let budgeted = limits.values().any(|l| l.gpu_hours_per_day > 0.0);
        // the kept runtime runs the active policy: in shadow and advise the
        // baseline dispatches, from the rows (`place_by_mode`)
        let enforcing = self.side.steer.mode == admin::Mode::Enforce;
        let kept = if budgeted || !enforcing {
            None
        } else {
            let span = tracing::debug_span!(
                "dispatch",
                worker = %offer.id,
                mode = "enforce",
                policy = %self.dispatcher.policy_name(),
                policy_version = self.side.steer.version,
                kept = true,
                started = tracing::field::Empty,
            );
            let _in = span.enter();
            let kept = self.place_kept(&offer.id, &offer.pool, since, now_ms)?;
            if let Some(granted) = &kept {
                span.record("started", granted.len());
                tracing::debug!(jobs = ?granted.iter().map(|j| j.id).collect::<Vec<_>>(), "dispatched by the kept runtime");
            }
            kept
        };
        let (mut granted, steered): (Vec<JobRow>, String) = match kept {
            Some(granted) => (granted, format!("; policy v{}", self.side.steer.version)),
            None => {
                let workers = self.pool_live_workers(&offer.pool, since)?;
                let (leased, queued) = self.pool_rows(&offer.pool)?;
                // a tenant over its GPU budget waits: its jobs are not offered to the policy
                let queued: Vec<JobRow> =
                    queued.into_iter().filter(|j| fits_budget(&limits, &mut used, j, false)).collect();
                let (ids, steered) = self.place_by_mode(&offer.id, &workers, &leased, &queued, now_ms)?;
                // and what the policy starts together stays within it too
                let granted =
                    queued.into_iter().filter(|j| ids.contains(&j.id) && fits_budget(&limits, &mut used, j, true));
                (granted.collect(), steered)
            }
        };
        for j in &mut granted {
            j.state = JobState::Leased;
            j.attempts += 1;
            j.worker_id = offer.id.clone();
            j.started_at_ms = now_ms;
            j.lease_expires_at_ms = now_ms + self.cfg.lease_ttl_ms;
            j.not_before_ms = 0;
        }
        let actor = caller.actor();
        let details: Vec<String> = granted
            .iter()
            .map(|j| {
                // a deadline's slack at the start, by prediction (negative: late)
                let slack = match crate::convert::slack_s(j, now_ms) {
                    Some(s) if s < 0.0 => format!(", slack {s:.1} s: cannot meet its deadline by prediction"),
                    Some(s) => format!(", slack {s:.1} s"),
                    None => String::new(),
                };
                let why = self.dispatcher.admission(&offer.id, &j.spec);
                format!("worker `{}`, attempt {}{slack}; governance: {why}{steered}", offer.id, j.attempts)
            })
            .collect();
        let changes: Vec<Change<'_>> = granted
            .iter()
            .zip(&details)
            .map(|(j, d)| Change { job: j, kind: "leased", detail: d, actor: &actor, at_ms: now_ms })
            .collect();
        self.apply(&changes)?;
        Ok(granted.into_iter().map(|job| Granted { job }).collect())
    }
}
