//! The built `wsc` binary against its embedded server, a ws-mio server and
//! raw TCP servers on loopback: every option, the JSON lines, exit codes,
//! error lines. Every run is killed after `LIMIT`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use ws_mio::{Conn, EchoServer, Event, EventLoop, ServerOptions};
use ws_test_support::{frames, handshake, raw_server};

const LIMIT: Duration = Duration::from_secs(20);

/// What a run of wsc printed and how it ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The stdout lines, each parsed as JSON.
    fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }

    fn types(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    fn terminate(&self) -> Value {
        self.events().pop().expect("a terminate line")
    }
}

/// Runs wsc with `args` and `stdin` (closed once written), within `LIMIT`.
fn wsc(args: &[&str], stdin: &str) -> Run {
    run_wsc(args, Some(stdin))
}

/// Like `wsc`, but stdin stays open until wsc has ended.
fn wsc_with_open_stdin(args: &[&str]) -> Run {
    run_wsc(args, None)
}

fn run_wsc(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsc"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wsc");
    let mut input = child.stdin.take().unwrap();
    let _kept_open = match stdin {
        Some(text) => {
            let text = text.to_owned();
            thread::spawn(move || {
                let _ = input.write_all(text.as_bytes());
            });
            None
        }
        None => Some(input),
    };
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wsc {args:?} did not end within {LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "wsc panicked: {}",
        run.stderr
    );
    run
}

fn echo_server() -> EchoServer {
    EchoServer::start("127.0.0.1:0".parse().unwrap(), ServerOptions::default()).unwrap()
}

