//! `eoslog-broker --data DIR --listen HOST:PORT`: runs the broker until SIGTERM or SIGINT, then
//! closes every connection and the engine cleanly.

use std::process::ExitCode;
use std::sync::Arc;

use eoslog_broker::config::{ArgsError, USAGE, parse_args};
use eoslog_broker::{Server, logger};

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(ArgsError::Help) => {
            eprint!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(ArgsError::Invalid(msg)) => {
            eprintln!("eoslog-broker: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    logger::init(config.log_level);
    // Before any thread exists (the engine starts its own), so that every thread inherits the
    // mask and the signals reach only the waiting thread below.
    let signals = match signals::block_termination() {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot block SIGTERM/SIGINT: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::start(config) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let waiter = Arc::clone(&server);
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        match signals.wait() {
            Ok(sig) => log::info!("received signal {sig}"),
            Err(e) => log::error!("waiting for signals: {e}"),
        }
        waiter.shutdown();
    });
    if let Err(e) = spawned {
        log::error!("cannot start the signal thread: {e}");
        return ExitCode::FAILURE;
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// SIGTERM and SIGINT, received synchronously by one thread with `sigwait` instead of an
/// asynchronous handler, so that shutdown runs as ordinary code.
mod signals {
    use std::io;

    pub struct Termination {
        set: libc::sigset_t,
    }

    pub fn block_termination() -> io::Result<Termination> {
        // SAFETY: `set` is a plain C struct initialised by `sigemptyset` before any other use;
        // the libc calls only read and write it and the calling thread's signal mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(Termination { set })
        }
    }

    impl Termination {
        /// Blocks until SIGTERM or SIGINT arrives; returns its number.
        pub fn wait(&self) -> io::Result<i32> {
            let mut sig: libc::c_int = 0;
            // SAFETY: `self.set` was initialised by `block_termination`; `sig` is a valid out
            // pointer for the duration of the call.
            let rc = unsafe { libc::sigwait(&self.set, &mut sig) };
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(sig)
        }
    }
}
