//! `wsc`: a WebSocket command-line client built on `ws-client`, with an
//! embedded echo server (from `ws-mio`) for when no URL is given, a
//! latency bench, and a serve-only mode. `wsc --help` lists the options.

mod args;
mod bench;
mod client;
mod connect;
mod serve;

use std::process::ExitCode;

/// How `wsc` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    /// A clean close (or a finished bench, or help).
    Clean,
    /// The connection failed or closed uncleanly.
    Failed,
    /// The command line (or a URL, header, file) cannot be used.
    Usage,
}

/// Prints `message` as wsc's one error line on stderr; returns `exit`.
fn fail(exit: Exit, message: String) -> Exit {
    eprintln!("wsc: {message}");
    exit
}

fn main() -> ExitCode {
    let exit = match args::parse(std::env::args_os().skip(1)) {
        Ok(args::Command::Help) => {
            print!("{}", args::USAGE);
            Exit::Clean
        }
        Ok(args::Command::Version) => {
            println!("wsc {}", env!("CARGO_PKG_VERSION"));
            Exit::Clean
        }
        Ok(args::Command::Client(client)) => client::run(client),
        Ok(args::Command::Bench(bench)) => bench::run(bench),
        Ok(args::Command::Serve(serve)) => serve::run(serve),
        Err(e) => fail(Exit::Usage, format!("{e} (see wsc --help)")),
    };
    // Callbacks may still be running on the background loop: the exit
    // code is decided, so the process ends here without waiting for them.
    ExitCode::from(match exit {
        Exit::Clean => 0,
        Exit::Failed => 1,
        Exit::Usage => 2,
    })
}