#[test]
fn no_url_talks_to_the_embedded_echo_server() {
    let run = wsc(&["--send", "Hello world", "--count", "1"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("embedded echo server at ws://127.0.0.1:")
    );
    assert_eq!(run.types(), ["open", "message", "terminate"]);
    assert_eq!(run.events()[0], serde_json::json!({"type": "open"}));
    assert_eq!(run.events()[1]["data"], "Hello world");
    assert_eq!(
        run.terminate(),
        serde_json::json!({"type": "terminate", "code": 1000, "reason": "", "wasClean": true})
    );
}

#[test]
fn stdin_lines_are_sent_and_echoed() {
    let server = echo_server();
    let run = wsc(&[&server.url(), "--count", "4"], "one\ntwo\r\n\nthree");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let data: Vec<Value> = run.events()[1..5]
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(data, ["one", "two", "", "three"]);
    assert_eq!(run.terminate()["wasClean"], true);
}

#[test]
fn end_of_input_closes_without_count() {
    // The close follows the last line at once; the echo may or may not
    // come first (once wsc has asked to close, none is printed).
    let server = echo_server();
    let run = wsc(&[&server.url()], "one\n");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let types = run.types();
    assert_eq!(types.first().map(String::as_str), Some("open"), "{types:?}");
    assert_eq!(
        types.last().map(String::as_str),
        Some("terminate"),
        "{types:?}"
    );
    assert!(types.len() <= 3, "{types:?}");
    assert_eq!(run.terminate()["code"], 1000);
    assert_eq!(run.terminate()["wasClean"], true);
}

#[test]
fn send_options_go_first_in_order_and_binary_is_base64() {
    let server = echo_server();
    let run = wsc(
        &[
            &server.url(),
            "--send",
            "a",
            "--send",
            "b",
            "--binary",
            "--count",
            "3",
        ],
        "c\n",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let events = run.events();
    assert_eq!(events[1]["data"], "a");
    assert_eq!(events[2]["data"], "b");
    assert_eq!(
        events[3],
        serde_json::json!({"type":"message","data":"Yw==","encoding":"base64"})
    );
}

#[test]
fn data_types_shape_the_data() {
    let server = echo_server();
    let object = wsc(
        &[&server.url(), "--data-type", "object", "--count", "1"],
        "{\"x\":[1,2]}\n",
    );
    assert_eq!(object.events()[1]["data"], serde_json::json!({"x": [1, 2]}));
    let blob = wsc(
        &[&server.url(), "--data-type", "blob", "--count", "1"],
        "hi\n",
    );
    assert_eq!(blob.events()[1]["encoding"], "base64");
    assert_eq!(blob.events()[1]["data"], "aGk=");
    let text = wsc(
        &[&server.url(), "--data-type", "text", "--count", "1"],
        "{\"x\":1}\n",
    );
    assert_eq!(text.events()[1]["data"], "{\"x\":1}");
    // Not JSON with the object data type: an error, 1007, exit 1.
    // (stdin stays open, so that wsc's own close at end of input cannot
    // come first)
    let bad = wsc_with_open_stdin(&[&server.url(), "--data-type", "object", "--send", "not json"]);
    assert_eq!(bad.types(), ["open", "error", "terminate"]);
    assert_eq!(bad.events()[1]["errors"][0]["errCode"], 26);
    assert_eq!(bad.terminate()["code"], 1007);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("not valid JSON"), "{}", bad.stderr);
}

/// A server that answers each connection with its request headers (a JSON
/// list of pairs) and the subprotocol it chose.
fn header_server() -> (SocketAddr, ws_mio::Handle) {
    let mut event_loop = EventLoop::new().unwrap();
    let mut options = ServerOptions::default();
    options.server.subprotocols = vec!["p2".into()];
    let addr = event_loop
        .listen("127.0.0.1:0".parse().unwrap(), options, || {
            |conn: &Conn, event: Event| {
                if let Event::Open(open) = event {
                    let pairs: Vec<(String, String)> = open
                        .headers
                        .iter()
                        .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                        .collect();
                    let _ = conn.send_text(&serde_json::to_string(&pairs).unwrap());
                }
            }
        })
        .unwrap();
    let handle = event_loop.handle();
    thread::spawn(move || event_loop.run());
    (addr, handle)
}

#[test]
fn headers_cookies_and_protocols_arrive_as_given() {
    let (addr, handle) = header_server();
    let url = format!("ws://{addr}/");
    let run = wsc(
        &[
            &url,
            "-H",
            "X-Multi: one",
            "--header",
            "X-Multi: two",
            "--cookie",
            "a=b; c=d",
            "--protocol",
            "p1",
            "--protocol",
            "p2",
            "--origin",
            "https://app.example",
            "--count",
            "1",
        ],
        "",
    );
    handle.stop();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.events()[0]["protocol"], "p2");
    let pairs: Vec<(String, String)> =
        serde_json::from_str(run.events()[1]["data"].as_str().unwrap()).unwrap();
    let all = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(all("x-multi"), ["one", "two"]);
    assert_eq!(all("cookie"), ["a=b; c=d"]);
    assert_eq!(all("origin"), ["https://app.example"]);
    assert_eq!(all("sec-websocket-protocol"), ["p1, p2"]);
}

#[test]
fn count_and_close_options() {
    let server = echo_server();
    let run = wsc(
        &[
            &server.url(),
            "--send",
            "x",
            "--send",
            "y",
            "--count",
            "2",
            "--close",
            "4001:enough",
        ],
        "",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.types(), ["open", "message", "message", "terminate"]);
    assert_eq!(run.terminate()["code"], 4001);
    assert_eq!(run.terminate()["reason"], "enough");
}

#[test]
fn count_stops_the_messages_even_when_more_are_on_the_way() {
    // Three messages go out before the first echo comes back; after the
    // second, wsc terminates, and the third echo is not printed.
    let server = echo_server();
    let run = wsc(
        &[
            &server.url(),
            "--send",
            "a",
            "--send",
            "b",
            "--send",
            "c",
            "--count",
            "2",
        ],
        "",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.types(), ["open", "message", "message", "terminate"]);
}

