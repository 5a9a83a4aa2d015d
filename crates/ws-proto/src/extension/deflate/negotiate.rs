//! permessage-deflate negotiation (RFC 7692 sections 5 and 7.1): the
//! client's offer, the client's check of the answer, the server's choice.
//!
//! What each parameter means in each direction:
//!
//! | parameter                    | in an offer                         | in an answer                          |
//! |------------------------------|-------------------------------------|---------------------------------------|
//! | `server_no_context_takeover` | asks the server not to keep context | the server will not; required if asked |
//! | `client_no_context_takeover` | the client will not keep context    | asks the client not to (always allowed) |
//! | `server_max_window_bits=N`   | asks the server for a window <= N   | the server's window; required, <= N, if asked |
//! | `client_max_window_bits[=N]` | the client can limit its window (to N) | the client's window; only if offered, <= N |

use std::fmt::Write as _;

use super::{
    DeflateConfig, DeflateParams, MAX_WINDOW_BITS, MIN_COMPRESS_WINDOW_BITS, NAME,
    clamp_window_bits,
};
use crate::extension::header::Param;

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The window this side compresses with, as configured (8 is read as 9:
/// see the module doc of `deflate`).
fn own_window(configured: u8) -> u8 {
    clamp_window_bits(configured).max(MIN_COMPRESS_WINDOW_BITS)
}

/// The client's offer.
pub(crate) fn offer(config: &DeflateConfig) -> String {
    let mut offer = String::from(NAME);
    // Always offered, so that a server may limit the client's window:
    // Autobahn's and several servers' answers rely on it.
    offer.push_str("; ");
    offer.push_str(CLIENT_MAX_WINDOW_BITS);
    let client_window = own_window(config.client_max_window_bits);
    if client_window < MAX_WINDOW_BITS {
        let _ = write!(offer, "={client_window}");
    }
    let server_window = clamp_window_bits(config.server_max_window_bits);
    if server_window < MAX_WINDOW_BITS {
        let _ = write!(offer, "; {SERVER_MAX_WINDOW_BITS}={server_window}");
    }
    if config.client_no_context_takeover {
        let _ = write!(offer, "; {CLIENT_NO_CONTEXT_TAKEOVER}");
    }
    if config.server_no_context_takeover {
        let _ = write!(offer, "; {SERVER_NO_CONTEXT_TAKEOVER}");
    }
    offer
}

/// The parameters of one offer or answer, each at most once, values checked.
#[derive(Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

fn parse(params: &[Param]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    for (i, param) in params.iter().enumerate() {
        let name = param.name.to_ascii_lowercase();
        if params[..i]
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(&name))
        {
            return Err(format!("{name} appears twice"));
        }
        let value = param.value.as_deref();
        match name.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER | CLIENT_NO_CONTEXT_TAKEOVER => {
                if let Some(v) = value {
                    return Err(format!("{name} takes no value (got {v:?})"));
                }
                if name == SERVER_NO_CONTEXT_TAKEOVER {
                    parsed.server_no_context_takeover = true;
                } else {
                    parsed.client_no_context_takeover = true;
                }
            }
            SERVER_MAX_WINDOW_BITS => {
                let v = value.ok_or_else(|| format!("{name} needs a value"))?;
                parsed.server_max_window_bits = Some(window_bits(&name, v)?);
            }
            CLIENT_MAX_WINDOW_BITS => {
                let bits = value.map(|v| window_bits(&name, v)).transpose()?;
                parsed.client_max_window_bits = Some(bits);
            }
            _ => return Err(format!("unknown parameter {:?}", param.name)),
        }
    }
    Ok(parsed)
}

/// A window size as RFC 7692 writes it: 8 to 15, no leading zero or sign.
fn window_bits(name: &str, value: &str) -> Result<u8, String> {
    let bits = match value {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => value.parse().ok(),
        _ => None,
    };
    bits.ok_or_else(|| format!("{name}={value:?} is not 8 to 15"))
}

