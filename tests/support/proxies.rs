//! Real proxies on loopback for integration tests: [`Tinyproxy`] (HTTP
//! CONNECT) and [`Dante`] (SOCKS5), each a private instance on a free
//! `127.0.0.1` port with its own configuration in a fresh temporary
//! directory, killed and cleaned up when the handle drops (a failing test
//! included: `Drop` runs while a panic unwinds, and prints the proxy's log
//! then). [`EchoTarget`] is a loopback TCP echo server to tunnel to.
//!
//! Include it from an integration test with
//!
//! ```ignore
//! #[path = "support/proxies.rs"]
//! mod proxies;
//! ```
//!
//! # When a proxy is not there
//!
//! `start` returns `None` after a loud `SKIPPED:` line on stderr when the
//! binary is not installed or the proxy does not come up, so a test reads
//!
//! ```ignore
//! let Some(proxy) = Tinyproxy::start(TinyproxyOptions::default()) else {
//!     return;
//! };
//! ```
//!
//! With `WS_REQUIRE_PROXIES=1` in the environment (CI sets it), `start`
//! panics instead, with the reason and the proxy's log.
//!
//! # Setting a machine up
//!
//! `tests/support/setup-proxies.sh` (as root) installs what is missing
//! and creates the SOCKS5 test user. It is, in short:
//!
//! ```sh
//! command -v tinyproxy >/dev/null || missing="$missing tinyproxy"
//! command -v danted >/dev/null || [ -x /usr/sbin/danted ] || missing="$missing dante-server"
//! [ -n "$missing" ] && DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
//! getent passwd wsproxytest >/dev/null ||
//!     useradd --no-create-home --shell /usr/sbin/nologin wsproxytest
//! echo 'wsproxytest:ws-proxy-test-pass-1' | chpasswd
//! ```
//!
//! # Scope
//!
//! IPv4 loopback only: the proxies listen on `127.0.0.1` and connect to
//! `127.0.0.1` targets (Dante's `external:` is `127.0.0.1`; a target that
//! resolves to `::1` only is not reachable through it). Linux (or a Unix
//! with the same tools); nothing here needs a dependency beyond std.
//!
//! A test process killed outright (SIGKILL, a CI timeout) runs no `Drop`:
//! its proxies outlive it. Ctrl-C reaches them too (they stay in the test
//! process's process group), so they stop with it.

#![allow(dead_code)]

