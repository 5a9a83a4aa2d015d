//! The `Sec-WebSocket-Extensions` grammar (RFC 6455 section 9.1):
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! A quoted value must be a token once unquoted. Every value of every
//! `Sec-WebSocket-Extensions` header is one list, in order.

use crate::handshake::Headers;

/// One element of the list: an extension with its parameters, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) params: Vec<Param>,
}

/// `name` or `name=value` (the value unquoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

/// Every element of every `Sec-WebSocket-Extensions` header, or what is
/// wrong with the first one that does not parse.
pub(crate) fn parse(headers: &Headers) -> Result<Vec<Element>, String> {
    let mut elements = Vec::new();
    for value in headers.get_all("sec-websocket-extensions") {
        let value = core::str::from_utf8(value).map_err(|_| "not UTF-8".to_owned())?;
        parse_list(value, &mut elements)?;
    }
    Ok(elements)
}

fn parse_list(mut rest: &str, out: &mut Vec<Element>) -> Result<(), String> {
    loop {
        // Empty list elements (", ,") are allowed by the `#` rule.
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Ok(());
        }
        let (name, after) = token(rest)?;
        rest = after;
        let mut params = Vec::new();
        loop {
            rest = ows(rest);
            match rest.as_bytes().first() {
                None => break,
                Some(b',') => {
                    rest = &rest[1..];
                    break;
                }
                Some(b';') => {
                    let (param, after) = param(ows(&rest[1..]))?;
                    params.push(param);
                    rest = after;
                }
                Some(_) => return Err(format!("unexpected text {rest:?} after {name:?}")),
            }
        }
        out.push(Element {
            name: name.to_owned(),
            params,
        });
    }
}

fn param(rest: &str) -> Result<(Param, &str), String> {
    let (name, rest) = token(rest)?;
    let rest = ows(rest);
    let Some(rest) = rest.strip_prefix('=') else {
        let param = Param {
            name: name.to_owned(),
            value: None,
        };
        return Ok((param, rest));
    };
    let rest = ows(rest);
    let (value, rest) = if rest.starts_with('"') {
        let (value, rest) = quoted_string(rest)?;
        if !crate::handshake::is_token(&value) {
            return Err(format!("quoted value {value:?} of {name} is not a token"));
        }
        (value, rest)
    } else {
        let (value, rest) = token(rest).map_err(|e| format!("value of {name}: {e}"))?;
        (value.to_owned(), rest)
    };
    let param = Param {
        name: name.to_owned(),
        value: Some(value),
    };
    Ok((param, rest))
}

/// The token at the start of `s` and what follows it.
fn token(s: &str) -> Result<(&str, &str), String> {
    let end = s.bytes().position(|b| !is_tchar(b)).unwrap_or(s.len());
    if end == 0 {
        return Err(format!("expected a token at {s:?}"));
    }
    Ok(s.split_at(end))
}

/// A quoted-string at the start of `s` (which starts with `"`), unescaped,
/// and what follows it.
fn quoted_string(s: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(format!("unterminated quoted string {s:?}"))
}

fn ows(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(value: &str) -> Result<Vec<Element>, String> {
        parse(&[("Sec-WebSocket-Extensions", value)].into_iter().collect())
    }

    fn element(name: &str, params: &[(&str, Option<&str>)]) -> Element {
        Element {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| Param {
                    name: (*n).into(),
                    value: v.map(Into::into),
                })
                .collect(),
        }
    }

    #[test]
    fn lists_params_and_quoted_values() {
        let parsed = parse_str(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\" , x-foo ,,permessage-deflate",
        )
        .unwrap();
        assert_eq!(
            parsed,
            [
                element(
                    "permessage-deflate",
                    &[
                        ("client_max_window_bits", None),
                        ("server_max_window_bits", Some("10"))
                    ]
                ),
                element("x-foo", &[]),
                element("permessage-deflate", &[]),
            ]
        );
    }

    #[test]
    fn several_headers_make_one_list() {
        let headers: Headers = [
            ("Sec-WebSocket-Extensions", "a; x=1"),
            ("sec-websocket-extensions", "b"),
        ]
        .into_iter()
        .collect();
        let names: Vec<_> = parse(&headers)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "permessage-deflate; =1",
            "permessage-deflate; a=",
            "permessage-deflate; a=\"1",
            "permessage-deflate; a=\"1 2\"",
            "permessage-deflate a",
            "; a",
            "permessage-deflate; a=1=2",
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