/// Checks the server's answer against the offer made from `config`
/// (RFC 7692 sections 5 and 7.1); returns what is in force.
pub(crate) fn check_answer(
    config: &DeflateConfig,
    params: &[Param],
) -> Result<DeflateParams, String> {
    let answer = parse(params)?;
    let offered_client_window = own_window(config.client_max_window_bits);
    let offered_server_window = clamp_window_bits(config.server_max_window_bits);
    let asked_server_window = offered_server_window < MAX_WINDOW_BITS;

    let client_window = match answer.client_max_window_bits {
        None => offered_client_window,
        Some(None) => {
            return Err(format!(
                "{CLIENT_MAX_WINDOW_BITS} needs a value in an answer"
            ));
        }
        Some(Some(bits)) if bits > offered_client_window => {
            return Err(format!(
                "{CLIENT_MAX_WINDOW_BITS}={bits} is over the offered {offered_client_window}"
            ));
        }
        Some(Some(bits)) => bits,
    };
    let server_window = match answer.server_max_window_bits {
        None if asked_server_window => {
            return Err(format!(
                "{SERVER_MAX_WINDOW_BITS} was asked for ({offered_server_window}) and not answered"
            ));
        }
        None => MAX_WINDOW_BITS,
        Some(bits) if bits > offered_server_window => {
            return Err(format!(
                "{SERVER_MAX_WINDOW_BITS}={bits} is over the offered {offered_server_window}"
            ));
        }
        Some(bits) => bits,
    };
    if config.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err(format!(
            "{SERVER_NO_CONTEXT_TAKEOVER} was asked for and not answered"
        ));
    }
    Ok(DeflateParams {
        client_max_window_bits: client_window,
        server_max_window_bits: server_window,
        client_no_context_takeover: config.client_no_context_takeover
            || answer.client_no_context_takeover,
        server_no_context_takeover: answer.server_no_context_takeover,
    })
}

/// Whether the server can accept this offer within `config`; if so, what
/// is in force and the answer's text. An offer with an unknown, repeated or
/// invalid parameter is declined (RFC 7692 section 5: the server picks
/// among the offers it supports).
pub(crate) fn answer_offer(
    config: &DeflateConfig,
    params: &[Param],
) -> Option<(DeflateParams, String)> {
    let offer = parse(params).ok()?;
    let server_window = own_window(config.server_max_window_bits)
        .min(offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS));
    if server_window < MIN_COMPRESS_WINDOW_BITS {
        return None; // 8: this side cannot compress within it.
    }
    let wanted_client_window = clamp_window_bits(config.client_max_window_bits);
    let client_window = match offer.client_max_window_bits {
        // The client cannot be told to use a smaller window.
        None if wanted_client_window < MAX_WINDOW_BITS => return None,
        None => MAX_WINDOW_BITS,
        Some(offered) => wanted_client_window.min(offered.unwrap_or(MAX_WINDOW_BITS)),
    };
    let params = DeflateParams {
        client_max_window_bits: client_window,
        server_max_window_bits: server_window,
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
    };
    let mut answer = String::from(NAME);
    if params.server_no_context_takeover {
        let _ = write!(answer, "; {SERVER_NO_CONTEXT_TAKEOVER}");
    }
    if params.client_no_context_takeover {
        let _ = write!(answer, "; {CLIENT_NO_CONTEXT_TAKEOVER}");
    }
    if offer.server_max_window_bits.is_some() || server_window < MAX_WINDOW_BITS {
        let _ = write!(answer, "; {SERVER_MAX_WINDOW_BITS}={server_window}");
    }
    if offer.client_max_window_bits.is_some() && client_window < MAX_WINDOW_BITS {
        let _ = write!(answer, "; {CLIENT_MAX_WINDOW_BITS}={client_window}");
    }
    Some((params, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, Option<&str>)]) -> Vec<Param> {
        list.iter()
            .map(|(n, v)| Param {
                name: (*n).into(),
                value: v.map(Into::into),
            })
            .collect()
    }

    #[test]
    fn default_offer_lets_the_server_limit_the_client_window() {
        assert_eq!(
            offer(&DeflateConfig::default()),
            "permessage-deflate; client_max_window_bits"
        );
        let config = DeflateConfig {
            client_max_window_bits: 8, // read as 9
            server_max_window_bits: 10,
            client_no_context_takeover: true,
            server_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        assert_eq!(
            offer(&config),
            "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10; \
             client_no_context_takeover; server_no_context_takeover"
        );
    }

    #[test]
    fn window_values_are_exactly_8_to_15() {
        for ok in ["8", "9", "12", "15"] {
            assert!(window_bits("x", ok).is_ok(), "{ok}");
        }
        for bad in ["7", "16", "08", "+9", "", "9.0", "1e1", "256"] {
            assert!(window_bits("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_declines_a_window_of_8_for_itself_and_takes_9() {
        let config = DeflateConfig::default();
        assert_eq!(
            answer_offer(&config, &params(&[("server_max_window_bits", Some("8"))])),
            None
        );
        let (agreed, answer) =
            answer_offer(&config, &params(&[("server_max_window_bits", Some("9"))])).unwrap();
        assert_eq!(agreed.server_max_window_bits, 9);
        assert_eq!(answer, "permessage-deflate; server_max_window_bits=9");
    }
}