use std::env;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The bound on every wait of this module (a proxy coming up, a connect, a
/// read), and a good one for the tests' own reads and connects.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// The environment variable that turns a missing proxy into a failure:
/// `WS_REQUIRE_PROXIES=1` (CI sets it).
pub(crate) const REQUIRE_PROXIES: &str = "WS_REQUIRE_PROXIES";

/// The system user that Dante's username method authenticates (it checks
/// the system's password database). Created by the setup script; the
/// harness never creates users.
pub(crate) const SOCKS_USER: &str = "wsproxytest";

/// The password of [`SOCKS_USER`], as the setup script sets it. A fixed
/// test password: the account has no login shell and no home.
pub(crate) const SOCKS_PASSWORD: &str = "ws-proxy-test-pass-1";

/// The script that installs the proxies and creates [`SOCKS_USER`].
pub(crate) const SETUP_SCRIPT: &str = "tests/support/setup-proxies.sh";

/// How many free ports `start` tries before it gives up (another process
/// may take the port between the probe and the proxy's bind).
const START_ATTEMPTS: usize = 3;

/// After this long alive and accepting, a proxy whose log lacks its
/// readiness line is taken as ready anyway (a failed bind exits long
/// before).
const READY_GRACE: Duration = Duration::from_secs(1);

// ---- tinyproxy ------------------------------------------------------------

/// How to configure a [`Tinyproxy`]. The default: no authentication, every
/// target port allowed.
#[derive(Clone, Debug, Default)]
pub(crate) struct TinyproxyOptions {
    /// `BasicAuth user password`: CONNECT without these credentials is
    /// refused (tinyproxy 1.11 answers 407 without a
    /// `Proxy-Authorization` header, 401 with wrong credentials). Both
    /// must be made of `A-Z a-z 0-9 - . _` (tinyproxy's configuration
    /// syntax); anything else panics.
    pub(crate) basic_auth: Option<(String, String)>,
    /// `ConnectPort` lines: CONNECT is allowed to these ports only (403
    /// for the others). `Some(vec![1])` makes tinyproxy refuse every real
    /// target. `None` (or an empty list) allows every port.
    pub(crate) connect_ports: Option<Vec<u16>>,
}

/// A private tinyproxy (HTTP CONNECT proxy) on a free loopback port,
/// running `tinyproxy -d -c CONF` in the foreground. Killed, reaped and
/// its directory removed on drop.
#[derive(Debug)]
pub(crate) struct Tinyproxy {
    process: ProxyProcess,
    basic_auth: Option<(String, String)>,
}

impl Tinyproxy {
    /// Starts a tinyproxy configured by `options` and waits (at most
    /// [`TIMEOUT`]) until it accepts connections.
    ///
    /// `None`, after a `SKIPPED:` line on stderr, when tinyproxy is not
    /// installed or does not come up; a panic instead with
    /// `WS_REQUIRE_PROXIES=1`.
    pub(crate) fn start(options: TinyproxyOptions) -> Option<Self> {
        const NAME: &str = "tinyproxy";
        if let Some((user, password)) = &options.basic_auth {
            for part in [user, password] {
                assert!(
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)),
                    "tinyproxy's BasicAuth takes only A-Z a-z 0-9 - . _"
                );
            }
        }
        let Some(binary) = find_binary("tinyproxy") else {
            return unavailable(NAME, "tinyproxy is not installed", None);
        };
        let root = is_root();
        let config = |port: u16, _dir: &Path| {
            let mut config = String::new();
            if root {
                // Running as root it warns and keeps root; with these it
                // drops to nobody once it listens (it reads the config and
                // opens its socket before; its log is our stdout).
                let group = if getent("group", "nogroup") {
                    "nogroup"
                } else {
                    "nobody"
                };
                let _ = writeln!(config, "User nobody\nGroup {group}");
            }
            let _ = writeln!(
                config,
                "Port {port}\n\
                 Listen 127.0.0.1\n\
                 Allow 127.0.0.1\n\
                 Timeout 15\n\
                 MaxClients 16\n\
                 LogLevel Info\n\
                 DisableViaHeader Yes"
            );
            if let Some((user, password)) = &options.basic_auth {
                let _ = writeln!(config, "BasicAuth {user} {password}");
            }
            for port in options.connect_ports.iter().flatten() {
                let _ = writeln!(config, "ConnectPort {port}");
            }
            config
        };
        let spec = Spec {
            name: NAME,
            binary,
            config: &config,
            // -d: foreground; no LogFile: it logs to stdout.
            args: &|conf: &Path, _dir: &Path| vec!["-d".into(), "-c".into(), conf.into()],
            daemon_log: None,
            ready_line: "Accepting connections",
        };
        let process = ProxyProcess::start(&spec)?;
        Some(Self {
            process,
            basic_auth: options.basic_auth,
        })
    }

    /// The port it listens on, on `127.0.0.1`.
    pub(crate) fn port(&self) -> u16 {
        self.process.port
    }

    /// `127.0.0.1:port`.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.process.addr()
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT` with the `basic_auth`
    /// credentials (no percent-encoding needed: their characters are
    /// restricted); `None` without authentication.
    pub(crate) fn url_with_credentials(&self) -> Option<String> {
        let (user, password) = self.basic_auth.as_ref()?;
        Some(format!("http://{user}:{password}@{}", self.addr()))
    }

    /// What it logged so far.
    pub(crate) fn log(&self) -> String {
        self.process.log()
    }

    /// Its temporary directory (configuration and log), removed on drop.
    pub(crate) fn dir(&self) -> &Path {
        &self.process.dir.path
    }
}

// ---- dante ----------------------------------------------------------------

/// How to configure a [`Dante`]. The default: no authentication, every
/// `127.0.0.1` target allowed.
#[derive(Clone, Debug, Default)]
pub(crate) struct DanteOptions {
    /// `socksmethod: username` (RFC 1929) instead of `none`: the client
    /// must log in as [`SOCKS_USER`] with [`SOCKS_PASSWORD`], which Dante
    /// checks against the system's password database. Needs that user
    /// (the setup script creates it) and root (to read `/etc/shadow`);
    /// without either, `start` reports Dante unavailable.
    pub(crate) username_auth: bool,
    /// A `socks block` rule for this target port (on any address): Dante
    /// refuses CONNECT to it with reply 0x02 (not allowed by ruleset).
    pub(crate) deny_port: Option<u16>,
}

/// A private Dante (`danted`, SOCKS5 proxy) on a free loopback port,
/// running `danted -f CONF -N 1 -p PIDFILE` in the foreground (no `-D`).
/// Killed, reaped and its directory removed on drop (its worker processes
/// exit on their own once their parent is gone).
#[derive(Debug)]
pub(crate) struct Dante {
    process: ProxyProcess,
    username_auth: bool,
}

impl Dante {
    /// Starts a Dante configured by `options` and waits (at most
    /// [`TIMEOUT`]) until it accepts connections; with `username_auth`,
    /// also checks that it accepts [`SOCKS_USER`] and [`SOCKS_PASSWORD`].
    ///
    /// `None`, after a `SKIPPED:` line on stderr, when danted is not
    /// installed, the user is missing (or has another password), or the
    /// proxy does not come up; a panic instead with `WS_REQUIRE_PROXIES=1`.
    pub(crate) fn start(options: DanteOptions) -> Option<Self> {
        const NAME: &str = "dante";
        let Some(binary) = find_binary("danted") else {
            return unavailable(NAME, "danted (package dante-server) is not installed", None);
        };
        let root = is_root();
        if options.username_auth {
            if !getent("passwd", SOCKS_USER) {
                return unavailable(
                    NAME,
                    &format!("the SOCKS5 test user {SOCKS_USER} does not exist"),
                    None,
                );
            }
            if !root {
                return unavailable(
                    NAME,
                    "username authentication needs root (danted reads /etc/shadow)",
                    None,
                );
            }
        }
        let config = |port: u16, dir: &Path| {
            let method = if options.username_auth {
                "username"
            } else {
                "none"
            };
            let mut config = format!(
                "logoutput: {log}\n\
                 internal: 127.0.0.1 port = {port}\n\
                 external: 127.0.0.1\n\
                 clientmethod: none\n\
                 socksmethod: {method}\n\
                 timeout.negotiate: 5\n\
                 timeout.connect: 5\n\
                 timeout.io: 60\n",
                log = dir.join("danted.log").display(),
            );
            if root {
                // As root, danted wants both users named (it warns
                // otherwise). The privileged one reads /etc/shadow for the
                // username method. Not as another user: it could not
                // switch to them (it fails at startup).
                config.push_str("user.privileged: root\nuser.unprivileged: nobody\n");
            }
            config.push_str(
                "client pass {\n\
                 \x20   from: 127.0.0.0/8 to: 0.0.0.0/0\n\
                 \x20   log: error\n\
                 }\n",
            );
            if let Some(port) = options.deny_port {
                let _ = write!(
                    config,
                    "socks block {{\n\
                     \x20   from: 127.0.0.0/8 to: 0.0.0.0/0 port = {port}\n\
                     \x20   log: error connect\n\
                     }}\n"
                );
            }
            config.push_str(
                "socks pass {\n\
                 \x20   from: 127.0.0.0/8 to: 127.0.0.1/32\n\
                 \x20   command: connect\n\
                 \x20   log: error connect disconnect\n\
                 }\n",
            );
            config
        };
        let spec = Spec {
            name: NAME,
            binary,
            config: &config,
            // Foreground is the default (-D would daemonize); -N 1: one
            // server process (which forks its workers); -p: a pid file of
            // our own instead of /var/run/danted.pid.
            args: &|conf: &Path, dir: &Path| {
                vec![
                    "-f".into(),
                    conf.into(),
                    "-N".into(),
                    "1".into(),
                    "-p".into(),
                    dir.join("danted.pid").into(),
                ]
            },
            daemon_log: Some("danted.log"),
            ready_line: " running",
        };
        let process = ProxyProcess::start(&spec)?;
        if options.username_auth {
            if let Err(e) = socks5_login(process.addr()) {
                let log = process.log();
                drop(process);
                return unavailable(
                    NAME,
                    &format!(
                        "dante does not log {SOCKS_USER} in with SOCKS_PASSWORD ({e}): \
                         the user has another password"
                    ),
                    Some(&log),
                );
            }
        }
        Some(Self {
            process,
            username_auth: options.username_auth,
        })
    }

    /// The port it listens on, on `127.0.0.1`.
    pub(crate) fn port(&self) -> u16 {
        self.process.port
    }

    /// `127.0.0.1:port`.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.process.addr()
    }

    /// `socks5://127.0.0.1:PORT` (the same proxy serves `socks5h://`).
    pub(crate) fn url(&self) -> String {
        format!("socks5://{}", self.addr())
    }

    /// `socks5://wsproxytest:PASSWORD@127.0.0.1:PORT` with username
    /// authentication; `None` without.
    pub(crate) fn url_with_credentials(&self) -> Option<String> {
        let (user, password) = self.credentials()?;
        Some(format!("socks5://{user}:{password}@{}", self.addr()))
    }

    /// [`SOCKS_USER`] and [`SOCKS_PASSWORD`] with username authentication;
    /// `None` without.
    pub(crate) fn credentials(&self) -> Option<(&'static str, &'static str)> {
        self.username_auth.then_some((SOCKS_USER, SOCKS_PASSWORD))
    }

    /// What it logged so far (its log file, then its stdout and stderr).
    pub(crate) fn log(&self) -> String {
        self.process.log()
    }

    /// Its temporary directory (configuration, logs, pid file), removed on
    /// drop.
    pub(crate) fn dir(&self) -> &Path {
        &self.process.dir.path
    }
}

