//! The request headers of MCP 2026-07-28 over HTTP (SEP-2243): `Mcp-Method`, `Mcp-Name` and the
//! `Mcp-Param-*` headers a tool asks for with `x-mcp-header`, each checked against the body so
//! that a load balancer routing on a header and this server acting on the body cannot disagree.

use axum::http::HeaderMap;
use base64::Engine as _;
use serde_json::Value;

/// The body field `Mcp-Name` mirrors, by method.
fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// A header's value, decoded from the `=?base64?…?=` form where it uses it; `Err` when it is not
/// text or not valid Base64.
fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, String> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| format!("the {name} header holds characters a header may not"))?
        .trim();
    match text
        .strip_prefix("=?base64?")
        .and_then(|t| t.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Some)
            .ok_or_else(|| format!("the {name} header is not valid Base64 of UTF-8 text")),
        None => Ok(Some(text.to_string())),
    }
}

/// Check `Mcp-Method`, `Mcp-Name` and the `Mcp-Param-*` headers against the request body;
/// `input_schema` is the called tool's, when the request is a `tools/call` of a known tool.
/// The error says what disagrees, for a -32020 `HeaderMismatch`.
pub(crate) fn check(
    headers: &HeaderMap,
    message: &Value,
    input_schema: Option<&Value>,
) -> Result<(), String> {
    let method = message.get("method").and_then(Value::as_str).unwrap_or("");
    match header_text(headers, "mcp-method")? {
        None => return Err("the Mcp-Method header is missing".into()),
        Some(m) if m != method => {
            return Err(format!(
                "Mcp-Method header value '{m}' does not match body method '{method}'"
            ));
        }
        Some(_) => {}
    }
    let params = message.get("params");
    if let Some(field) = name_field(method) {
        let body = params.and_then(|p| p.get(field)).and_then(Value::as_str);
        match (header_text(headers, "mcp-name")?, body) {
            (None, Some(_)) => return Err("the Mcp-Name header is missing".into()),
            (Some(h), Some(b)) if h != b => {
                return Err(format!(
                    "Mcp-Name header value '{h}' does not match body value '{b}'"
                ));
            }
            _ => {}
        }
    }
    if let Some(schema) = input_schema {
        let arguments = params.and_then(|p| p.get("arguments"));
        for (header, path) in mirrored_parameters(schema) {
            let header_name = format!("mcp-param-{}", header.to_ascii_lowercase());
            let value = arguments
                .and_then(|a| path.iter().try_fold(a, |v, key| v.get(key)))
                .filter(|v| !v.is_null());
            let sent = header_text(headers, &header_name)?;
            match (value, sent) {
                (None, _) => {}
                (Some(_), None) => {
                    return Err(format!("the Mcp-Param-{header} header is missing"));
                }
                (Some(v), Some(h)) if !same_value(v, &h) => {
                    return Err(format!(
                        "Mcp-Param-{header} header value '{h}' does not match the argument {v}"
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Whether a header's text stands for this argument: strings as they are, integers by value
/// (`42` and `42.0` alike), booleans as `true`/`false`.
fn same_value(value: &Value, header: &str) -> bool {
    match value {
        Value::String(s) => s == header,
        Value::Bool(b) => header == if *b { "true" } else { "false" },
        Value::Number(n) => header
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(h, v)| h == v),
        _ => false,
    }
}

/// The `x-mcp-header` annotations of a tool's input schema, with the property path each one
/// mirrors; only properties reachable through `properties` alone count, as the spec says.
fn mirrored_parameters(schema: &Value) -> Vec<(String, Vec<String>)> {
    fn walk(schema: &Value, path: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
        if let Some(header) = schema.get("x-mcp-header").and_then(Value::as_str)
            && !path.is_empty()
        {
            out.push((header.to_string(), path.clone()));
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                path.push(name.clone());
                walk(property, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn method_and_name_must_match_the_body() {
        let call = json!({"method": "tools/call", "params": {"name": "greet"}});
        let ok = headers(&[("mcp-method", "tools/call"), ("mcp-name", "greet")]);
        assert_eq!(check(&ok, &call, None), Ok(()));
        let padded = headers(&[("mcp-method", "tools/call"), ("mcp-name", "  greet  ")]);
        assert_eq!(check(&padded, &call, None), Ok(()));
        let encoded = headers(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?Z3JlZXQ=?="),
        ]);
        assert_eq!(check(&encoded, &call, None), Ok(()));
        for bad in [
            headers(&[("mcp-name", "greet")]),
            headers(&[("mcp-method", "tools/list"), ("mcp-name", "greet")]),
            headers(&[("mcp-method", "tools/call")]),
            headers(&[("mcp-method", "tools/call"), ("mcp-name", "other")]),
            headers(&[("mcp-method", "TOOLS/CALL"), ("mcp-name", "greet")]),
        ] {
            assert!(check(&bad, &call, None).is_err(), "{bad:?}");
        }
        let get = json!({"method": "tasks/get", "params": {"taskId": "t1"}});
        let wrong = headers(&[("mcp-method", "tasks/get"), ("mcp-name", "t2")]);
        assert!(check(&wrong, &get, None).is_err());
    }

    #[test]
    fn mirrored_parameters_must_match_their_arguments() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "n": {"type": "integer", "x-mcp-header": "N"},
            "nested": {"type": "object", "properties": {"on": {"type": "boolean", "x-mcp-header": "On"}}}
        }});
        let call = json!({"method": "tools/call", "params": {"name": "t",
            "arguments": {"region": "us-west1", "n": 42, "nested": {"on": true}}}});
        let base = [("mcp-method", "tools/call"), ("mcp-name", "t")];
        let with = |extra: &[(&'static str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            headers(&all)
        };
        let good = with(&[
            ("mcp-param-region", "us-west1"),
            ("mcp-param-n", "42.0"),
            ("mcp-param-on", "true"),
        ]);
        assert_eq!(check(&good, &call, Some(&schema)), Ok(()));
        let missing = with(&[("mcp-param-region", "us-west1"), ("mcp-param-n", "42")]);
        assert!(check(&missing, &call, Some(&schema)).is_err());
        let wrong = with(&[
            ("mcp-param-region", "eu"),
            ("mcp-param-n", "42"),
            ("mcp-param-on", "true"),
        ]);
        assert!(check(&wrong, &call, Some(&schema)).is_err());
        // An argument left out needs no header.
        let partial =
            json!({"method": "tools/call", "params": {"name": "t", "arguments": {"n": 1}}});
        assert_eq!(
            check(&with(&[("mcp-param-n", "1")]), &partial, Some(&schema)),
            Ok(())
        );
    }
}
