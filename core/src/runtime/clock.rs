//! The runtime's clocks: where "now" comes from.
//!
//! The runtime never reads the time itself; whoever drives it passes a
//! [`Clock`] with each input. The simulator moves a [`VirtualClock`] from
//! event to event; the controller passes a wall clock (in its own crate:
//! reading the system time is I/O, which `core` does not do). The shape is
//! NeXosim's `time/clock.rs`: one small trait, a virtual implementation
//! that is only ever set, and a real one that is only ever read.

/// A source of the current time, in seconds (of the trace, or Unix seconds
/// for a live cluster).
pub trait Clock {
    /// The current time.
    fn now(&self) -> f64;
}

/// Virtual time: it stands still until the event source moves it, and it
/// never moves back.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VirtualClock {
    now: f64,
}

impl VirtualClock {
    /// A clock showing `t`.
    pub const fn at(t: f64) -> Self {
        Self { now: t }
    }

    /// Moves the clock to `t`; a `t` before the time shown leaves it where
    /// it is (virtual time never runs backwards). Returns the time shown.
    #[inline]
    pub fn advance_to(&mut self, t: f64) -> f64 {
        if t > self.now {
            self.now = t;
        }
        self.now
    }
}

impl Clock for VirtualClock {
    #[inline]
    fn now(&self) -> f64 {
        self.now
    }
}

/// Any closure that gives the time is a clock (a test's fixed instant).
impl<F: Fn() -> f64> Clock for F {
    fn now(&self) -> f64 {
        self()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_only_moves_forward() {
        let mut c = VirtualClock::at(10.0);
        assert_eq!(c.advance_to(15.0), 15.0);
        assert_eq!(c.advance_to(12.0), 15.0, "never back");
        assert_eq!(c.now(), 15.0);
        assert_eq!((|| 3.0).now(), 3.0);
    }
}
