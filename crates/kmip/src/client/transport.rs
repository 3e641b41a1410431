//! One request over TLS to the hosts of a group, in order, with failover.
//!
//! A fresh TCP + TLS connection carries each request: PyKMIP (like other KMIP servers) closes
//! idle sessions without a close_notify, and a reused connection that turns out dead after
//! the request was written leaves the outcome of a Create unknowable. Key operations are rare
//! (the key cache absorbs them), so the handshake per request costs nothing that matters.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;

use crypta_keys::Timestamp;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use zeroize::Zeroizing;

use super::KmipClient;
use crate::message::{self, BatchResult, Operation};
use crate::ttlv::{self, Ttlv};
use crate::{HostAddr, HostFailure, KmipError, Step, TlsProblem, tls};

/// What the TLS session negotiated, for `check()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Negotiated {
    pub version: String,
    pub suite: String,
}

/// A host attempt failed before the request left (safe to send elsewhere) or after.
pub(crate) enum AttemptError {
    BeforeSend(HostFailure),
    AfterSend(HostFailure),
}

fn failure(host: &HostAddr, step: Step, detail: String) -> HostFailure {
    HostFailure {
        host: host.to_string(),
        step,
        timed_out: false,
        tls: None,
        detail,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl KmipClient {
    fn io_failure(&self, host: &HostAddr, step: Step, e: &io::Error) -> HostFailure {
        let mut f = failure(host, step, e.to_string());
        if is_timeout(e) {
            f.timed_out = true;
            f.detail = format!(
                "timed out after {} ms (the timeout setting)",
                self.timeout.as_millis()
            );
        } else if e.kind() == io::ErrorKind::UnexpectedEof {
            f.detail = "the server closed the connection".into();
        }
        f
    }

    fn handshake_failure(
        &self,
        host: &HostAddr,
        e: &io::Error,
        sent_certificate: bool,
    ) -> HostFailure {
        if let Some(tls_err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            let (problem, detail) = tls::explain(tls_err);
            let mut f = failure(host, Step::TlsHandshake, detail);
            f.tls = Some(problem);
            return f;
        }
        let mut f = self.io_failure(host, Step::TlsHandshake, e);
        if !f.timed_out
            && sent_certificate
            && matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            )
        {
            f.tls = Some(TlsProblem::ClientCertificateRejected { alert: None });
            f.detail = format!(
                "the server closed the connection after receiving our client certificate ({e}): it most likely does not trust it; the keystore's certificate must be signed by a CA the KMIP server trusts and have extendedKeyUsage clientAuth"
            );
        } else if f.timed_out {
            f.detail = format!(
                "{}; the server accepted the TCP connection but did not complete the handshake",
                f.detail
            );
        }
        f
    }

    /// Connects to `host` and completes the TLS handshake.
    fn connect(
        &self,
        host: &HostAddr,
        config: &Arc<ClientConfig>,
    ) -> Result<(TcpStream, ClientConnection), HostFailure> {
        let addrs: Vec<_> = (host.host.as_str(), host.port)
            .to_socket_addrs()
            .map_err(|e| failure(host, Step::Resolve, e.to_string()))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(self.io_failure(host, Step::TcpConnect, &e)),
            (None, None) => {
                return Err(failure(
                    host,
                    Step::Resolve,
                    "the name has no addresses".into(),
                ));
            }
        };
        let setup = |s: &TcpStream| -> io::Result<()> {
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            s.set_nodelay(true)
        };
        setup(&stream).map_err(|e| self.io_failure(host, Step::TcpConnect, &e))?;
        let name = ServerName::try_from(host.host.clone()).map_err(|e| {
            failure(
                host,
                Step::TlsHandshake,
                format!("{:?} cannot be a TLS server name: {e}", host.host),
            )
        })?;
        let mut conn = ClientConnection::new(config.clone(), name)
            .map_err(|e| failure(host, Step::TlsHandshake, e.to_string()))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut stream) {
                // Once the server's certificate was accepted, our own certificate flight
                // follows: a server that hangs up then is refusing our certificate.
                let sent_certificate = conn.peer_certificates().is_some();
                return Err(self.handshake_failure(host, &e, sent_certificate));
            }
        }
        Ok((stream, conn))
    }

    /// Sends `request` to `host` and reads one response message.
    pub(crate) fn attempt(
        &self,
        host: &HostAddr,
        request: &[u8],
    ) -> Result<(Ttlv, Negotiated), AttemptError> {
        let (mut sock, mut conn) = self
            .connect(host, &self.tls)
            .map_err(AttemptError::BeforeSend)?;
        let negotiated = Negotiated {
            version: conn
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            suite: conn
                .negotiated_cipher_suite()
                .map(|s| tls::suite_name(&s))
                .unwrap_or_default(),
        };
        let mut stream = rustls::Stream::new(&mut conn, &mut sock);
        let after = |f| AttemptError::AfterSend(f);
        stream
            .write_all(request)
            .and_then(|()| stream.flush())
            .map_err(|e| after(self.io_failure(host, Step::SendRequest, &e)))?;
        let mut header = [0u8; 8];
        stream
            .read_exact(&mut header)
            .map_err(|e| after(self.io_failure(host, Step::ReadResponse, &e)))?;
        let total = ttlv::message_length(&header, self.limits.max_size)
            .map_err(|e| after(failure(host, Step::DecodeResponse, e.to_string())))?;
        let mut buf = Zeroizing::new(vec![0u8; total]);
        if let Some(head) = buf.get_mut(..8) {
            head.copy_from_slice(&header);
        }
        if let Some(rest) = buf.get_mut(8..) {
            stream
                .read_exact(rest)
                .map_err(|e| after(self.io_failure(host, Step::ReadResponse, &e)))?;
        }
        let msg = ttlv::decode_with(&buf, self.limits)
            .map_err(|e| after(failure(host, Step::DecodeResponse, e.to_string())))?;
        conn.send_close_notify();
        let _ = conn.complete_io(&mut sock);
        Ok((msg, negotiated))
    }

    /// Sends one request of `items` to the hosts in order and returns the replying host and
    /// its batch items. Fails over on connection, TLS, I/O and decoding failures; never
    /// after a request that creates objects may have reached a server.
    pub(crate) fn send(
        &self,
        items: &[(Operation, Vec<Ttlv>)],
    ) -> Result<(String, Vec<BatchResult>), KmipError> {
        let op = items
            .first()
            .map_or(Operation::DiscoverVersions, |(op, _)| *op);
        let creates = items.iter().any(|(o, _)| o.creates_objects());
        let mut bytes = Zeroizing::new(Vec::with_capacity(1024));
        message::request(items, Timestamp::now()).encode_into(&mut bytes)?;
        let mut failures: Vec<HostFailure> = Vec::new();
        let order = self.host_order();
        for (n, &i) in order.iter().enumerate() {
            let Some(host) = self.hosts.get(i) else {
                continue;
            };
            let next = match order.get(n + 1).and_then(|&j| self.hosts.get(j)) {
                Some(h) => format!("trying {h} next"),
                None => "no host left to try".to_string(),
            };
            let answered = self.attempt(host, &bytes);
            self.note(i, answered.is_ok());
            match answered {
                Ok((msg, _)) => match message::parse_response(msg, items.len()) {
                    Ok(results) => return Ok((host.to_string(), results)),
                    Err(detail) if creates => {
                        return Err(KmipError::BadResponse {
                            group: self.group.clone(),
                            host: host.to_string(),
                            operation: op.name(),
                            detail,
                        });
                    }
                    Err(detail) => {
                        let f = failure(host, Step::DecodeResponse, detail);
                        log::warn!("KMIP group {}: {} {f}; {next}", self.group, op.name());
                        failures.push(f);
                    }
                },
                Err(AttemptError::AfterSend(f)) if creates => {
                    return Err(KmipError::OutcomeUnknown {
                        group: self.group.clone(),
                        host: f.host.clone(),
                        operation: op.name(),
                        detail: format!("{} failed: {}", f.step, f.detail),
                        earlier: failures,
                    });
                }
                Err(AttemptError::BeforeSend(f) | AttemptError::AfterSend(f)) => {
                    log::warn!("KMIP group {}: {} {f}; {next}", self.group, op.name());
                    failures.push(f);
                }
            }
        }
        Err(KmipError::AllHostsFailed {
            group: self.group.clone(),
            operation: op.name(),
            failures,
        })
    }

    /// The hosts' indexes in the order to try them: as listed, but those that failed in the
    /// last [`super::FAILED_HOST_LAST_FOR`] after the others (in the order listed too).
    fn host_order(&self) -> Vec<usize> {
        let failed = self
            .failed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = |i: usize| {
            failed
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|at| at.elapsed() < super::FAILED_HOST_LAST_FOR)
        };
        let (mut order, last): (Vec<usize>, Vec<usize>) =
            (0..self.hosts.len()).partition(|&i| !recent(i));
        order.extend(last);
        order
    }

    /// Records whether host `i` answered (at the transport level; a KMIP error reply is an
    /// answer) or failed.
    fn note(&self, i: usize, answered: bool) {
        let mut failed = self
            .failed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = failed.get_mut(i) {
            *slot = (!answered).then(std::time::Instant::now);
        }
    }

    /// Sends one operation and returns its response payload, or the server's error.
    pub(crate) fn call(&self, op: Operation, payload: Vec<Ttlv>) -> Result<Ttlv, KmipError> {
        self.call_at(op, payload).map(|(_, p)| p)
    }

    /// Like [`KmipClient::call`], with the host that answered.
    pub(crate) fn call_at(
        &self,
        op: Operation,
        payload: Vec<Ttlv>,
    ) -> Result<(String, Ttlv), KmipError> {
        let (host, mut results) = self.send(&[(op, payload)])?;
        let result = results.pop().ok_or_else(|| KmipError::BadResponse {
            group: self.group.clone(),
            host: host.clone(),
            operation: op.name(),
            detail: "no batch item".into(),
        })?;
        let payload = self.payload_of(op, &host, result)?;
        Ok((host, payload))
    }

    /// The payload of a successful batch item, or the error it reports.
    pub(crate) fn payload_of(
        &self,
        op: Operation,
        host: &str,
        result: BatchResult,
    ) -> Result<Ttlv, KmipError> {
        if result.status != crate::ttlv::tags::STATUS_SUCCESS {
            return Err(KmipError::Operation {
                group: self.group.clone(),
                host: host.to_string(),
                operation: op.name(),
                reason: result.reason.map(crate::ResultReason),
                message: result.message,
            });
        }
        Ok(result
            .payload
            .unwrap_or_else(|| Ttlv::structure(crate::ttlv::tags::RESPONSE_PAYLOAD, vec![])))
    }
}
