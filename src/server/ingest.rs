//! Parsing ingest bodies: one event or an array of events and `step.log` batches. Every
//! problem names the item and the field; nothing of a bad request is stored.

use super::runs::IngestItem;
use crate::domain::NewEvent;
use serde::Deserialize;
use serde_json::Value;

/// Most items one request may carry.
pub const MAX_ITEMS: usize = 5_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogBatch {
    #[serde(rename = "type")]
    _type: String,
    step: String,
    lines: Vec<String>,
    #[serde(default = "stdout")]
    stream: String,
}

fn stdout() -> String {
    "stdout".to_owned()
}

/// Parses a request body into ingest items, or says what is wrong with which item.
pub fn parse_ingest_body(body: &[u8]) -> Result<Vec<IngestItem>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let values = match value {
        Value::Array(items) => items,
        single @ Value::Object(_) => vec![single],
        _ => return Err("expected an event object or an array of events".to_owned()),
    };
    if values.len() > MAX_ITEMS {
        return Err(format!(
            "too many events in one request ({}, at most {MAX_ITEMS})",
            values.len()
        ));
    }
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let is_log = value.get("type").and_then(Value::as_str) == Some("step.log");
            if is_log {
                let batch: LogBatch =
                    serde_json::from_value(value).map_err(|e| format!("event {index}: {e}"))?;
                Ok(IngestItem::Logs {
                    step: batch.step,
                    stream: batch.stream,
                    lines: batch.lines,
                })
            } else {
                let event: NewEvent =
                    serde_json::from_value(value).map_err(|e| format!("event {index}: {e}"))?;
                event
                    .validate()
                    .map_err(|e| format!("event {index}: {e}"))?;
                Ok(IngestItem::Event(event))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_one_event_or_a_mixed_array() {
        assert_eq!(
            parse_ingest_body(br#"{"type":"step.started","step":"a"}"#)
                .unwrap()
                .len(),
            1
        );
        let items = parse_ingest_body(
            br#"[{"type":"step.progress","step":"a","progress":5},{"type":"step.log","step":"a","lines":["x","y"]}]"#,
        )
        .unwrap();
        assert!(
            matches!(&items[1], IngestItem::Logs { lines, stream, .. } if lines.len() == 2 && stream == "stdout")
        );
    }

    #[test]
    fn names_the_item_and_field() {
        let missing =
            parse_ingest_body(br#"[{"type":"step.started","step":"a"},{"type":"step.progress"}]"#)
                .unwrap_err();
        assert!(
            missing.starts_with("event 1:") && missing.contains("`step`"),
            "{missing}"
        );
        let range = parse_ingest_body(br#"{"type":"step.progress","step":"a","progress":101}"#)
            .unwrap_err();
        assert!(range.contains("`progress`"), "{range}");
        assert!(parse_ingest_body(b"{not json")
            .unwrap_err()
            .starts_with("invalid JSON"));
        assert!(parse_ingest_body(b"42").is_err());
    }
}
