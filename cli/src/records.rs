//! JSON lines for records: what `eoslog produce` reads and `eoslog consume` writes.
//!
//! One record per line:
//!
//! ```text
//! {"key": "customer-7", "value": "shipped", "headers": [{"key": "trace", "value": "abc"}],
//!  "partition": 0, "timestamp": 1767225600000}
//! ```
//!
//! Bytes are binary-safe: a key, value or header value is a JSON string in an *encoding* —
//! `utf8` (the text itself), `base64` (standard alphabet, padded) or `hex` (lower or upper
//! case) — named by a sibling field `key_encoding` / `value_encoding` (or `value_encoding`
//! inside a header). Without one, `produce` uses `--encoding` (default `utf8`). `null` is a
//! null key, value or header value. On input a value may also be any other JSON value (an
//! object, a number, ...): its compact JSON text is stored. Headers may be given as an array
//! of `{"key", "value", "value_encoding"}` objects (order and repeated keys kept) or as one
//! object `{"name": "value", ...}`.
//!
//! `consume` writes `utf8` when the bytes are valid UTF-8 and `base64` otherwise
//! (`--encoding auto`, the default), or always `base64` / `hex`; it always writes the
//! `*_encoding` fields, so its output is valid `produce` input.

/// The JSON-lines record format, for `produce --help` and `consume --help`.
macro_rules! record_format_help {
    () => {
        "\
Record format (one JSON object per line):
  {\"key\": \"customer-7\", \"value\": \"shipped\", \"headers\": [{\"key\": \"trace\", \"value\": \"abc\"}],
   \"partition\": 0, \"timestamp\": 1767225600000}
  Bytes are binary-safe: \"key\", \"value\" and header values are strings in the encoding named by
  \"key_encoding\" / \"value_encoding\" (inside a header: \"value_encoding\"): utf8 (the text), base64
  (standard, padded) or hex. Without one, produce uses --encoding (utf8). null is a null key, value
  or header value. produce also takes any other JSON value as a value (its compact JSON text is
  stored) and headers as an object {\"name\": \"value\"}. consume writes utf8 when the bytes are
  valid UTF-8, else base64 (--encoding auto), always writes the *_encoding fields, and adds topic,
  offset, timestamp_type, producer_id, producer_epoch, sequence and is_transactional; its output is
  valid produce input."
    };
}

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use eoslog::client::{ConsumerRecord, ProducerRecord};

/// How bytes are written as a JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// The bytes are UTF-8 text.
    Utf8,
    /// Standard base64 with padding.
    Base64,
    /// Hexadecimal, two digits per byte.
    Hex,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf8",
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
        }
    }

    fn parse(s: &str) -> Option<Encoding> {
        match s.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" | "text" => Some(Encoding::Utf8),
            "base64" => Some(Encoding::Base64),
            "hex" => Some(Encoding::Hex),
            _ => None,
        }
    }

    /// Decodes `s` in this encoding.
    fn decode(self, s: &str) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Utf8 => Ok(s.as_bytes().to_vec()),
            Encoding::Base64 => BASE64.decode(s.trim()).map_err(|e| format!("invalid base64: {e}")),
            Encoding::Hex => decode_hex(s.trim()),
        }
    }

    /// Encodes `bytes`; `None` when they are not valid in this encoding (non-UTF-8 as utf8).
    fn encode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_string),
            Encoding::Base64 => Some(BASE64.encode(bytes)),
            Encoding::Hex => Some(encode_hex(bytes)),
        }
    }
}

/// How `consume` writes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputEncoding {
    /// UTF-8 text when valid, base64 otherwise.
    Auto,
    /// Always base64.
    Base64,
    /// Always hex.
    Hex,
}

/// Lower-case hex of `bytes`.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hex (either case, even length).
pub fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("invalid hex: odd number of digits ({})", s.len()));
    }
    let digit = |c: u8| -> Result<u8, String> {
        (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| format!("invalid hex digit {:?}", c as char))
    };
    s.as_bytes().chunks_exact(2).map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// Writes `bytes` as a JSON value and its encoding name (`null`, `null` for `None`).
