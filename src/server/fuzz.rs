//! Fuzzing the two parsers that take untrusted bytes from the network: ingest bodies
//! ([`super::ingest`]) and the live stream's client operations ([`super::ws`]), with proptest,
//! plus a corpus of valid and hostile inputs (`fuzz/ingest`, `fuzz/ws`: files named `ok-…` must
//! be accepted, `bad-…` refused) replayed on every run. What must hold: no input panics; a
//! refusal says which item is wrong; what is accepted is exactly what was sent.

use super::ingest::parse_ingest_body;
use super::runs::IngestItem;
use super::ws::parse_operation;
use crate::api::{ClientOp, Position};
use crate::domain::EventKind;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Field names the parsers know, plus some they do not: generated objects mostly hit fields
/// that are parsed, with values of every type.
const FIELDS: &[&str] = &[
    "type",
    "step",
    "progress",
    "message",
    "rows",
    "status",
    "params",
    "id",
    "ts",
    "lines",
    "stream",
    "op",
    "run",
    "topic",
    "since",
    "epoch",
    "logs_after",
    "junk",
];
const TYPES: &[&str] = &[
    "run.started",
    "run.finished",
    "step.started",
    "step.progress",
    "step.warning",
    "step.finished",
    "step.log",
    "step.exploded",
    "",
];

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(TYPES).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            object_of(inner),
        ]
    })
}

/// Objects with mostly known field names.
fn object_of(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(FIELDS), values), 0..6).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

/// Event-like objects: a `type` (mostly valid) and fields of any type.
fn event_like() -> impl Strategy<Value = Value> {
    (prop::sample::select(TYPES), object_of(any_json())).prop_map(|(kind, mut object)| {
        if let Value::Object(map) = &mut object {
            map.insert("type".into(), kind.into());
        }
        object
    })
}

proptest! {
    // No regression files: the project's top level holds no such directory; a failure prints
    // its minimal input, which belongs in the corpus.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_bytes_make_the_ingest_parser_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(message) = parse_ingest_body(&bytes) {
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn every_item_is_accepted_or_refused_by_its_index(items in prop::collection::vec(event_like(), 1..8)) {
        let body = serde_json::to_vec(&items).unwrap();
        match parse_ingest_body(&body) {
            Ok(parsed) => prop_assert_eq!(parsed.len(), items.len()),
            Err(message) => {
                let index: usize = message
                    .strip_prefix("event ")
                    .and_then(|rest| rest.split(':').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(usize::MAX);
                prop_assert!(index < items.len(), "{message}");
                // Every item before the refused one is valid on its own.
                for item in &items[..index] {
                    prop_assert!(parse_ingest_body(&serde_json::to_vec(item).unwrap()).is_ok());
                }
            }
        }
    }

    #[test]
    fn an_accepted_progress_event_is_what_was_sent(
        step in "[a-z0-9_-]{1,20}",
        progress in 0.0f64..=100.0,
        message in any::<String>(),
        rows in any::<u64>(),
    ) {
        let body = json!({"type": "step.progress", "step": step, "progress": progress,
            "message": message, "rows": rows});
        let parsed = parse_ingest_body(body.to_string().as_bytes()).unwrap();
        let [IngestItem::Event(event)] = parsed.as_slice() else {
            return Err(TestCaseError::fail("one event"));
        };
        prop_assert_eq!(&event.kind, &EventKind::StepProgress {
            step, progress: Some(progress), message: Some(message), rows: Some(rows),
        });
    }

    #[test]
    fn no_text_makes_the_operation_parser_panic(text in any::<String>()) {
        if let Err(message) = parse_operation(&text) {
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn operations_are_followed_or_refused_with_a_reason(op in object_of(any_json())) {
        match parse_operation(&op.to_string()) {
            Ok((_, key)) => prop_assert!(
                key.starts_with("run:") || key.starts_with("logs:") || key == "topic:runs"
            ),
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    #[test]
    fn any_resume_position_is_kept_not_refused(since in any_json()) {
        let op = json!({"op": "subscribe", "run": "r", "since": since});
        if since.is_null() {
            return Ok(());
        }
        let parsed = parse_operation(&op.to_string());
        match (&since, parsed) {
            (Value::Number(n), Ok((ClientOp { since: Some(position), .. }, _))) => {
                match n.as_u64() {
                    Some(at) => prop_assert_eq!(position, Position::At(at)),
                    None => prop_assert!(matches!(position, Position::Invalid(_))),
                }
            }
            (Value::String(_), Ok((ClientOp { since: Some(Position::Invalid(_)), .. }, _))) => {}
            (Value::Number(_) | Value::String(_), other) => {
                prop_assert!(false, "{since} was not kept: {other:?}")
            }
            // Other JSON types are a type error of `since`, named as such.
            (_, Err(message)) => prop_assert!(message.contains("invalid operation"), "{message}"),
            (_, Ok(_)) => {}
        }
    }
}

/// Each file of `fuzz/<parser>`, with whether its name says it must be accepted.
fn corpus(parser: &str) -> Vec<(String, Vec<u8>, bool)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/server/fuzz")
        .join(parser);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the {parser} corpus is missing");
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let ok = name.starts_with("ok-");
            assert!(
                ok || name.starts_with("bad-"),
                "{name}: name it ok-… or bad-…"
            );
            (name, std::fs::read(&path).unwrap(), ok)
        })
        .collect()
}

#[test]
fn the_ingest_corpus_is_accepted_or_refused_as_named() {
    for (name, bytes, ok) in corpus("ingest") {
        match parse_ingest_body(&bytes) {
            Ok(items) => assert!(ok, "{name}: accepted {} items", items.len()),
            Err(message) => {
                assert!(!ok, "{name}: refused: {message}");
                let names_it = message.starts_with("event ")
                    || message.starts_with("invalid JSON")
                    || message.starts_with("expected ");
                assert!(names_it, "{name}: {message}");
            }
        }
    }
}

#[test]
fn the_operation_corpus_is_followed_or_refused_as_named() {
    for (name, bytes, ok) in corpus("ws") {
        let text = String::from_utf8(bytes).unwrap();
        match parse_operation(&text) {
            Ok((_, key)) => assert!(ok, "{name}: followed as {key}"),
            Err(message) => assert!(!ok, "{name}: refused: {message}"),
        }
    }
}

#[test]
fn the_corpus_parsers_see_hostile_text_unchanged() {
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server/fuzz/ingest/ok-hostile-text.json"),
    )
    .unwrap();
    let expected: Map<String, Value> = serde_json::from_slice(&body).unwrap();
    let items = parse_ingest_body(&body).unwrap();
    let [IngestItem::Event(event)] = items.as_slice() else {
        panic!("one event");
    };
    let EventKind::StepWarning { message, .. } = &event.kind else {
        panic!("a warning");
    };
    assert_eq!(
        Some(&Value::String(message.clone())),
        expected.get("message")
    );
}
