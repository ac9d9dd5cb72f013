//! A map kept as a list sorted by key, found by binary search.
//!
//! The page keeps many small maps: per conversation (timelines, who is online, notification
//! levels, drafts), per person (profiles), per waiting send or ack. A hash map or a B-tree is
//! a table's code in the wasm for each key and value type, and std's hash map brings SipHash
//! and its random keys too; a sorted list is a binary search and a `Vec`'s insert and remove,
//! and as quick for the hundreds of entries the page holds.

// The server renders from these maps; only the browser's live side changes and walks them.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use std::borrow::Borrow;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// Where `key` is, or would go.
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Puts `value` under `key`, and returns what was there.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(self.0.remove(i).1)
    }

    /// The value under `key`, put there first if there was none.
    pub(crate) fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.0[i].1
    }
}

impl<K, V> SortedMap<K, V> {
    /// Entries in key order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub(crate) fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// A set as a map to nothing: `insert` says whether the key is new.
impl<K: Ord> SortedMap<K, ()> {
    pub(crate) fn add(&mut self, key: K) -> bool {
        self.insert(key, ()).is_none()
    }
}

/// Entry by entry: a key given twice keeps its last value.
impl<K: Ord, V> Extend<(K, V)> for SortedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = SortedMap::default();
        map.extend(entries);
        map
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SortedMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_holds_one_value_in_key_order() {
        let mut map: SortedMap<String, u32> = SortedMap::default();
        assert_eq!(map.insert("b".into(), 2), None);
        assert_eq!(map.insert("a".into(), 1), None);
        assert_eq!(map.insert("b".into(), 3), Some(2));
        assert_eq!(
            (map.get("a"), map.get("b"), map.get("c")),
            (Some(&1), Some(&3), None)
        );
        *map.get_or_default("c".into()) += 5;
        *map.get_or_default("a".into()) += 1;
        assert_eq!((map.get("a"), map.get("c")), (Some(&2), Some(&5)));
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(map.remove("a"), Some(2));
        assert_eq!(map.remove("a"), None);
        assert!(!map.contains_key("a") && map.contains_key("b"));
        assert_eq!(map.iter().count(), 2);
    }

    #[test]
    fn entries_in_any_order_keep_each_keys_last() {
        let map: SortedMap<i64, &str> = [(3, "c"), (1, "a"), (2, "b"), (1, "z")].into();
        let all: Vec<(i64, &str)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(all, [(1, "z"), (2, "b"), (3, "c")]);
        let mut set: SortedMap<String, ()> = SortedMap::default();
        assert!(set.add("x".into()));
        assert!(!set.add("x".into()));
    }
}
