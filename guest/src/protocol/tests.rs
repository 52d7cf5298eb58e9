//! The wire helpers: what they parse, what they write.

use super::*;

#[test]
fn iso8601_known_instants() {
    assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
    // 2025-11-25T10:30:00Z
    assert_eq!(iso8601(1_764_066_600_000), "2025-11-25T10:30:00.000Z");
    // A leap day, with milliseconds.
    assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
    assert_eq!(iso8601(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
}

#[test]
fn parse_classifies_messages() {
    assert!(matches!(
        parse(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
        Ok(Incoming::Request { .. })
    ));
    assert!(matches!(
        parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
        Ok(Incoming::Notification { .. })
    ));
    assert!(matches!(
        parse(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
        Ok(Incoming::Response { .. })
    ));
    // A present but null id is not a notification.
    let (id, e) = parse(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#).unwrap_err();
    assert_eq!((id, e.code), (Value::Null, code::INVALID_REQUEST));
    let (id, e) = parse(r#"{"jsonrpc":"2.0","id":3,"method":7}"#).unwrap_err();
    assert_eq!((id, e.code), (json!(3), code::INVALID_REQUEST));
}

#[test]
fn the_era_of_a_request_comes_from_its_meta() {
    let era = |params: &str| requested_era(Params(Some(serde_json::from_str(params).unwrap())));
    assert_eq!(era(r#"{"taskId":"t"}"#), Requested::Legacy);
    assert_eq!(
        era(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}"#),
        Requested::Legacy
    );
    assert_eq!(
        era(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01"}}"#),
        Requested::Unsupported("1900-01-01".into())
    );
    let declared = era(
        r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{},"roots":null,"extensions":{"io.modelcontextprotocol/tasks":{}}}}}"#,
    );
    assert_eq!(
        declared,
        Requested::Modern(Capabilities {
            elicitation: false,
            sampling: true,
            roots: false,
            tasks: true,
        })
    );
    // Capabilities that are not an object declare nothing; the request is still modern.
    assert_eq!(
        era(
            r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":"all"}}"#
        ),
        Requested::Modern(Capabilities::default())
    );
}

#[test]
fn parse_errors_carry_code_and_id() {
    let (id, e) = parse("{not json").unwrap_err();
    assert_eq!((id, e.code), (Value::Null, code::PARSE_ERROR));
    let (id, e) = parse(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).unwrap_err();
    assert_eq!((id, e.code), (Value::Null, code::INVALID_REQUEST));
    let (id, e) = parse(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#).unwrap_err();
    assert_eq!((id, e.code), (json!(7), code::INVALID_REQUEST));
    let (id, e) = parse(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#).unwrap_err();
    assert_eq!((id, e.code), (Value::Null, code::INVALID_REQUEST));
    let (_, e) = parse(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#).unwrap_err();
    assert_eq!(e.code, code::INVALID_REQUEST);
}
