//! Listeners that misbehave: a port nobody listens on, and one that accepts and never answers.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{Result, err};

/// A loopback port with nothing listening on it (connections are refused).
pub fn refused_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| err(format!("binding a port: {e}")))?;
    let port = l.local_addr().map_err(|e| err(e.to_string()))?.port();
    drop(l);
    Ok(port)
}

/// A loopback listener that accepts connections and never sends a byte: a hung server.
#[derive(Debug)]
pub struct HangingListener {
    port: u16,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HangingListener {
    /// Binds `127.0.0.1:0` and starts accepting.
    pub fn start() -> Result<HangingListener> {
        let l =
            TcpListener::bind("127.0.0.1:0").map_err(|e| err(format!("binding a port: {e}")))?;
        let port = l.local_addr().map_err(|e| err(e.to_string()))?.port();
        l.set_nonblocking(true).map_err(|e| err(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        held.push(s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(HangingListener {
            port,
            accepted,
            stop,
            thread: Some(thread),
        })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as a `hosts` entry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for HangingListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback TLS server (the PKI's server certificate, no client authentication) that
/// completes handshakes, reads what it is sent, and never answers: a server that received a
/// request and then hung or died.
#[derive(Debug)]
pub struct SilentTlsServer {
    port: u16,
    stop: Arc<AtomicBool>,
    received: Arc<std::sync::atomic::AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl SilentTlsServer {
    /// Binds `127.0.0.1:0` and serves with `pki`'s server certificate.
    pub fn start(pki: &crate::Pki) -> Result<SilentTlsServer> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(&pki.server_cert)
            .map_err(|e| err(e.to_string()))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| err(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_file(&pki.server_key).map_err(|e| err(e.to_string()))?;
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| err(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| err(e.to_string()))?,
        );
        let l =
            TcpListener::bind("127.0.0.1:0").map_err(|e| err(format!("binding a port: {e}")))?;
        let port = l.local_addr().map_err(|e| err(e.to_string()))?.port();
        l.set_nonblocking(true).map_err(|e| err(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (flag, count) = (stop.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            let mut conns: Vec<(TcpStream, rustls::ServerConnection)> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Ok((s, _)) = l.accept()
                    && s.set_nonblocking(true).is_ok()
                    && let Ok(c) = rustls::ServerConnection::new(config.clone())
                {
                    conns.push((s, c));
                }
                for (s, c) in &mut conns {
                    let _ = c.complete_io(s);
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = std::io::Read::read(&mut c.reader(), &mut buf) {
                        if n == 0 {
                            break;
                        }
                        count.fetch_add(n, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Ok(SilentTlsServer {
            port,
            stop,
            received,
            thread: Some(thread),
        })
    }

    /// `127.0.0.1:PORT`, as a `hosts` entry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Plaintext bytes received so far (requests that reached it).
    pub fn received(&self) -> usize {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for SilentTlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
