//! JSON read a record at a time: the elements of a top-level array (a Slack file), and the
//! lines of NDJSON (an export's conversation), each within a limit of bytes.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::ops::ControlFlow;
use std::rc::Rc;

use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// One record ran past its limit: the reason inside the I/O error [`Budgeted`] returns.
#[derive(Debug, thiserror::Error)]
#[error("a record is over its limit of bytes")]
struct RecordTooBig;

/// Counts the bytes read since the current record began, and fails past `max`.
struct Budgeted<R> {
    inner: R,
    used: Rc<Cell<u64>>,
    max: u64,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let used = self.used.get() + n as u64;
        self.used.set(used);
        if used > self.max {
            return Err(io::Error::other(RecordTooBig));
        }
        Ok(n)
    }
}

/// How reading an array ended early.
#[derive(Debug)]
pub(crate) enum ArrayError {
    /// Element `index` (from 1) was over its limit; the rest of the array is lost.
    TooBig { index: u64 },
    /// The entry is not a JSON array, or stops being one (at element `index`, from 1).
    Malformed {
        index: u64,
        error: serde_json::Error,
    },
    /// Reading the entry failed (the archive's limits among others): see
    /// [`crate::jobs::archive::limits::reading`].
    Io(io::Error),
    /// The caller's `each` asked to stop.
    Stopped,
}

/// Calls `each` with the index (from 1) and the JSON text of every element of the array that
/// `reader` holds, in order, reading one element at a time, each at most `max` bytes, until
/// `each` breaks. Returns how many there were.
pub(crate) fn for_each_element<R: Read>(
    reader: R,
    max: u64,
    mut each: impl FnMut(u64, &RawValue) -> ControlFlow<()>,
) -> Result<u64, ArrayError> {
    let used = Rc::new(Cell::new(0));
    let budgeted = Budgeted {
        inner: io::BufReader::with_capacity(64 * 1024, reader),
        used: used.clone(),
        max,
    };
    let mut de = serde_json::Deserializer::from_reader(budgeted);
    let index = Cell::new(0);
    let stopped = Cell::new(false);
    let visitor = Elements {
        used: &used,
        index: &index,
        stopped: &stopped,
        each: &mut each,
    };
    let ended = de
        .deserialize_seq(visitor)
        .and_then(|n| de.end().map(|()| n));
    ended.map_err(|error| {
        let index = index.get();
        if stopped.get() {
            ArrayError::Stopped
        } else if error.is_io() {
            let e = io::Error::from(error);
            if e.get_ref().is_some_and(|r| r.is::<RecordTooBig>()) {
                ArrayError::TooBig { index }
            } else {
                ArrayError::Io(e)
            }
        } else {
            ArrayError::Malformed { index, error }
        }
    })
}

struct Elements<'a, F> {
    used: &'a Cell<u64>,
    index: &'a Cell<u64>,
    stopped: &'a Cell<bool>,
    each: &'a mut F,
}

impl<'de, F: FnMut(u64, &RawValue) -> ControlFlow<()>> Visitor<'de> for Elements<'_, F> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        loop {
            self.used.set(0);
            self.index.set(self.index.get() + 1);
            let Some(element) = seq.next_element::<Box<RawValue>>()? else {
                self.index.set(self.index.get() - 1);
                return Ok(self.index.get());
            };
            if (self.each)(self.index.get(), &element).is_break() {
                self.stopped.set(true);
                return Err(A::Error::custom("stopped"));
            }
        }
    }
}

/// A line of NDJSON.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// In the buffer, without its newline.
    Text,
    /// Longer than the limit: skipped, up to and with its newline.
    TooLong,
    /// The end of the input.
    End,
}

/// Reads the next line of `reader` into `buf` (cleared first), unless it is longer than `max`
/// bytes: then it is skipped without being kept.
pub(crate) fn next_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    buf.clear();
    let mut skipping = false;
    let mut any = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(match (any, skipping) {
                (false, _) => Line::End,
                (true, true) => Line::TooLong,
                (true, false) => Line::Text,
            });
        }
        any = true;
        let (part, used, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if !skipping {
            if buf.len() + part.len() > max {
                skipping = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        reader.consume(used);
        if ends {
            return Ok(if skipping { Line::TooLong } else { Line::Text });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(json: &str, max: u64) -> (Vec<(u64, String)>, Result<u64, String>) {
        let mut seen = Vec::new();
        let ended = for_each_element(json.as_bytes(), max, |i, raw| {
            seen.push((i, raw.get().to_owned()));
            if raw.get() == r#""stop""# {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        (seen, ended.map_err(|e| format!("{e:?}")))
    }

    #[test]
    fn an_array_is_read_an_element_at_a_time_each_within_its_limit() {
        let (seen, ended) = elements(r#" [ {"a": 1}, "two" , [3] ] "#, 100);
        let texts: Vec<&str> = seen.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            (texts, ended),
            (vec![r#"{"a": 1}"#, r#""two""#, "[3]"], Ok(3))
        );
        assert_eq!(elements("[]", 10), (vec![], Ok(0)));
        // The second element is over 20 bytes: the first was read, and the array stops there.
        let long = format!(r#"[1, "{}", 3]"#, "x".repeat(40));
        let (seen, ended) = elements(&long, 20);
        assert_eq!(seen, [(1, "1".to_owned())]);
        assert!(ended.unwrap_err().starts_with("TooBig { index: 2 }"));
        let (seen, ended) = elements(r#"[1, 2 3]"#, 100);
        assert_eq!(seen.len(), 2);
        assert!(ended.unwrap_err().starts_with("Malformed { index: 3"));
        assert!(
            elements(r#"{"a": 1}"#, 100)
                .1
                .unwrap_err()
                .starts_with("Malformed")
        );
    }

    #[test]
    fn lines_are_read_whole_and_a_long_one_is_skipped() {
        let text = "one\n\ntoo long a line\nlast";
        let mut reader = io::BufReader::with_capacity(4, text.as_bytes());
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        loop {
            let line = next_line(&mut reader, &mut buf, 8).unwrap();
            if line == Line::End {
                break;
            }
            seen.push((line, String::from_utf8(buf.clone()).unwrap()));
        }
        assert_eq!(
            seen,
            [
                (Line::Text, "one".to_owned()),
                (Line::Text, String::new()),
                (Line::TooLong, String::new()),
                (Line::Text, "last".to_owned()),
            ]
        );
    }
}
