//! A handful of values by key, found by a scan.
//!
//! The page keeps a few things per conversation or per waiting send (attempts, reloads under
//! way, what was reported read, who is typing). A hash map is a table's code in the wasm for
//! each key and value type; a list scanned from the start is a few instructions, and for a
//! dozen entries as quick.

use std::borrow::Borrow;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Few<K, V>(Vec<(K, V)>);

impl<K, V> Default for Few<K, V> {
    fn default() -> Self {
        Few(Vec::new())
    }
}

impl<K: PartialEq, V> Few<K, V> {
    fn position<Q: PartialEq + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        self.0.iter().position(|(k, _)| k.borrow() == key)
    }

    pub(crate) fn get<Q: PartialEq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.position(key).map(|i| &self.0[i].1)
    }

    /// Puts `value` under `key`, and returns what was there.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    pub(crate) fn remove<Q: PartialEq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.position(key)?;
        Some(self.0.swap_remove(i).1)
    }

    /// The value under `key`, put there first if there was none.
    // Only the browser's sender counts with it.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.position(&key) {
            Some(i) => i,
            None => {
                self.0.push((key, V::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_holds_one_value() {
        let mut few: Few<String, u32> = Few::default();
        assert_eq!(few.insert("a".into(), 1), None);
        assert_eq!(few.insert("b".into(), 2), None);
        assert_eq!(few.insert("a".into(), 3), Some(1));
        assert_eq!(
            (few.get("a"), few.get("b"), few.get("c")),
            (Some(&3), Some(&2), None)
        );
        *few.get_or_default("c".into()) += 5;
        *few.get_or_default("a".into()) += 1;
        assert_eq!((few.get("a"), few.get("c")), (Some(&4), Some(&5)));
        assert_eq!(few.remove("a"), Some(4));
        assert_eq!(few.remove("a"), None);
        assert_eq!((few.get("b"), few.get("c")), (Some(&2), Some(&5)));
        assert_eq!(few.0.len(), 2);
    }
}
