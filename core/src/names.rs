//! Interned names: users, groups and queues become small dense ids, so that
//! the records the scheduler's hot paths read hold no strings.
//!
//! One interner serves the simulator (its workload) and the controller (the
//! jobs it follows), so that the same trace gives the same ids either way.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A fixed-seed hasher: lookups only, so any seed gives the same ids.
type Fast = foldhash::fast::FixedState;

/// The name a job without one is filed under.
pub const NO_NAME: &str = "-";

/// Interned names: a name's id is its index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    names: Vec<String>,
    #[serde(skip)]
    ids: HashMap<String, u32, Fast>,
}

impl Names {
    /// The id of `name`, adding it when new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The id of an optional name (none is [`NO_NAME`]).
    pub fn intern_opt(&mut self, name: Option<&str>) -> u32 {
        self.intern(name.unwrap_or(NO_NAME))
    }

    /// The name of an id.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there is no name.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The three name tables a job's record is interned with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameTables {
    /// User names.
    pub users: Names,
    /// Group (account) names.
    pub groups: Names,
    /// Queue (partition) names.
    pub queues: Names,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable() {
        let mut n = Names::default();
        assert_eq!((n.intern("a"), n.intern("b"), n.intern("a")), (0, 1, 0));
        assert_eq!(n.intern_opt(None), 2);
        assert_eq!((n.name(2), n.name(9), n.len()), (NO_NAME, "?", 3));
    }
}
