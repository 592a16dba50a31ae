//! An index of the nodes' free room: a binary tree over the nodes whose
//! every inner entry is the component-wise largest free room below it (a
//! node that is down counts as empty). It answers "the first node from
//! here on where this fits" in about `log n` steps instead of a scan, and
//! is kept up to date by the state in `log n` per node changed.
//!
//! Below [`INDEX_MIN_NODES`] nodes a scan is cheaper than keeping the tree
//! (KTH-SP2's 100 one-CPU nodes replay twice as fast without it), so the
//! tree is then switched off and the index keeps instead one bit per node,
//! set when the node has any free room: placements scan only the nodes whose
//! bit is set (a node with no room holds nothing but an empty need) and
//! place the same.

use crate::resources::Resources;

/// The component-wise larger of two resource vectors.
pub fn max_room(a: &Resources, b: &Resources) -> Resources {
    Resources { cpus: a.cpus.max(b.cpus), gpus: a.gpus.max(b.gpus), mem_mb: a.mem_mb.max(b.mem_mb) }
}

/// The cluster size from which [`FreeIndex::new`] keeps the tree.
pub const INDEX_MIN_NODES: usize = 256;

/// The tree, stored as an array: entry 1 is the root, entry `i` has
/// children `2i` and `2i + 1`, and node `k` is the leaf `width + k`.
/// Leaves past the last node are empty. When the tree is switched off, a
/// bitset of the nodes with free room instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreeIndex {
    enabled: bool,
    nodes: usize,
    width: usize,
    entries: Vec<Resources>,
    /// Without the tree: bit `k % 64` of word `k / 64` is set when node `k`
    /// has any free room (empty with the tree).
    room: Vec<u64>,
}

impl FreeIndex {
    /// An index over the free room of each node, in node order, kept
    /// from [`INDEX_MIN_NODES`] nodes on.
    pub fn new(free: impl ExactSizeIterator<Item = Resources>) -> Self {
        let enabled = free.len() >= INDEX_MIN_NODES;
        Self::with(free, enabled)
    }

    /// An index over the free room of each node, the tree kept or not as
    /// told (without it, the index holds only which nodes have room, and its
    /// users scan those).
    pub fn with(free: impl ExactSizeIterator<Item = Resources>, enabled: bool) -> Self {
        let nodes = free.len();
        if !enabled {
            let mut room = vec![0; nodes.div_ceil(64)];
            for (k, r) in free.enumerate() {
                set_bit(&mut room, k, !r.is_zero());
            }
            return Self { enabled, nodes, width: 0, entries: Vec::new(), room };
        }
        let width = nodes.next_power_of_two().max(1);
        let mut entries = vec![Resources::default(); 2 * width];
        for (k, r) in free.enumerate() {
            entries[width + k] = r;
        }
        for i in (1..width).rev() {
            entries[i] = max_room(&entries[2 * i], &entries[2 * i + 1]);
        }
        Self { enabled, nodes, width, entries, room: Vec::new() }
    }

    /// Whether the tree is kept (else users scan the nodes with room).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Number of nodes indexed.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Number of leaves (a power of two, at least the number of nodes).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Entry `i` of the array (1 is the root, `width + k` is node `k`).
    pub fn entry(&self, i: usize) -> Resources {
        self.entries[i]
    }

    /// Without the tree, the bitset of the nodes with free room (bit `k % 64`
    /// of word `k / 64` for node `k`); empty with the tree.
    pub fn room(&self) -> &[u64] {
        &self.room
    }

    /// Sets the free room of node `k` and brings its ancestors (or its bit)
    /// up to date.
    #[inline]
    pub fn set(&mut self, k: usize, free: Resources) {
        if self.enabled {
            self.set_in_tree(k, free);
        } else {
            set_bit(&mut self.room, k, !free.is_zero());
        }
    }

    fn set_in_tree(&mut self, k: usize, free: Resources) {
        let mut i = self.width + k;
        if self.entries[i] == free {
            return;
        }
        self.entries[i] = free;
        while i > 1 {
            i /= 2;
            let m = max_room(&self.entries[2 * i], &self.entries[2 * i + 1]);
            if self.entries[i] == m {
                break;
            }
            self.entries[i] = m;
        }
    }

    /// The first node at or after `from` whose free room holds `need`, with
    /// the tree (`None` without it: the bitset alone cannot tell).
    pub fn first_fit(&self, from: usize, need: &Resources) -> Option<u32> {
        if !self.enabled {
            return None;
        }
        first_fit(self.width, self.nodes, from, need, &|i| self.entries[i])
    }
}

