//! Parsing ingest bodies: one event or an array of events and `step.log` batches. Every
//! problem names the item and the field (type errors included: `event 0: `progress`: invalid
//! type: string "50", expected f64`); nothing of a bad request is stored.

use super::runs::IngestItem;
use crate::domain::{EventKind, GraphStep, NewEvent, Status};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Most items one request may carry.
pub const MAX_ITEMS: usize = 5_000;

/// Every field any item may carry, each with its wire type, so a wrong type is reported with
/// the field's name (through `serde_path_to_error`). Which fields an item needs depends on its
/// `type`, checked in [`WireItem::into_item`]. Fields an item does not use are ignored.
#[derive(Deserialize)]
struct WireItem {
    #[serde(rename = "type")]
    kind: String,
    step: Option<String>,
    progress: Option<f64>,
    message: Option<String>,
    rows: Option<u64>,
    attempt: Option<u32>,
    max_attempts: Option<u32>,
    status: Option<Status>,
    params: Option<BTreeMap<String, String>>,
    id: Option<String>,
    ts: Option<DateTime<Utc>>,
    lines: Option<Vec<String>>,
    stream: Option<String>,
    steps: Option<Vec<GraphStep>>,
}

const TYPES: &str =
    "run.started, run.steps_added, run.finished, step.started, step.progress, step.warning, step.finished, step.log";

fn required<T>(value: Option<T>, field: &str, kind: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("`{field}` is required for {kind}"))
}

impl WireItem {
    fn into_item(self) -> Result<IngestItem, String> {
        let kind = self.kind.as_str();
        let step = |step: Option<String>| required(step, "step", kind);
        let event = match kind {
            "run.started" => EventKind::RunStarted {
                params: self.params.unwrap_or_default(),
            },
            "run.steps_added" => EventKind::StepsAdded {
                steps: required(self.steps, "steps", kind)?,
            },
            "run.finished" => EventKind::RunFinished {
                status: required(self.status, "status", kind)?,
                message: self.message,
            },
            "step.started" => EventKind::StepStarted {
                step: step(self.step)?,
                attempt: self.attempt,
                max_attempts: self.max_attempts,
            },
            "step.progress" => EventKind::StepProgress {
                step: step(self.step)?,
                progress: self.progress,
                message: self.message,
                rows: self.rows,
            },
            "step.warning" => EventKind::StepWarning {
                step: step(self.step)?,
                message: required(self.message, "message", kind)?,
            },
            "step.finished" => EventKind::StepFinished {
                step: step(self.step)?,
                status: required(self.status, "status", kind)?,
                message: self.message,
            },
            "step.log" => {
                return Ok(IngestItem::Logs {
                    step: step(self.step)?,
                    lines: required(self.lines, "lines", kind)?,
                    stream: self.stream.unwrap_or_else(|| "stdout".to_owned()),
                })
            }
            other => {
                return Err(format!(
                    "`type`: unknown type `{other}` (expected one of {TYPES})"
                ))
            }
        };
        let event = NewEvent {
            kind: event,
            id: self.id,
            ts: self.ts,
        };
        event.validate().map_err(|e| e.to_string())?;
        Ok(IngestItem::Event(event))
    }
}

/// Parses one item, naming the field of a type error.
fn parse_item(value: Value) -> Result<IngestItem, String> {
    if !value.is_object() {
        return Err(format!("expected an event object, got {}", kind_of(&value)));
    }
    let wire: WireItem = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner.to_string()
        } else {
            format!("`{path}`: {inner}")
        }
    })?;
    wire.into_item()
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a request body into ingest items, or says what is wrong with which item.
pub fn parse_ingest_body(body: &[u8]) -> Result<Vec<IngestItem>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let values = match value {
        Value::Array(items) => items,
        single @ Value::Object(_) => vec![single],
        other => {
            return Err(format!(
                "expected an event object or an array of events, got {}",
                kind_of(&other)
            ))
        }
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
        .map(|(index, value)| parse_item(value).map_err(|e| format!("event {index}: {e}")))
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
        let IngestItem::Event(done) =
            &parse_ingest_body(br#"{"type":"step.finished","step":"a","status":"done"}"#).unwrap()
                [0]
        else {
            panic!("an event")
        };
        assert_eq!(
            done.kind,
            EventKind::StepFinished {
                step: "a".into(),
                status: Status::Success,
                message: None
            },
            "status aliases normalise"
        );
    }

    #[test]
    fn names_the_item_and_field() {
        let error = |body: &str| parse_ingest_body(body.as_bytes()).unwrap_err();
        assert_eq!(
            error(r#"[{"type":"step.started","step":"a"},{"type":"step.progress"}]"#),
            "event 1: `step` is required for step.progress"
        );
        assert_eq!(
            error(r#"{"type":"step.progress","step":"a","progress":"50"}"#),
            "event 0: `progress`: invalid type: string \"50\", expected f64"
        );
        assert_eq!(
            error(
                r#"[{"type":"step.started","step":"a"},{"type":"step.progress","step":"a","rows":-5}]"#
            ),
            "event 1: `rows`: invalid value: integer `-5`, expected u64"
        );
        assert!(
            error(r#"{"type":"step.finished","step":"a","status":"bogus"}"#)
                .starts_with("event 0: `status`: unknown variant `bogus`")
        );
        assert!(error(r#"{"type":"step.log","step":"a","lines":[1]}"#)
            .starts_with("event 0: `lines[0]`: invalid type: integer"));
        assert!(
            error(r#"{"type":"step.progress","step":"a","progress":101}"#).contains("`progress`")
        );
        assert!(error(r#"{"type":"step.exploded"}"#)
            .starts_with("event 0: `type`: unknown type `step.exploded`"));
        assert_eq!(error(r#"{"step":"a"}"#), "event 0: missing field `type`");
        assert_eq!(
            error("[1]"),
            "event 0: expected an event object, got a number"
        );
        assert!(error("{not json").starts_with("invalid JSON"));
        assert_eq!(
            error("42"),
            "expected an event object or an array of events, got a number"
        );
    }
}