#[test]
fn a_server_close_ends_wsc_even_with_stdin_open() {
    // A raw server that accepts, then closes with 1001 and goes.
    let url = raw_url(|mut stream| {
        handshake::accept(&mut stream).unwrap();
        stream.write_all(&[0x88, 0x02, 0x03, 0xE9]).unwrap(); // close 1001
        let mut sink = [0u8; 256];
        let _ = stream.read(&mut sink); // the client's answer
    });
    // stdin stays open (the writer thread holds it until the end).
    let run = wsc_with_open_stdin(&[&url]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.terminate()["code"], 1001);
}

/// Serves one TCP connection with `script` on a thread (reads time out
/// after `LIMIT`); returns its `ws://` URL.
fn raw_url(script: fn(TcpStream)) -> String {
    raw_server::ws_url(raw_server::serve_one(LIMIT, script), "/")
}

#[test]
fn errors_are_one_clear_line_and_a_nonzero_exit() {
    let bad_url = wsc(&["ftp://127.0.0.1/"], "");
    assert_eq!(bad_url.code, Some(2));
    assert_eq!(bad_url.stderr.lines().count(), 1, "{}", bad_url.stderr);
    assert!(bad_url.stderr.starts_with("wsc: invalid URL"));

    let bad_header = wsc(&["ws://127.0.0.1:9/", "-H", "Bad Name: x"], "");
    assert_eq!(bad_header.code, Some(2), "{}", bad_header.stderr);
    assert!(
        bad_header.stderr.contains("invalid request"),
        "{}",
        bad_header.stderr
    );

    let bad_option = wsc(&["--data-type", "xml"], "");
    assert_eq!(bad_option.code, Some(2));
    assert!(bad_option.stderr.contains("unknown data type"));

    let bad_close = wsc(&["--close", "1006"], "");
    assert_eq!(bad_close.code, Some(2));
    assert!(
        bad_close.stderr.contains("invalid close code"),
        "{}",
        bad_close.stderr
    );

    let port = raw_server::refused_addr().port();
    let refused = wsc(&[&format!("ws://127.0.0.1:{port}/")], "");
    assert_eq!(refused.code, Some(1));
    assert_eq!(refused.types(), ["error", "terminate"]);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Connection refused"),
        "{}",
        refused.stderr
    );
}

#[test]
fn handshake_timeout_option() {
    // A server that accepts and never answers.
    let url = raw_url(|mut stream| raw_server::wait_for_eof(&mut stream));
    let run = wsc(&[&url, "--handshake-timeout", "0.2"], "");
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.to_lowercase().contains("timed out") || run.stderr.contains("timeout"),
        "{}",
        run.stderr
    );
}

