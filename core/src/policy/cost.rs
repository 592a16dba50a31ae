//! Cost-aware placement across pools: the cheapest pool that meets a job's
//! deadline by prediction.

/// What one pool offers a job: its price and, by prediction, when the job
/// would start there and how long it would run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolOffer {
    /// The pool's price per GPU-hour (per CPU-hour for a job without GPUs).
    pub price_per_hour: f64,
    /// The predicted start, seconds on the run's clock; `None` when no
    /// machine of the pool could run the job.
    pub start_s: Option<f64>,
    /// The predicted runtime there, seconds.
    pub runtime_s: f64,
}

impl PoolOffer {
    /// The predicted end, when the job could start.
    pub fn end_s(&self) -> Option<f64> {
        self.start_s.map(|s| s + self.runtime_s)
    }

    /// The predicted cost per unit of the job's size (GPU or CPU): price
    /// times predicted runtime in hours.
    pub fn cost(&self) -> f64 {
        self.price_per_hour * self.runtime_s / 3600.0
    }
}

/// Why [`cheapest_meeting`] chose its offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostChoice {
    /// The cheapest offer whose predicted end meets the deadline.
    MeetsDeadline,
    /// No deadline: the cheapest offer.
    Cheapest,
    /// No offer meets the deadline by prediction: the earliest end.
    NoneMeetsDeadline,
}

/// The offer to take for a job with `deadline_s` (`None`: none): the
/// cheapest by predicted cost among those whose predicted end meets the
/// deadline (ties: the earlier end, then the first offered); without a
/// deadline, the cheapest; when none meets it, the earliest end. `None`
/// when no offer could run the job.
pub fn cheapest_meeting(deadline_s: Option<f64>, offers: &[PoolOffer]) -> Option<(usize, CostChoice)> {
    let runnable = || offers.iter().enumerate().filter_map(|(i, o)| o.end_s().map(|e| (i, o, e)));
    let cheapest = |it: &mut dyn Iterator<Item = (usize, &PoolOffer, f64)>| {
        it.min_by(|a, b| a.1.cost().total_cmp(&b.1.cost()).then(a.2.total_cmp(&b.2)).then(a.0.cmp(&b.0))).map(|x| x.0)
    };
    match deadline_s {
        None => cheapest(&mut runnable()).map(|i| (i, CostChoice::Cheapest)),
        Some(d) => match cheapest(&mut runnable().filter(|x| x.2 <= d)) {
            Some(i) => Some((i, CostChoice::MeetsDeadline)),
            None => runnable()
                .min_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)))
                .map(|x| (x.0, CostChoice::NoneMeetsDeadline)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(price: f64, start: Option<f64>, run: f64) -> PoolOffer {
        PoolOffer { price_per_hour: price, start_s: start, runtime_s: run }
    }

    #[test]
    fn the_cheapest_pool_that_meets_the_deadline_wins() {
        // a: dear and free now; b: cheap but busy for an hour; c: cannot run it
        let offers = [offer(2.5, Some(0.0), 600.0), offer(1.0, Some(3600.0), 600.0), offer(0.1, None, 600.0)];
        assert_eq!(cheapest_meeting(Some(7200.0), &offers), Some((1, CostChoice::MeetsDeadline)));
        assert_eq!(cheapest_meeting(Some(1800.0), &offers), Some((0, CostChoice::MeetsDeadline)));
        assert_eq!(cheapest_meeting(None, &offers), Some((1, CostChoice::Cheapest)));
        assert_eq!(cheapest_meeting(Some(100.0), &offers), Some((0, CostChoice::NoneMeetsDeadline)));
        assert_eq!(cheapest_meeting(Some(100.0), &offers[2..]), None);
        // equal prices: the earlier end
        let tie = [offer(1.0, Some(50.0), 10.0), offer(1.0, Some(0.0), 10.0)];
        assert_eq!(cheapest_meeting(None, &tie), Some((1, CostChoice::Cheapest)));
    }
}
