//! The network side: a listener and one thread per connection.
//!
//! A thread per connection matches both the engine (whose calls block: appends may wait for a
//! group-commit fsync) and Kafka's rule that a connection's requests are answered one at a
//! time, in order. Clients open only a few connections per broker.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use bytes::Bytes;
use eoslog::Engine;
use parking_lot::Mutex;

use crate::api::{Broker, Reply};
use crate::config::BrokerConfig;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The engine did not open the data directory.
    Engine(eoslog::Error),
    /// The listening socket could not be bound.
    Bind(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Engine(e) => write!(f, "cannot open the data directory: {e}"),
            StartError::Bind(e) => write!(f, "cannot listen: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running broker: the engine, the listening socket and the open connections.
#[derive(Debug)]
pub struct Server {
    broker: Arc<Broker>,
    listener: TcpListener,
    local_addr: SocketAddr,
    stopping: AtomicBool,
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Server {
    /// Opens the engine on the data directory and binds the listening socket.
    pub fn start(config: BrokerConfig) -> Result<Server, StartError> {
        let engine = Engine::open(&config.data_dir, config.engine.clone()).map_err(StartError::Engine)?;
        let report = engine.recovery_report();
        log::info!(
            "opened {} ({} I/O, durability {}): {} partitions, {} in {:?}",
            config.data_dir.display(),
            engine.io_kind(),
            engine.config().durability,
            report.partitions.len(),
            if report.clean_shutdown { "clean shutdown" } else { "recovered" },
            report.duration
        );
        let listener = match TcpListener::bind(config.listen) {
            Ok(l) => l,
            Err(e) => {
                let _ = engine.close();
                return Err(StartError::Bind(e));
            }
        };
        let local_addr = listener.local_addr().map_err(StartError::Bind)?;
        let (host, port) = match &config.advertised {
            Some((h, p)) => (h.clone(), *p),
            None if local_addr.ip().is_unspecified() => {
                log::warn!("listening on {local_addr} without --advertise: telling clients 127.0.0.1");
                ("127.0.0.1".to_string(), local_addr.port())
            }
            None => (local_addr.ip().to_string(), local_addr.port()),
        };
        log::info!("listening on {local_addr} (advertised as {host}:{port})");
        let broker = Arc::new(Broker::new(engine, config, host, port));
        Ok(Server {
            broker,
            listener,
            local_addr,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
        })
    }

    /// The address the server listens on (with the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The broker (and through it the engine).
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Accepts connections until [`Server::shutdown`], then closes every connection, waits for
    /// their threads and closes the engine cleanly.
    pub fn run(self: &Arc<Self>) -> eoslog::Result<()> {
        for stream in self.listener.incoming() {
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the others.
                    log::warn!("accept: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
            match stream.try_clone() {
                Ok(clone) => {
                    self.connections.lock().insert(id, clone);
                }
                Err(e) => {
                    log::warn!("connection from {peer}: {e}");
                    continue;
                }
            }
            let server = Arc::clone(self);
            let spawned = std::thread::Builder::new().name(format!("conn-{id}")).spawn(move || {
                log::debug!("connection {id} from {peer}");
                if let Err(e) = serve(&server.broker, stream, server.broker.config.max_request_bytes) {
                    log::debug!("connection {id} from {peer}: {e}");
                }
                server.connections.lock().remove(&id);
                log::debug!("connection {id} closed");
            });
            match spawned {
                Ok(handle) => {
                    let mut threads = self.threads.lock();
                    threads.retain(|t| !t.is_finished());
                    threads.push(handle);
                }
                Err(e) => {
                    log::warn!("cannot start a connection thread: {e}");
                    if let Some(s) = self.connections.lock().remove(&id) {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                }
            }
        }
        log::info!("shutting down");
        self.broker.stop();
        for s in self.connections.lock().values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
        let closed = self.broker.engine().close();
        match &closed {
            Ok(()) => log::info!("engine closed cleanly"),
            Err(e) => log::error!("closing the engine: {e}"),
        }
        closed
    }

    /// Makes [`Server::run`] stop accepting, close every connection and return. Callable from
    /// any thread (a signal handler thread, a test).
    pub fn shutdown(&self) {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        self.broker.stop();
        // Wake the blocked accept with a connection of our own.
        let _ = TcpStream::connect(self.local_addr);
    }
}

/// Serves one connection until the client closes it, a frame is malformed, or shutdown.
fn serve(broker: &Broker, stream: TcpStream, max_request_bytes: usize) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let client_host = match stream.peer_addr() {
        Ok(a) => format!("/{}", a.ip()),
        Err(_) => "/unknown".to_string(),
    };
    let mut writer = stream;
    loop {
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > max_request_bytes {
            // Kafka's `socket.request.max.bytes`: refuse before allocating anything.
            log::warn!(
                "closing connection from {:?}: request of {len} bytes exceeds the limit of {max_request_bytes}",
                writer.peer_addr().ok()
            );
            return Ok(());
        }
        let len = len as usize;
        // Grow the buffer as bytes arrive, so a client announcing a large request and sending
        // nothing holds no memory.
        let mut frame = Vec::with_capacity(len.min(64 * 1024));
        (&mut reader).take(len as u64).read_to_end(&mut frame)?;
        if frame.len() != len {
            return Ok(());
        }
        match broker.handle_frame(Bytes::from(frame), &client_host) {
            Reply::Send(bytes) => writer.write_all(&bytes)?,
            Reply::Nothing => {}
            Reply::Close(why) => {
                log::warn!("closing connection from {:?}: {why}", writer.peer_addr().ok());
                return Ok(());
            }
            Reply::Drop => return Ok(()),
        }
    }
}
