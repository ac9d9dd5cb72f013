//! An event's or an ack's arguments as the JSON array of a Socket.IO packet, written and read
//! by `serde_json` alone.
//!
//! The shared codec reads arguments through a wrapper that puts binary attachments back in
//! place. This client sends and accepts none (`connection.rs` refuses binary packets before
//! they are parsed), and the wrapper made a second decoder for every type the page receives:
//! one with the wrapper for the socket, one without it for what the page reads from its head.
//! The array's layout is the codec's: a tuple (or a tuple struct) is spread over the
//! arguments, anything else is the first argument.
//!
//! Arguments are read into a `serde_json::Value` first, and each type from that value: every
//! type's decoder is then written against the value's one reader rather than against the text
//! parser, which is less code in the wasm for each type the page receives.

use serde::Serialize;
use serde::de::{DeserializeOwned, Error as _};
use socketioxide_core::parser::{is_de_tuple, is_ser_tuple};

/// `["name", …args]` for an event, `[…args]` for an ack's answer.
pub(crate) fn encode<T: Serialize + ?Sized>(
    name: Option<&str>,
    args: &T,
) -> serde_json::Result<String> {
    let value = serde_json::to_string(args)?;
    let mut out = String::with_capacity(value.len() + name.map_or(2, |n| n.len() + 5));
    out.push('[');
    if let Some(name) = name {
        out.push_str(&serde_json::to_string(name)?);
    }
    // A tuple's own brackets are the packet's; anything else is one argument.
    let items = match is_ser_tuple(args) {
        true => value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(&value),
        false => &value,
    };
    if name.is_some() && !items.is_empty() {
        out.push(',');
    }
    out.push_str(items);
    out.push(']');
    Ok(out)
}

/// Reads `T` from JSON text as the arguments are read, through a value: for what the page
/// keeps in storage or its head, so that the types it shares with the socket share their
/// decoders too.
pub(crate) fn read<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str::<serde_json::Value>(text).and_then(serde_json::from_value)
}

/// Reads `T` from a packet's array, after the event's name when `with_event`.
pub(crate) fn decode<T: DeserializeOwned>(data: &str, with_event: bool) -> serde_json::Result<T> {
    T::deserialize(arguments(data, with_event, is_de_tuple::<T>())?)
}

/// A packet's arguments as the one value a type reads: all of them as an array for a tuple,
/// else the first. Not generic, so that the wasm holds it once rather than once per type.
fn arguments(data: &str, with_event: bool, tuple: bool) -> serde_json::Result<serde_json::Value> {
    let serde_json::Value::Array(mut items) = serde_json::from_str(data)? else {
        return Err(serde_json::Error::custom(
            "a packet's arguments are not a list",
        ));
    };
    if with_event {
        if items.is_empty() {
            return Err(serde_json::Error::custom("an event without its name"));
        }
        items.remove(0);
    }
    if tuple {
        return Ok(serde_json::Value::Array(items));
    }
    items
        .into_iter()
        .next()
        .ok_or_else(|| serde_json::Error::custom("no argument"))
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use socketioxide_core::Value;
    use socketioxide_core::parser::Parse as _;
    use socketioxide_parser_common::CommonParser;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Map {
        a: u32,
        b: Vec<String>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair(String, i64);

    fn codec<T: Serialize>(name: Option<&str>, value: &T) -> String {
        match CommonParser.encode_value(value, name).expect("encodes") {
            Value::Str(s, _) => s.to_string(),
            Value::Bytes(_) => panic!("binary"),
        }
    }

    fn codec_decode<T: DeserializeOwned>(data: &str, with_event: bool) -> T {
        let mut value = Value::Str(data.to_owned().into(), None);
        CommonParser
            .decode_value(&mut value, with_event)
            .expect("decodes")
    }

    /// What goes out is what the shared codec (the server's) writes, for every shape.
    #[test]
    fn encodes_as_the_codec_does() {
        let map = Map {
            a: 1,
            b: vec!["x".into()],
        };
        let pair = Pair("hi".into(), -3);
        let tuple = ("a".to_owned(), 2u8, Some(true));
        for name in [Some("chat message"), None] {
            assert_eq!(encode(name, &map).unwrap(), codec(name, &map));
            assert_eq!(encode(name, &pair).unwrap(), codec(name, &pair));
            assert_eq!(encode(name, &tuple).unwrap(), codec(name, &tuple));
            assert_eq!(encode(name, "text").unwrap(), codec(name, &"text"));
            assert_eq!(encode(name, &vec![1, 2]).unwrap(), codec(name, &vec![1, 2]));
        }
        assert_eq!(encode(Some("e"), &()).unwrap(), codec(Some("e"), &()));
    }

    /// What comes in reads as the shared codec reads it.
    #[test]
    fn decodes_as_the_codec_does() {
        let event = r#"["chat message",{"a":1,"b":["x"]},"extra"]"#;
        assert_eq!(
            decode::<Map>(event, true).unwrap(),
            codec_decode::<Map>(event, true)
        );
        let pair = r#"["e","hi",-3]"#;
        assert_eq!(decode::<Pair>(pair, true).unwrap(), Pair("hi".into(), -3));
        assert_eq!(codec_decode::<Pair>(pair, true), Pair("hi".into(), -3));
        let ack = r#"[[1,2]]"#;
        assert_eq!(decode::<Vec<u8>>(ack, false).unwrap(), vec![1, 2]);
        assert_eq!(codec_decode::<Vec<u8>>(ack, false), vec![1, 2]);
        let tuple = r#"["a",2]"#;
        assert_eq!(
            decode::<(String, u8)>(tuple, false).unwrap(),
            ("a".to_owned(), 2)
        );
    }

    #[test]
    fn refuses_what_does_not_fit() {
        assert!(decode::<Map>(r#"["e"]"#, true).is_err());
        assert!(decode::<Map>(r#"[]"#, true).is_err());
        assert!(decode::<Map>(r#"{"a":1}"#, false).is_err());
        assert!(decode::<Pair>(r#"["e","hi"]"#, true).is_err());
        assert!(decode::<Pair>(r#"["e","hi",1,2]"#, true).is_err());
        assert!(decode::<Map>(r#"[{"a":1,"b":[]}] trailing"#, false).is_err());
    }
}
