//! Decayed resource usage per user and per group, the input of fair-share
//! orders (Slurm's `PriorityDecayHalfLife`).

/// A usage value and the time it was last brought up to date.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Decayed {
    value: f64,
    at: f64,
}

impl Decayed {
    fn at(&self, now: f64, half_life_s: f64) -> f64 {
        if self.value == 0.0 || !half_life_s.is_finite() || now <= self.at {
            self.value
        } else {
            self.value * (-(now - self.at) / half_life_s).exp2()
        }
    }

    fn add(&mut self, amount: f64, now: f64, half_life_s: f64) {
        self.value = self.at(now, half_life_s) + amount;
        self.at = self.at.max(now);
    }
}

/// Usage (in dominant-share seconds: a job holding a quarter of the cluster
/// for an hour charges 900) per interned user and group, decaying
/// exponentially with a half-life. Users and groups are registered when
/// their first job is submitted; every registered user has an equal share.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageLedger {
    half_life_s: f64,
    users: Vec<Option<Decayed>>,
    groups: Vec<Option<Decayed>>,
    total: Decayed,
    n_users: u32,
    n_groups: u32,
}

impl UsageLedger {
    /// An empty ledger; `f64::INFINITY` disables decay.
    pub fn new(half_life_s: f64) -> Self {
        Self {
            half_life_s,
            users: Vec::new(),
            groups: Vec::new(),
            total: Decayed::default(),
            n_users: 0,
            n_groups: 0,
        }
    }

    /// Makes a user and a group known (each then has a share).
    pub fn register(&mut self, user: u32, group: u32) {
        let u = slot(&mut self.users, user);
        if u.is_none() {
            *u = Some(Decayed::default());
            self.n_users += 1;
        }
        let g = slot(&mut self.groups, group);
        if g.is_none() {
            *g = Some(Decayed::default());
            self.n_groups += 1;
        }
    }

    /// Charges `amount` of usage to a user and their group at `now`.
    pub fn charge(&mut self, user: u32, group: u32, amount: f64, now: f64) {
        self.register(user, group);
        let h = self.half_life_s;
        if let Some(u) = slot(&mut self.users, user) {
            u.add(amount, now, h);
        }
        if let Some(g) = slot(&mut self.groups, group) {
            g.add(amount, now, h);
        }
        self.total.add(amount, now, h);
    }

    /// A user's decayed usage at `now` (0 for an unknown user).
    pub fn user_usage(&self, user: u32, now: f64) -> f64 {
        get(&self.users, user).map_or(0.0, |d| d.at(now, self.half_life_s))
    }

    /// A group's decayed usage at `now` (0 for an unknown group).
    pub fn group_usage(&self, group: u32, now: f64) -> f64 {
        get(&self.groups, group).map_or(0.0, |d| d.at(now, self.half_life_s))
    }

    /// Everybody's decayed usage at `now`.
    pub fn total_usage(&self, now: f64) -> f64 {
        self.total.at(now, self.half_life_s)
    }

    /// Number of registered users.
    pub fn users(&self) -> u32 {
        self.n_users
    }

    /// Number of registered groups.
    pub fn groups(&self) -> u32 {
        self.n_groups
    }

    /// The half-life, seconds.
    pub fn half_life_s(&self) -> f64 {
        self.half_life_s
    }
}

fn slot(v: &mut Vec<Option<Decayed>>, id: u32) -> &mut Option<Decayed> {
    let i = id as usize;
    if v.len() <= i {
        v.resize(i + 1, None);
    }
    &mut v[i]
}

fn get(v: &[Option<Decayed>], id: u32) -> Option<&Decayed> {
    v.get(id as usize).and_then(|d| d.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_halves_after_one_half_life() {
        let mut l = UsageLedger::new(100.0);
        l.charge(3, 1, 8.0, 0.0);
        assert_eq!(l.users(), 1);
        assert_eq!(l.user_usage(3, 100.0), 4.0);
        assert_eq!(l.group_usage(1, 200.0), 2.0);
        l.charge(3, 1, 2.0, 100.0);
        assert_eq!(l.user_usage(3, 100.0), 6.0);
        assert_eq!(l.total_usage(100.0), 6.0);
        assert_eq!(l.user_usage(9, 100.0), 0.0);
    }
}