pub fn bytes_to_json(bytes: Option<&[u8]>, mode: OutputEncoding) -> (Value, Value) {
    let Some(bytes) = bytes else { return (Value::Null, Value::Null) };
    let enc = match mode {
        OutputEncoding::Auto if std::str::from_utf8(bytes).is_ok() => Encoding::Utf8,
        OutputEncoding::Auto | OutputEncoding::Base64 => Encoding::Base64,
        OutputEncoding::Hex => Encoding::Hex,
    };
    let text = enc.encode(bytes).unwrap_or_default();
    (Value::String(text), Value::String(enc.name().to_string()))
}

/// Reads bytes from `value` with the encoding named by `encoding` (or `default`).
fn json_to_bytes(
    value: Option<&Value>,
    encoding: Option<&Value>,
    default: Encoding,
    what: &str,
) -> Result<Option<Vec<u8>>, String> {
    let enc = match encoding {
        None | Some(Value::Null) => default,
        Some(Value::String(s)) => Encoding::parse(s)
            .ok_or_else(|| format!("{what}_encoding {s:?}: expected utf8, base64 or hex"))?,
        Some(other) => return Err(format!("{what}_encoding must be a string, not {other}")),
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => enc.decode(s).map(Some).map_err(|e| format!("{what}: {e}")),
        Some(other) => {
            if encoding.is_some_and(|e| !e.is_null()) {
                return Err(format!("{what}: an encoded {what} must be a JSON string"));
            }
            Ok(Some(other.to_string().into_bytes()))
        }
    }
}

/// The fields of an input line that `produce` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRecord {
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Partition, if given.
    pub partition: Option<i32>,
    /// Timestamp (ms), if given.
    pub timestamp: Option<i64>,
}

impl InputRecord {
    /// The record to send to `topic`.
    pub fn into_producer_record(self, topic: &str) -> ProducerRecord {
        ProducerRecord {
            topic: topic.to_string(),
            partition: self.partition,
            timestamp: self.timestamp,
            key: self.key,
            value: self.value,
            headers: self.headers,
        }
    }
}

/// Parses one input line. Unknown fields (such as those `consume` adds: `topic`, `offset`,
/// ...) are ignored, so consumed records can be produced again.
pub fn parse_line(line: &str, default: Encoding) -> Result<InputRecord, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(obj) = v else {
        return Err("expected a JSON object such as {\"key\": \"k\", \"value\": \"v\"}".into());
    };
    let key = json_to_bytes(obj.get("key"), obj.get("key_encoding"), default, "key")?;
    let value = json_to_bytes(obj.get("value"), obj.get("value_encoding"), default, "value")?;
    let headers = match obj.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, h) in items.iter().enumerate() {
                let Value::Object(h) = h else {
                    return Err(format!("headers[{i}]: expected {{\"key\": ..., \"value\": ...}}"));
                };
                let Some(Value::String(k)) = h.get("key") else {
                    return Err(format!("headers[{i}]: the header key must be a string"));
                };
                let v = json_to_bytes(h.get("value"), h.get("value_encoding"), default, "header value")
                    .map_err(|e| format!("headers[{i}]: {e}"))?;
                out.push((k.clone(), v));
            }
            out
        }
        Some(Value::Object(map)) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                let v = json_to_bytes(Some(v), None, default, "header value")
                    .map_err(|e| format!("header {k:?}: {e}"))?;
                out.push((k.clone(), v));
            }
            out
        }
        Some(other) => return Err(format!("headers must be an array or an object, not {other}")),
    };
    let partition = match obj.get("partition") {
        None | Some(Value::Null) => None,
        Some(p) => Some(
            p.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| *p >= 0)
                .ok_or_else(|| format!("partition must be a non-negative integer, not {p}"))?,
        ),
    };
    let timestamp = match obj.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(t) => Some(t.as_i64().ok_or_else(|| format!("timestamp must be an integer (ms), not {t}"))?),
    };
    Ok(InputRecord { key, value, headers, partition, timestamp })
}