fn self_signed() -> (String, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    (cert.pem(), signing_key.serialize_pem())
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("wsc-test-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn wss_with_an_extra_ca_and_refused_without_it() {
    let (cert, key) = self_signed();
    let tls = ws_mio::server_config_from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let server = EchoServer::start(
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default().tls(Some(tls)),
    )
    .unwrap();
    let ca = temp_file("ca.pem", &cert);
    let trusted = wsc(
        &[
            &server.url(),
            "--ca",
            ca.to_str().unwrap(),
            "--send",
            "s",
            "--count",
            "1",
        ],
        "",
    );
    assert_eq!(trusted.code, Some(0), "{}", trusted.stderr);
    assert_eq!(trusted.events()[1]["data"], "s");

    let untrusted = wsc(&[&server.url()], "");
    assert_eq!(untrusted.code, Some(1));
    assert!(
        untrusted.stderr.contains("unknown issuer"),
        "{}",
        untrusted.stderr
    );
    assert_eq!(untrusted.events()[0]["errors"][0]["errCode"], 21);
    let _ = std::fs::remove_file(ca);
}

/// An echo server on 127.0.0.1 speaking TLS with `tls`.
fn tls_echo_server(tls: std::sync::Arc<ws_mio::rustls::ServerConfig>) -> EchoServer {
    let options = ServerOptions::default().tls(Some(tls));
    EchoServer::start("127.0.0.1:0".parse().unwrap(), options).unwrap()
}

/// `-k` (curl's `--insecure`, in a stock wsc): a self-signed certificate
/// is accepted; without `-k` the same connection fails on the certificate.
#[cfg(feature = "insecure")]
#[test]
fn insecure_accepts_a_self_signed_certificate_and_only_with_k() {
    let (cert, key) = self_signed();
    let server =
        tls_echo_server(ws_mio::server_config_from_pem(cert.as_bytes(), key.as_bytes()).unwrap());
    let url = server.url();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    for k in ["-k", "--insecure"] {
        let run = wsc(&[k, &url, "--send", "unchecked", "--count", "1"], "");
        assert_eq!(run.code, Some(0), "{k}: {}", run.stderr);
        assert_eq!(run.types(), ["open", "message", "terminate"], "{k}");
        assert_eq!(run.events()[1]["data"], "unchecked", "{k}");
    }

    let checked = wsc(&[&url, "--send", "unchecked", "--count", "1"], "");
    assert_eq!(checked.code, Some(1), "{}", checked.stderr);
    assert_eq!(checked.types(), ["error", "terminate"]);
    assert_eq!(checked.events()[0]["errors"][0]["errCode"], 21);
    assert_eq!(checked.stderr.lines().count(), 1, "{}", checked.stderr);
    assert!(
        checked.stderr.contains("certificate") && checked.stderr.contains("unknown issuer"),
        "{}",
        checked.stderr
    );
}

/// A wsc built without the `insecure` feature refuses `-k`, saying why.
#[cfg(not(feature = "insecure"))]
#[test]
fn insecure_is_refused_when_built_without_the_feature() {
    let run = wsc(&["-k", "wss://127.0.0.1:9/"], "");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("without the `insecure` feature"),
        "{}",
        run.stderr
    );
}

/// A CA and, signed by it, a server certificate for 127.0.0.1 and a
/// client certificate: PEM texts.
struct Pki {
    ca_pem: String,
    ca_der: Vec<u8>,
    server_pem: String,
    server_key_pem: String,
    client_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let signed = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_pem, server_key_pem) = signed("127.0.0.1");
    let (client_pem, client_key_pem) = signed("wsc.client.test");
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        server_pem,
        server_key_pem,
        client_pem,
        client_key_pem,
    }
}

