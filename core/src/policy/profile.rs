//! The free-capacity profile: how much of the cluster is free from now on,
//! as a step function of time built from the running jobs' expected ends,
//! into which reservations are cut (conservative backfilling).

use crate::resources::Resources;

/// A step function: `points[i].1` is free from `points[i].0` until the next
/// point's time; the last step lasts forever. Times are strictly increasing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    points: Vec<(f64, Resources)>,
}

impl Profile {
    /// Rebuilds the profile: `free_now` from `now`, plus each release
    /// `(time, resources)` from its time on. Releases must come in time
    /// order; those before `now` count as at `now`.
    pub fn rebuild(&mut self, now: f64, free_now: Resources, releases: impl IntoIterator<Item = (f64, Resources)>) {
        self.points.clear();
        self.points.push((now, free_now));
        for (t, r) in releases {
            let t = t.max(now);
            let last = self.points.last_mut().expect("profile has a first point");
            let free = last.1.saturating_add(&r);
            if last.0 == t {
                last.1 = free;
            } else {
                self.points.push((t, free));
            }
        }
    }

    /// The steps, for inspection.
    pub fn points(&self) -> &[(f64, Resources)] {
        &self.points
    }

    /// The earliest time from the profile's start at which `need` is free
    /// for `dur` seconds without a break; `None` if never.
    pub fn earliest(&self, need: &Resources, dur: f64) -> Option<f64> {
        let p = &self.points;
        let mut i = 0;
        'start: while i < p.len() {
            if !need.fits_in(&p[i].1) {
                i += 1;
                continue;
            }
            let end = p[i].0 + dur;
            let mut j = i + 1;
            while j < p.len() && p[j].0 < end {
                if !need.fits_in(&p[j].1) {
                    i = j + 1;
                    continue 'start;
                }
                j += 1;
            }
            return Some(p[i].0);
        }
        None
    }

    /// Takes `need` out of the profile over `[start, start + dur)`. The
    /// caller has checked that it fits (see [`Profile::earliest`]).
    pub fn reserve(&mut self, start: f64, dur: f64, need: &Resources) {
        let from = self.split_at(start);
        let end = start + dur;
        let to = if end.is_finite() { self.split_at(end) } else { self.points.len() };
        for p in &mut self.points[from..to] {
            p.1 = p.1.saturating_sub(need);
        }
    }

    /// Index of the point at `t`, inserting one (with the free room of the
    /// step it falls in) if needed.
    fn split_at(&mut self, t: f64) -> usize {
        let pos = self.points.partition_point(|p| p.0 < t);
        if pos < self.points.len() && self.points[pos].0 == t {
            return pos;
        }
        let free = if pos == 0 { Resources::default() } else { self.points[pos - 1].1 };
        self.points.insert(pos, (t, free));
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(n: u32) -> Resources {
        Resources::new(n, 0, 0)
    }

    #[test]
    fn reservations_push_later_jobs_back() {
        let mut p = Profile::default();
        p.rebuild(0.0, cpus(2), [(10.0, cpus(4)), (10.0, cpus(2)), (30.0, cpus(2))]);
        assert_eq!(p.points().len(), 3);
        assert_eq!(p.earliest(&cpus(2), 100.0), Some(0.0));
        assert_eq!(p.earliest(&cpus(5), 5.0), Some(10.0));
        assert_eq!(p.earliest(&cpus(11), 5.0), None);
        p.reserve(10.0, 15.0, &cpus(8));
        assert_eq!(p.earliest(&cpus(3), 10.0), Some(25.0), "the reservation leaves 0 then 8 free");
        assert_eq!(p.earliest(&cpus(1), 5.0), Some(0.0));
        assert_eq!(p.earliest(&cpus(1), 15.0), Some(25.0), "a job must not cross the hole");
        p.reserve(40.0, f64::INFINITY, &cpus(10));
        assert_eq!(p.earliest(&cpus(1), 100.0), None);
    }
}
