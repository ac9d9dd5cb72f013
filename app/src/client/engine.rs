//! Engine.IO v4 packets, as text frames over a WebSocket (one packet per frame).

use serde::Deserialize;

/// The server's handshake, sent in the `open` packet.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Handshake {
    pub(crate) sid: String,
    /// Milliseconds between the server's pings.
    pub(crate) ping_interval: u64,
    /// Milliseconds the server waits for a pong; we allow the same margin for its pings.
    pub(crate) ping_timeout: u64,
    #[serde(default)]
    pub(crate) max_payload: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EnginePacket<'a> {
    Open(Handshake),
    Close,
    Ping,
    Pong,
    /// A Socket.IO packet.
    Message(&'a str),
    Noop,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EngineError {
    #[error("empty Engine.IO frame")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownType(char),
    #[error("invalid open packet: {0}")]
    BadHandshake(String),
}

pub(crate) fn decode(frame: &str) -> Result<EnginePacket<'_>, EngineError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(EngineError::Empty)?;
    let body = &frame[kind.len_utf8()..];
    Ok(match kind {
        '0' => EnginePacket::Open(
            serde_json::from_str(body).map_err(|e| EngineError::BadHandshake(e.to_string()))?,
        ),
        '1' => EnginePacket::Close,
        '2' => EnginePacket::Ping,
        '3' => EnginePacket::Pong,
        '4' => EnginePacket::Message(body),
        '6' => EnginePacket::Noop,
        other => return Err(EngineError::UnknownType(other)),
    })
}

pub(crate) const PONG: &str = "3";

/// Wraps a Socket.IO packet in an Engine.IO `message`.
pub(crate) fn message(socket_io_packet: &str) -> String {
    format!("4{socket_io_packet}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_packet_type() {
        let open = decode(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}"#).unwrap();
        assert_eq!(
            open,
            EnginePacket::Open(Handshake {
                sid: "abc".into(),
                ping_interval: 25_000,
                ping_timeout: 20_000,
                max_payload: Some(100_000),
            })
        );
        assert_eq!(decode("1"), Ok(EnginePacket::Close));
        assert_eq!(decode("2"), Ok(EnginePacket::Ping));
        assert_eq!(decode("3"), Ok(EnginePacket::Pong));
        assert_eq!(decode("40"), Ok(EnginePacket::Message("0")));
        assert_eq!(decode("6"), Ok(EnginePacket::Noop));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode(""), Err(EngineError::Empty));
        assert_eq!(decode("9"), Err(EngineError::UnknownType('9')));
        assert_eq!(decode("é"), Err(EngineError::UnknownType('é')));
        assert!(matches!(decode("0{"), Err(EngineError::BadHandshake(_))));
        assert_eq!(message("2[\"x\"]"), "42[\"x\"]");
    }
}