/// Logs in to the SOCKS5 proxy at `addr` with the test user (RFC 1929),
/// then closes: whether the system's password is the one we know.
fn socks5_login(addr: SocketAddr) -> Result<(), String> {
    let run = || -> io::Result<[u8; 4]> {
        let mut stream = connect(addr)?;
        stream.write_all(&[5, 1, 2])?;
        let mut answers = [0; 4];
        stream.read_exact(&mut answers[..2])?;
        if answers[..2] != [5, 2] {
            return Ok(answers);
        }
        let mut request = vec![1, SOCKS_USER.len() as u8];
        request.extend_from_slice(SOCKS_USER.as_bytes());
        request.push(SOCKS_PASSWORD.len() as u8);
        request.extend_from_slice(SOCKS_PASSWORD.as_bytes());
        stream.write_all(&request)?;
        stream.read_exact(&mut answers[2..])?;
        Ok(answers)
    };
    match run() {
        Ok([5, 2, 1, 0]) => Ok(()),
        Ok([5, 2, _, status]) => Err(format!("authentication status {status:#04x}")),
        Ok([5, method, ..]) => Err(format!("it chose method {method:#04x}, not 0x02")),
        Ok(answers) => Err(format!("unexpected answer {answers:02x?}")),
        Err(e) => Err(e.to_string()),
    }
}