/// Sets (`on`) or clears bit `k % 64` of word `k / 64`.
#[inline]
pub(crate) fn set_bit(bits: &mut [u64], k: usize, on: bool) {
    let (w, b) = (k / 64, 1u64 << (k % 64));
    if on {
        bits[w] |= b;
    } else {
        bits[w] &= !b;
    }
}

/// The positions of the set bits of a bitset at or after a start, in
/// increasing order (bit `k % 64` of word `k / 64` is position `k`).
pub(crate) struct SetBits<'a> {
    words: &'a [u64],
    at: usize,
    word: u64,
}

impl<'a> SetBits<'a> {
    /// The set bits of `words` from position `from` on.
    pub(crate) fn from(words: &'a [u64], from: usize) -> Self {
        let at = from / 64;
        let word = words.get(at).map_or(0, |w| w & (!0u64 << (from % 64)));
        Self { words, at, word }
    }
}

impl Iterator for SetBits<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        while self.word == 0 {
            self.at += 1;
            self.word = *self.words.get(self.at)?;
        }
        let k = (self.at * 64) as u32 + self.word.trailing_zeros();
        self.word &= self.word - 1;
        Some(k)
    }
}

/// The first leaf at or after `from` (and before `nodes`) that holds
/// `need`, in a tree of `width` leaves whose entries `entry` reads.
///
/// It starts at the leaf `from` and climbs only as far as the first
/// subtree to the right whose entry holds `need`, then walks down to that
/// subtree's leftmost child that does: a node next to `from` is found in a
/// step or two. An entry is a component-wise largest, so a subtree may
/// seem to hold `need` when none of its nodes does; the walk then goes on
/// to the right from there.
pub fn first_fit<F: Fn(usize) -> Resources>(width: usize, nodes: usize, from: usize, need: &Resources, entry: &F) -> Option<u32> {
    if from >= nodes {
        return None;
    }
    let mut i = width + from;
    if need.fits_in(&entry(i)) {
        return Some(from as u32);
    }
    loop {
        // Up past every subtree this one is the right half of...
        while i & 1 == 1 {
            i /= 2;
            if i == 0 {
                return None;
            }
        }
        // ...then over to the right half beside it.
        i += 1;
        if !need.fits_in(&entry(i)) {
            continue;
        }
        while i < width {
            if need.fits_in(&entry(2 * i)) {
                i *= 2;
            } else if need.fits_in(&entry(2 * i + 1)) {
                i = 2 * i + 1;
            } else {
                break;
            }
        }
        if i >= width {
            let k = i - width;
            return (k < nodes).then_some(k as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_node_that_fits_as_a_scan_would() {
        let room = |k: u32| Resources::new((k * 7) % 11, (k * 3) % 4, u64::from((k * 5) % 9) * 100);
        let free: Vec<Resources> = (0..37).map(room).collect();
        let mut idx = FreeIndex::with(free.iter().copied(), true);
        let mut free = free;
        for step in 0..200u32 {
            let need = Resources::new(step % 12, step % 5, u64::from(step % 10) * 100);
            let from = (step as usize * 13) % 40;
            let scan = (from..free.len()).find(|&k| need.fits_in(&free[k])).map(|k| k as u32);
            assert_eq!(idx.first_fit(from, &need), scan, "step {step}");
            let k = (step as usize * 17) % free.len();
            free[k] = room(step + 5);
            idx.set(k, free[k]);
        }
        assert_eq!(FreeIndex::new(std::iter::empty()).first_fit(0, &Resources::default()), None);
    }

    #[test]
    fn without_the_tree_keeps_the_nodes_with_room() {
        let room = |k: u32| Resources::new(k % 3, 0, u64::from(k.is_multiple_of(5)));
        let mut idx = FreeIndex::with((0..70).map(room), false);
        let bits = |idx: &FreeIndex| (0..70).filter(|&k| idx.room()[k / 64] >> (k % 64) & 1 == 1).collect::<Vec<_>>();
        let want = |f: &dyn Fn(u32) -> Resources| (0..70).filter(|&k| !f(k as u32).is_zero()).collect::<Vec<_>>();
        assert_eq!(bits(&idx), want(&room));
        idx.set(65, Resources::default());
        idx.set(3, Resources::new(0, 1, 0));
        let now = |k: u32| match k {
            65 => Resources::default(),
            3 => Resources::new(0, 1, 0),
            _ => room(k),
        };
        assert_eq!(bits(&idx), want(&now));
        let first = |from| SetBits::from(idx.room(), from).find(|&k| now(k).cpus >= 2);
        assert_eq!((first(0), first(6), first(69), first(70)), (Some(2), Some(8), None, None));
    }
}
