//! Shared plumbing for goro's ecosystem examples: command-line flags.
//!
//! The examples in this package (`http`, `http_client`, `axum_hello`,
//! `axum_graceful`, `tls_echo`, `ws_echo`) show goro running the libraries
//! people already use (hyper, axum, rustls, tungstenite, tokio-util) with no
//! tokio runtime; their integration tests in `tests/` run each example
//! binary and talk to it over loopback. This library only parses their
//! `--name value` flags.

use std::io;
use std::str::FromStr;

/// `--name value` pairs and positional arguments from the command line.
#[derive(Debug, Default)]
pub struct Flags {
    pairs: Vec<(String, String)>,
    positional: Vec<String>,
}

impl Flags {
    /// Parses the process's arguments; every `--name` takes one value.
    /// `-h`/`--help` prints `usage` and exits.
    pub fn from_env(usage: &str) -> io::Result<Flags> {
        Flags::parse(std::env::args().skip(1), usage)
    }

    /// Parses `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>, usage: &str) -> io::Result<Flags> {
        let mut flags = Flags::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                println!("usage: {usage}");
                std::process::exit(0);
            }
            match arg.strip_prefix("--") {
                Some(name) => {
                    let value = args.next().ok_or_else(|| {
                        invalid(format!("--{name} needs a value (usage: {usage})"))
                    })?;
                    flags.pairs.push((name.to_owned(), value));
                }
                None => flags.positional.push(arg),
            }
        }
        Ok(flags)
    }

    /// The value of `--name`, if given (the last one wins).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `--name`, or `default`.
    pub fn get_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    /// The value of `--name` parsed as a `T`, if given.
    pub fn parsed<T: FromStr>(&self, name: &str) -> io::Result<Option<T>> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| invalid(format!("--{name}: cannot parse {v:?}")))
            })
            .transpose()
    }

    /// The arguments that are not flags, in order.
    pub fn positional(&self) -> &[String] {
        &self.positional
    }
}

/// An `InvalidInput` error with `msg`.
pub fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A goro runtime with `--workers N` threads if given, else the default.
pub fn runtime(flags: &Flags) -> io::Result<goro::runtime::Runtime> {
    let mut builder = goro::runtime::Builder::new();
    if let Some(n) = flags.parsed::<usize>("workers")? {
        builder.worker_threads(n);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_positionals() {
        let args = ["http://x/", "--addr", "1.2.3.4:5", "--workers", "3"];
        let flags = Flags::parse(args.map(String::from), "u").unwrap();
        assert_eq!(flags.get("addr"), Some("1.2.3.4:5"));
        assert_eq!(flags.parsed::<usize>("workers").unwrap(), Some(3));
        assert_eq!(flags.positional(), ["http://x/"]);
        assert!(flags.parsed::<usize>("addr").is_err());
        assert!(Flags::parse(["--addr".to_owned()], "u").is_err());
    }
}