/// A server configuration that requires a client certificate signed by
/// the CA (rustls' WebPKI client verifier).
fn mtls_server_config(pki: &Pki) -> std::sync::Arc<ws_mio::rustls::ServerConfig> {
    use std::sync::Arc;
    use ws_mio::rustls;
    use ws_mio::rustls::pki_types::pem::PemObject as _;
    use ws_mio::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let chain = vec![CertificateDer::from_pem_slice(pki.server_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// Mutual TLS: a server that requires a client certificate echoes for
/// `wsc --ca --cert --key`, and refuses wsc without `--cert`/`--key` with
/// one clear error line and exit status 1.
#[test]
fn mutual_tls_with_cert_and_key_and_refused_without() {
    let pki = pki();
    let server = tls_echo_server(mtls_server_config(&pki));
    let url = server.url();
    let ca = temp_file("mtls-ca.pem", &pki.ca_pem);
    let cert = temp_file("mtls-client.pem", &pki.client_pem);
    let key = temp_file("mtls-client-key.pem", &pki.client_key_pem);
    let (ca_arg, cert_arg, key_arg) = (
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
    );

    let with_identity = wsc(
        &[
            "--ca", ca_arg, "--cert", cert_arg, "--key", key_arg, &url, "--send", "mutual",
            "--count", "1",
        ],
        "",
    );
    let without = wsc(
        &["--ca", ca_arg, &url, "--send", "mutual", "--count", "1"],
        "",
    );
    for file in [&ca, &cert, &key] {
        let _ = std::fs::remove_file(file);
    }

    assert_eq!(with_identity.code, Some(0), "{}", with_identity.stderr);
    assert_eq!(with_identity.types(), ["open", "message", "terminate"]);
    assert_eq!(with_identity.events()[1]["data"], "mutual");

    assert_eq!(without.code, Some(1), "{}", without.stderr);
    assert!(
        !without.types().contains(&"message".to_owned()),
        "{}",
        without.stdout
    );
    assert_eq!(
        without.types().last().map(String::as_str),
        Some("terminate")
    );
    assert_eq!(without.stderr.lines().count(), 1, "{}", without.stderr);
    println!("without a client certificate: {}", without.stderr);
    assert!(
        without.stderr.contains("CertificateRequired"),
        "{}",
        without.stderr
    );
}

#[test]
fn serve_mode_with_and_without_tls() {
    let (cert, key) = self_signed();
    let cert_file = temp_file("cert.pem", &cert);
    let key_file = temp_file("key.pem", &key);
    for tls in [false, true] {
        let mut args = vec!["--serve", "127.0.0.1:0"];
        if tls {
            args.extend([
                "--serve-cert",
                cert_file.to_str().unwrap(),
                "--serve-key",
                key_file.to_str().unwrap(),
            ]);
        }
        let mut server = Command::new(env!("CARGO_BIN_EXE_wsc"))
            .args(&args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // "wsc: echo server listening on ws://127.0.0.1:PORT/"
        let mut stderr = server.stderr.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\n") && stderr.read(&mut byte).unwrap_or(0) == 1 {
            line.push(byte[0]);
        }
        let line = String::from_utf8(line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(
            url.starts_with(if tls { "wss://" } else { "ws://" }),
            "{line}"
        );
        let mut client_args = vec![url.as_str(), "--send", "via serve", "--count", "1"];
        if tls {
            client_args.extend(["--ca", cert_file.to_str().unwrap()]);
        }
        let run = wsc(&client_args, "");
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(run.events()[1]["data"], "via serve");
    }
    let _ = std::fs::remove_file(cert_file);
    let _ = std::fs::remove_file(key_file);
}

#[test]
fn bench_prints_percentiles_and_rate() {
    let run = wsc(
        &["bench", "-n", "500", "--size", "64", "--warmup", "50"],
        "",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("500 round trips of 64 bytes"),
        "{}",
        run.stdout
    );
    for label in ["p50", "p90", "p99", "p99.9", "max", "messages per second"] {
        assert!(run.stdout.contains(label), "{label}: {}", run.stdout);
    }
    let server = echo_server();
    let run = wsc(&["bench", &server.url(), "-n", "100"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains(&server.url()));
}

#[test]
fn help_lists_the_options() {
    let run = wsc(&["--help"], "");
    assert_eq!(run.code, Some(0));
    for option in [
        "--data-type",
        "--header",
        "--cookie",
        "--protocol",
        "--ca",
        "--cert",
        "--insecure",
        "--send",
        "--binary",
        "--count",
        "--close",
        "--serve",
        "bench",
    ] {
        assert!(run.stdout.contains(option), "{option}");
    }
}

#[test]
fn deflate_option_round_trips_through_the_embedded_server() {
    let text = "{\"price\":101.5,\"size\":3}".repeat(50);
    let run = wsc(&["--deflate", "--send", &text, "--count", "1"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.events()[1]["data"], text.as_str());
}

#[test]
fn version() {
    let run = wsc(&["-V"], "");
    assert_eq!(run.code, Some(0));
    assert_eq!(
        run.stdout.trim(),
        format!("wsc {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn ping_interval_and_print_rtt() {
    // A server that sends "enough" once it has received three pings; wsc
    // pings every 50 ms, prints each pong with its round trip, and exits
    // after that one message (--count 1).
    let mut event_loop = ws_mio::EventLoop::new().unwrap();
    let addr = event_loop
        .listen(
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            || {
                let mut pings = 0;
                move |conn: &ws_mio::Conn, event: ws_mio::Event| {
                    if let ws_mio::Event::Ping(_) = event {
                        pings += 1;
                        if pings == 3 {
                            let _ = conn.send_text("enough");
                        }
                    }
                }
            },
        )
        .unwrap();
    let stop = event_loop.handle();
    let server = thread::spawn(move || event_loop.run());
    let url = format!("ws://{addr}/");
    let run = wsc_with_open_stdin(&[
        &url,
        "--ping-interval",
        "0.05",
        "--print-rtt",
        "--count",
        "1",
    ]);
    stop.stop();
    let _ = server.join();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let types = run.types();
    assert_eq!(
        types.iter().filter(|t| *t == "pong").count(),
        3,
        "{types:?}"
    );
    assert_eq!(types.last().map(String::as_str), Some("terminate"));
    for event in run.events().iter().filter(|e| e["type"] == "pong") {
        assert!(event["rttMicros"].as_u64().is_some(), "{event}");
    }
}

/// Reads one client frame: its opcode and unmasked payload (`None` if
/// the client went first, the read timed out or the frame was not masked).
fn read_client_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let frame = frames::read_client_frame(stream).ok()?;
    Some((frame.opcode, frame.payload))
}

#[test]
fn reconnect_comes_back_after_a_drop_and_sends_the_subscription_again() {
    let (subscriptions_tx, subscriptions) = std::sync::mpsc::channel();
    let addr = raw_server::serve_in_turn(2, LIMIT, move |n, mut stream| {
        let _ = handshake::accept(&mut stream);
        let sub = read_client_frame(&mut stream);
        let _ = subscriptions_tx.send(sub);
        if n == 0 {
            return; // dropped without a close frame
        }
        // The second: one message, then the closing handshake.
        stream.write_all(&[0x81, 0x04]).unwrap();
        stream.write_all(b"tick").unwrap();
        if let Some((0x8, _)) = read_client_frame(&mut stream) {
            let _ = stream.write_all(&[0x88, 0x02, 0x03, 0xe8]);
        }
    });
    let url = raw_server::ws_url(addr, "/feed");
    let run = wsc_with_open_stdin(&[&url, "--reconnect", "--send", "subscribe", "--count", "1"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.types(),
        ["open", "error", "terminate", "open", "message", "terminate"],
        "{}",
        run.stdout
    );
    let events = run.events();
    assert_eq!(events[2]["code"], 1006);
    assert_eq!(events[2]["reconnect"]["attempt"], 1);
    assert!(events[2]["reconnect"]["delayMs"].as_u64().unwrap() <= 1000);
    assert_eq!(events[4]["data"], "tick");
    assert_eq!(events[5]["code"], 1000);
    assert!(events[5].get("reconnect").is_none());
    for _ in 0..2 {
        let sub = subscriptions.recv_timeout(LIMIT).unwrap();
        assert_eq!(sub, Some((0x1, b"subscribe".to_vec())));
    }
}

#[test]
fn location_follows_a_redirect_and_is_off_without_it() {
    let echo = echo_server();
    let redirect = |location: String| {
        let addr = raw_server::serve_one(LIMIT, move |mut stream| {
            if handshake::read_head(&mut stream).is_none() {
                return;
            }
            let answer =
                format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes());
        });
        raw_server::ws_url(addr, "/")
    };
    let followed = wsc(&["-L", &redirect(echo.url()), "--count", "1"], "through\n");
    assert_eq!(followed.code, Some(0), "{}", followed.stderr);
    assert_eq!(followed.types(), ["open", "message", "terminate"]);
    assert_eq!(followed.events()[1]["data"], "through");

    let refused = wsc(&[&redirect(echo.url())], "through\n");
    assert_eq!(refused.code, Some(1));
    assert_eq!(refused.types(), ["error", "terminate"]);
    assert_eq!(refused.events()[0]["errors"][0]["errCode"], 22);
    assert!(refused.stderr.contains("302"), "{}", refused.stderr);
}
