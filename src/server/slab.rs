//! A vector of slots with a free list: a connection's slot index is its mio token, so a
//! readiness event finds its connection without a hash lookup, and freed slots are reused.

#[derive(Debug)]
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    /// First free slot; `entries.len()` when none is free.
    next_free: usize,
    len: usize,
}

#[derive(Debug)]
enum Entry<T> {
    Occupied(T),
    /// Free; holds the next free slot.
    Vacant(usize),
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    pub fn new() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            next_free: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot the next `insert` will use.
    pub fn vacant_key(&self) -> usize {
        self.next_free
    }

    pub fn insert(&mut self, value: T) -> usize {
        let key = self.next_free;
        if key == self.entries.len() {
            self.entries.push(Entry::Occupied(value));
            self.next_free = key + 1;
        } else {
            match std::mem::replace(&mut self.entries[key], Entry::Occupied(value)) {
                Entry::Vacant(next) => self.next_free = next,
                Entry::Occupied(_) => unreachable!("free list points at an occupied slot"),
            }
        }
        self.len += 1;
        key
    }

    pub fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        match self.entries.get_mut(key) {
            Some(Entry::Occupied(v)) => Some(v),
            _ => None,
        }
    }

    pub fn remove(&mut self, key: usize) -> Option<T> {
        let entry = self.entries.get_mut(key)?;
        if matches!(entry, Entry::Vacant(_)) {
            return None;
        }
        let Entry::Occupied(v) = std::mem::replace(entry, Entry::Vacant(self.next_free)) else {
            unreachable!("checked above")
        };
        self.next_free = key;
        self.len -= 1;
        Some(v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(k, e)| match e {
                Entry::Occupied(v) => Some((k, v)),
                Entry::Vacant(_) => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_freed_slots() {
        let mut s = Slab::new();
        assert_eq!(s.insert('a'), 0);
        assert_eq!(s.insert('b'), 1);
        assert_eq!(s.insert('c'), 2);
        assert_eq!(s.remove(1), Some('b'));
        assert_eq!(s.remove(1), None);
        assert_eq!(s.vacant_key(), 1);
        assert_eq!(s.insert('d'), 1);
        assert_eq!(s.insert('e'), 3);
        assert_eq!(s.len(), 4);
        let all: Vec<_> = s.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(all, [(0, 'a'), (1, 'd'), (2, 'c'), (3, 'e')]);
    }
}