/// One output line of `consume`, fields in this order.
#[derive(Debug, serde::Serialize)]
struct OutputRecord<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: i64,
    timestamp_type: &'static str,
    key: Value,
    key_encoding: Value,
    value: Value,
    value_encoding: Value,
    headers: Vec<OutputHeader<'a>>,
    producer_id: i64,
    producer_epoch: i16,
    sequence: i32,
    is_transactional: bool,
}

#[derive(Debug, serde::Serialize)]
struct OutputHeader<'a> {
    key: &'a str,
    value: Value,
    value_encoding: Value,
}

/// One consumed record as a JSON line (without the newline).
pub fn record_to_json(r: &ConsumerRecord, mode: OutputEncoding) -> String {
    let (key, key_encoding) = bytes_to_json(r.key.as_deref(), mode);
    let (value, value_encoding) = bytes_to_json(r.value.as_deref(), mode);
    let headers = r
        .headers
        .iter()
        .map(|(k, v)| {
            let (value, value_encoding) = bytes_to_json(v.as_deref(), mode);
            OutputHeader { key: k, value, value_encoding }
        })
        .collect();
    let out = OutputRecord {
        topic: &r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        timestamp_type: r.timestamp_type.as_str(),
        key,
        key_encoding,
        value,
        value_encoding,
        headers,
        producer_id: r.producer_id,
        producer_epoch: r.producer_epoch,
        sequence: r.sequence,
        is_transactional: r.is_transactional,
    };
    serde_json::to_string(&out).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hex_round_trip() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(encode_hex(&bytes), "00017f80ff");
        assert_eq!(decode_hex("00017F80ff").unwrap(), bytes);
        assert!(decode_hex("abc").is_err());
        assert!(decode_hex("zz").is_err());
    }

    #[test]
    fn parses_every_encoding_and_header_form() {
        let r = parse_line(
            r#"{"key":"AAE=","key_encoding":"base64","value":"ff00","value_encoding":"hex",
                "headers":[{"key":"h","value":null},{"key":"h","value":"x"}],"partition":2,"timestamp":5}"#,
            Encoding::Utf8,
        )
        .unwrap();
        assert_eq!(r.key.as_deref(), Some(&[0u8, 1][..]));
        assert_eq!(r.value.as_deref(), Some(&[0xffu8, 0][..]));
        assert_eq!(r.headers, vec![("h".into(), None), ("h".into(), Some(b"x".to_vec()))]);
        assert_eq!((r.partition, r.timestamp), (Some(2), Some(5)));

        let r = parse_line(r#"{"value":{"a":1},"headers":{"k":"v"}}"#, Encoding::Utf8).unwrap();
        assert_eq!(r.value.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(r.headers, vec![("k".into(), Some(b"v".to_vec()))]);
        assert_eq!(r.key, None);

        let r = parse_line(r#"{"value":"AQI="}"#, Encoding::Base64).unwrap();
        assert_eq!(r.value.as_deref(), Some(&[1u8, 2][..]));
    }

    #[test]
    fn rejects_bad_lines() {
        for line in [
            "not json",
            "[1]",
            r#"{"value":"zz","value_encoding":"hex"}"#,
            r#"{"value":"x","value_encoding":"rot13"}"#,
            r#"{"partition":-1}"#,
            r#"{"timestamp":"now"}"#,
            r#"{"headers":[{"value":"x"}]}"#,
        ] {
            assert!(parse_line(line, Encoding::Utf8).is_err(), "{line}");
        }
    }

    #[test]
    fn auto_output_falls_back_to_base64() {
        assert_eq!(bytes_to_json(Some(b"hi"), OutputEncoding::Auto), (json!("hi"), json!("utf8")));
        assert_eq!(bytes_to_json(Some(&[0xff]), OutputEncoding::Auto), (json!("/w=="), json!("base64")));
        assert_eq!(bytes_to_json(Some(&[0xff]), OutputEncoding::Hex), (json!("ff"), json!("hex")));
        assert_eq!(bytes_to_json(None, OutputEncoding::Auto), (Value::Null, Value::Null));
    }
}
