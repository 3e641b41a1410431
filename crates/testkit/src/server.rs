//! Real `pykmip-server` processes on loopback ports.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::{Pki, Result, err};

/// How long a server may take to accept TLS after it was started.
const STARTUP: Duration = Duration::from_secs(60);

/// Where `pykmip-server` is: `$CRYPTA_PYKMIP_SERVER`, else `<workspace>/.venv/bin/pykmip-server`.
pub fn pykmip_server_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("CRYPTA_PYKMIP_SERVER") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(err(format!(
            "CRYPTA_PYKMIP_SERVER={} is not a file: run scripts/test-all, which installs PyKMIP 0.11.0 into .venv",
            p.display()
        )));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = workspace.join(".venv/bin/pykmip-server");
    if p.is_file() {
        return Ok(p);
    }
    Err(err(format!(
        "pykmip-server not found: CRYPTA_PYKMIP_SERVER is unset and {} does not exist; run the tests with scripts/test-all (it installs PyKMIP 0.11.0 into .venv), or `python3 -m venv .venv && .venv/bin/pip install pykmip==0.11.0`",
        p.display()
    )))
}

/// A running `pykmip-server` with TLS client authentication on `127.0.0.1:port`.
///
/// It runs in a session of its own under a small `sh` supervisor that kills the whole process
/// group (the server forks helpers and ignores SIGTERM) when [`KmipServer::stop`] or `Drop`
/// runs, or when the test process dies and the supervisor's stdin closes.
#[derive(Debug)]
pub struct KmipServer {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    port: u16,
    dir: PathBuf,
    database: PathBuf,
    log: PathBuf,
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| err(format!("binding a port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| err(e.to_string()))
}

impl KmipServer {
    /// Starts a server with a database of its own.
    pub fn start(pki: &Pki) -> Result<KmipServer> {
        let dir = tempfile::Builder::new()
            .prefix("pykmip-")
            .tempdir_in(pki.dir())
            .map_err(|e| err(e.to_string()))?
            .keep();
        let db = dir.join("pykmip.db");
        Self::start_with(pki, dir, db)
    }

    /// Starts a second server on the same database as `other`: a replicated pair.
    pub fn start_sharing(pki: &Pki, other: &KmipServer) -> Result<KmipServer> {
        let dir = tempfile::Builder::new()
            .prefix("pykmip-")
            .tempdir_in(pki.dir())
            .map_err(|e| err(e.to_string()))?
            .keep();
        Self::start_with(pki, dir, other.database.clone())
    }

    fn start_with(pki: &Pki, dir: PathBuf, database: PathBuf) -> Result<KmipServer> {
        let exe = pykmip_server_path()?;
        let mut last = None;
        for _ in 0..3 {
            let port = free_port()?;
            match Self::spawn(pki, &exe, &dir, &database, port) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| err("pykmip-server did not start")))
    }

    fn spawn(pki: &Pki, exe: &Path, dir: &Path, database: &Path, port: u16) -> Result<KmipServer> {
        let policies = dir.join("policies");
        std::fs::create_dir_all(&policies).map_err(|e| err(e.to_string()))?;
        let conf = dir.join(format!("server-{port}.conf"));
        let log = dir.join(format!("server-{port}.log"));
        let s = |p: &Path| p.display().to_string();
        std::fs::write(
            &conf,
            format!(
                "[server]\nhostname=127.0.0.1\nport={port}\ncertificate_path={}\nkey_path={}\nca_path={}\nauth_suite=TLS1.2\npolicy_path={}\nenable_tls_client_auth=True\ndatabase_path={}\nlogging_level=INFO\n",
                s(&pki.server_cert),
                s(&pki.server_key),
                s(&pki.ca_cert),
                s(&policies),
                s(database),
            ),
        )
        .map_err(|e| err(e.to_string()))?;
        // The supervisor: start the server in the background, wait for stdin to close (our
        // Drop, or this process dying), then kill the whole process group.
        let script = r#""$0" -f "$1" -l "$2" >"$2.out" 2>&1 &
read -r _
kill -9 0"#;
        let mut child = Command::new("setsid")
            .arg("sh")
            .arg("-c")
            .arg(script)
            .arg(exe)
            .arg(&conf)
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("cannot start setsid/sh for {}: {e}", exe.display())))?;
        let stdin = child.stdin.take();
        let mut server = KmipServer {
            child: Some(child),
            stdin,
            port,
            dir: dir.to_path_buf(),
            database: database.to_path_buf(),
            log,
        };
        server.wait_ready(pki)?;
        Ok(server)
    }

    fn wait_ready(&mut self, pki: &Pki) -> Result<()> {
        let config = client_config(pki)?;
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(err(format!(
                    "pykmip-server exited ({status}) before accepting connections on port {}:\n{}",
                    self.port,
                    self.log_tail()
                )));
            }
            if tls_handshake(&config, self.port).is_ok() {
                return Ok(());
            }
            if start.elapsed() > STARTUP {
                let tail = self.log_tail();
                self.stop();
                return Err(err(format!(
                    "pykmip-server did not accept TLS on 127.0.0.1:{} within {STARTUP:?}:\n{tail}",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as a `hosts` entry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its sqlite database.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// Its working directory (config, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last lines of its log and output, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for p in [self.log.clone(), self.log.with_extension("log.out")] {
            if let Ok(f) = std::fs::File::open(&p) {
                let lines: Vec<String> = BufReader::new(f).lines().map_while(|l| l.ok()).collect();
                let from = lines.len().saturating_sub(30);
                out.push_str(&format!("--- {}\n", p.display()));
                for l in lines.iter().skip(from) {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Kills the server and its helpers (the whole process group). Idempotent.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-9", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            // Wait until the port is free, so that tests see a refused connection.
            let start = Instant::now();
            while TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Whether it is running (not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for KmipServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn client_config(pki: &Pki) -> Result<Arc<rustls::ClientConfig>> {
    let ca = CertificateDer::from_pem_file(&pki.ca_cert).map_err(|e| err(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).map_err(|e| err(e.to_string()))?;
    let chain = CertificateDer::pem_file_iter(&pki.client.cert)
        .map_err(|e| err(e.to_string()))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&pki.client.key).map_err(|e| err(e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| err(e.to_string()))?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .map_err(|e| err(e.to_string()))?;
    Ok(Arc::new(config))
}

fn tls_handshake(config: &Arc<rustls::ClientConfig>, port: u16) -> Result<()> {
    let mut sock =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))
            .map_err(|e| err(e.to_string()))?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| err(e.to_string()))?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| err(e.to_string()))?;
    let mut conn =
        rustls::ClientConnection::new(config.clone(), name).map_err(|e| err(e.to_string()))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| err(e.to_string()))?;
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    Ok(())
}