// ---- the echo target ------------------------------------------------------

/// A TCP echo server on `127.0.0.1` (a free port), on threads: it sends an
/// optional banner on each connection, then echoes everything until the
/// peer closes its side, and closes. It stops on drop and after
/// [`LIFETIME`](Self::LIFETIME) at the latest; connections idle for
/// [`TIMEOUT`] are closed.
#[derive(Debug)]
pub(crate) struct EchoTarget {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl EchoTarget {
    /// The longest an echo target runs.
    pub(crate) const LIFETIME: Duration = Duration::from_secs(60);

    /// A plain echo server.
    pub(crate) fn start() -> Self {
        Self::start_with_banner(b"")
    }

    /// An echo server that first sends `banner` on each connection, as a
    /// server that speaks first does (SMTP, SSH): through a proxy, the
    /// banner may arrive with the proxy's answer, as leftover bytes.
    pub(crate) fn start_with_banner(banner: &[u8]) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the echo target");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the echo target's address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let banner = banner.to_vec();
        let thread = {
            let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
            thread::Builder::new()
                .name("echo-target".into())
                .spawn(move || accept_loop(&listener, &banner, &stop, &accepted))
                .expect("spawn the echo target")
        };
        Self {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    /// Where it listens: `127.0.0.1:port`.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections it accepted so far: 0 after a proxy refused
    /// to connect to it.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for EchoTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    banner: &[u8],
    stop: &Arc<AtomicBool>,
    accepted: &AtomicUsize,
) {
    let until = Instant::now() + EchoTarget::LIFETIME;
    let connections = Mutex::new(Vec::new());
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        match listener.accept() {
            Ok((stream, _)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                let (stop, banner) = (Arc::clone(stop), banner.to_vec());
                let serve = move || {
                    let _ = echo(stream, &banner, &stop, until);
                };
                if let Ok(handle) = thread::Builder::new().name("echo-conn".into()).spawn(serve) {
                    connections.lock().unwrap().push(handle);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
    stop.store(true, Ordering::SeqCst);
    for handle in connections.into_inner().unwrap() {
        let _ = handle.join();
    }
}

/// Serves one connection: the banner, then an echo until the peer's EOF,
/// an idle [`TIMEOUT`], `stop` or `until`.
fn echo(mut stream: TcpStream, banner: &[u8], stop: &AtomicBool, until: Instant) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    // Short reads, to look at `stop` often.
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.set_nodelay(true)?;
    stream.write_all(banner)?;
    let mut buf = [0; 16 * 1024];
    let mut idle_since = Instant::now();
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                stream.write_all(&buf[..n])?;
                idle_since = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if idle_since.elapsed() > TIMEOUT {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A loopback port nobody listens on: one that was free a moment ago (a
/// connect to it is refused, unless another process took it meanwhile,
/// which is unlikely).
pub(crate) fn closed_port() -> u16 {
    free_port().expect("a free loopback port")
}

/// A TCP connection to `addr` with [`TIMEOUT`] on the connect, reads and
/// writes, and `TCP_NODELAY`.
pub(crate) fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

// ---- running a proxy ------------------------------------------------------

/// How to run one kind of proxy.
struct Spec<'a> {
    /// For messages and file names.
    name: &'static str,
    binary: PathBuf,
    /// The configuration for a port, in a directory.
    config: &'a dyn Fn(u16, &Path) -> String,
    /// The arguments, given the configuration file and the directory.
    args: &'a dyn Fn(&Path, &Path) -> Vec<std::ffi::OsString>,
    /// The log file the proxy writes itself, in the directory, if any.
    daemon_log: Option<&'static str>,
    /// A line of its log that says it listens.
    ready_line: &'static str,
}

/// A running proxy process and its directory; killed, reaped and removed
/// on drop.
#[derive(Debug)]
struct ProxyProcess {
    name: &'static str,
    child: Child,
    port: u16,
    /// The logs, in the order to show them.
    logs: Vec<PathBuf>,
    /// Dropped after the child is killed (fields drop after `drop`).
    dir: TempDir,
}

impl ProxyProcess {
    /// Starts the proxy on a free port, tried up to [`START_ATTEMPTS`]
    /// times; `None` (or a panic) when it does not come up.
    fn start(spec: &Spec<'_>) -> Option<Self> {
        let dir = match TempDir::new(spec.name) {
            Ok(dir) => dir,
            Err(e) => {
                let reason = format!("cannot create a temporary directory: {e}");
                return unavailable(spec.name, &reason, None);
            }
        };
        let mut attempts = 0;
        let failure = loop {
            attempts += 1;
            match Self::try_start(spec, &dir) {
                Ok((child, port, logs)) => {
                    return Some(Self {
                        name: spec.name,
                        child,
                        port,
                        logs,
                        dir,
                    });
                }
                // Another process may have taken the port: try another.
                Err(failure) if failure.exited && attempts < START_ATTEMPTS => {}
                Err(failure) => break failure,
            }
        };
        unavailable(spec.name, &failure.reason, Some(&failure.log))
    }

    /// One attempt: the child, its port and its logs, once it accepts
    /// connections.
    fn try_start(spec: &Spec<'_>, dir: &TempDir) -> Result<(Child, u16, Vec<PathBuf>), Failure> {
        let no_log = |reason: String| Failure {
            reason,
            log: String::new(),
            exited: false,
        };
        let port = free_port().map_err(|e| no_log(format!("no free port: {e}")))?;
        let conf = dir.path.join(format!("{}.conf", spec.name));
        fs::write(&conf, (spec.config)(port, &dir.path))
            .map_err(|e| no_log(format!("cannot write {}: {e}", conf.display())))?;
        let mut logs = Vec::new();
        if let Some(name) = spec.daemon_log {
            let path = dir.path.join(name);
            let _ = fs::remove_file(&path);
            logs.push(path);
        }
        let output = dir.path.join(format!("{}.out", spec.name));
        let stdout = File::create(&output)
            .map_err(|e| no_log(format!("cannot create {}: {e}", output.display())))?;
        let stderr = stdout
            .try_clone()
            .map_err(|e| no_log(format!("cannot clone a file handle: {e}")))?;
        logs.push(output);
        let mut child = Command::new(&spec.binary)
            .args((spec.args)(&conf, &dir.path))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| no_log(format!("cannot run {}: {e}", spec.binary.display())))?;

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        let failed = |child: &mut Child, reason: String, exited: bool| {
            let _ = child.kill();
            let _ = child.wait();
            Failure {
                reason,
                log: read_logs(&logs),
                exited,
            }
        };
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Err(failed(
                        &mut child,
                        format!("it exited at startup ({status})"),
                        true,
                    ));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(failed(
                        &mut child,
                        format!("cannot wait for it: {e}"),
                        false,
                    ));
                }
            }
            let accepts = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
            let elapsed = started.elapsed();
            if accepts && (elapsed >= READY_GRACE || read_logs(&logs).contains(spec.ready_line)) {
                return Ok((child, port, logs));
            }
            if elapsed >= TIMEOUT {
                let reason = format!("it did not accept connections on {addr} within {TIMEOUT:?}");
                return Err(failed(&mut child, reason, false));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    fn log(&self) -> String {
        read_logs(&self.logs)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        // SIGKILL: tinyproxy is one process; danted's workers exit when
        // they see their parent gone (SIGTERM would not reap them either).
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "---- {} on port {} (a test failed), its log: ----\n{}---- end of the {} log ----",
                self.name,
                self.port,
                self.log(),
                self.name
            );
        }
    }
}

/// Why a proxy did not come up.
struct Failure {
    reason: String,
    log: String,
    /// It exited at startup (on a port taken meanwhile, say).
    exited: bool,
}

/// A fresh directory under the system's temporary directory, removed with
/// everything in it on drop.
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(name: &str) -> io::Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = env::temp_dir().join(format!(
                "ws-proxy-{name}-{}-{n}-{nanos:09}",
                std::process::id()
            ));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---- helpers --------------------------------------------------------------

/// Reports a proxy unavailable: `None` after a loud line on stderr, or a
/// panic with `WS_REQUIRE_PROXIES=1`.
fn unavailable<T>(name: &str, reason: &str, log: Option<&str>) -> Option<T> {
    let (note, log) = match log {
        Some(log) if !log.trim().is_empty() => ("", format!("\n---- {name} log ----\n{log}")),
        Some(_) => (" (it logged nothing)", String::new()),
        None => ("", String::new()),
    };
    if env::var_os(REQUIRE_PROXIES).is_some_and(|v| v == "1") {
        panic!("{name} is required ({REQUIRE_PROXIES}=1) but unavailable: {reason}{note}{log}");
    }
    // Straight to the process's stderr: the test harness captures what
    // `eprintln!` prints (and shows it only when a test fails), and a
    // skipped test passes.
    let _ = writeln!(
        io::stderr().lock(),
        "\n**********\nSKIPPED: {name}: {reason}{note}; run {SETUP_SCRIPT} (as root) to set \
         the machine up ({REQUIRE_PROXIES}=1 makes this a failure){log}\n**********"
    );
    None
}

fn read_logs(paths: &[PathBuf]) -> String {
    let mut all = String::new();
    for path in paths {
        if let Ok(bytes) = fs::read(path) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

/// A loopback port that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// `name` in `PATH`, or in the usual system directories (a non-root
/// `PATH` may lack the `sbin` ones, where `danted` is).
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    let system = [
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
        "/sbin",
    ];
    env::split_paths(&path)
        .chain(system.into_iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether the effective user is root.
fn is_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        // "Uid:\treal\teffective\tsaved\tfs"
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            return line.split_whitespace().nth(2) == Some("0");
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Whether `getent DATABASE KEY` finds an entry.
fn getent(database: &str, key: &str) -> bool {
    Command::new("getent")
        .args([database, key])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
