//! A CA, a server certificate and client certificates, and the keystores and truststores the
//! HCD docs build from them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, err};

/// The password of every store the harness makes.
pub const STORE_PASSWORD: &str = "cassandra";

/// A client certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct ClientFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// The private key (PEM, unencrypted PKCS#8).
    pub key: PathBuf,
}

/// A throwaway PKI in a temporary directory.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The CA key.
    pub ca_key: PathBuf,
    /// The server certificate (ECDSA P-256, SAN localhost and 127.0.0.1).
    pub server_cert: PathBuf,
    /// The server key.
    pub server_key: PathBuf,
    /// The client certificate and key (RSA 2048, extendedKeyUsage clientAuth).
    pub client: ClientFiles,
}

fn run(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| {
        err(format!(
            "cannot run {what} ({:?}): {e}; install it (apt-get install openssl default-jdk-headless)",
            cmd.get_program()
        ))
    })?;
    if !out.status.success() {
        return Err(err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn openssl(what: &str, args: &[&str], dir: &Path) -> Result<()> {
    run(what, Command::new("openssl").args(args).current_dir(dir))
}

fn keytool(what: &str, args: &[&str], dir: &Path) -> Result<()> {
    run(what, Command::new("keytool").args(args).current_dir(dir))
}

impl Pki {
    /// Makes a CA, a server certificate signed by it (ECDSA P-256: PyKMIP offers rustls only
    /// ECDHE-ECDSA suites) and a client certificate (RSA, clientAuth, CN `crypta-node`).
    pub fn new() -> Result<Pki> {
        Self::with_dir(tempfile::tempdir().map_err(|e| err(format!("temp dir: {e}")))?)
    }

    /// Like [`Pki::new`], in a fresh directory under `parent` (e.g. an integration test's
    /// `CARGO_TARGET_TMPDIR`, for a PKI held in a `static` that is never dropped).
    pub fn new_in(parent: impl AsRef<Path>) -> Result<Pki> {
        let parent = parent.as_ref();
        std::fs::create_dir_all(parent)
            .map_err(|e| err(format!("creating {}: {e}", parent.display())))?;
        Self::with_dir(
            tempfile::Builder::new()
                .prefix("pki-")
                .tempdir_in(parent)
                .map_err(|e| err(format!("temp dir in {}: {e}", parent.display())))?,
        )
    }

    fn with_dir(dir: tempfile::TempDir) -> Result<Pki> {
        let d = dir.path().to_path_buf();
        make_ca(&d, "ca", "crypta test CA")?;
        std::fs::write(
            d.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .map_err(|e| err(format!("writing server.ext: {e}")))?;
        openssl(
            "openssl req (server key)",
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            &d,
        )?;
        sign(&d, "server", "ca", "server.ext")?;
        let client = make_client(&d, "client", "ca", "crypta-node", "rsa:2048")?;
        Ok(Pki {
            ca_cert: d.join("ca.pem"),
            ca_key: d.join("ca.key"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            client,
            dir,
        })
    }

    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A second client certificate signed by the same CA (ECDSA, another CN).
    pub fn another_client(&self, name: &str) -> Result<ClientFiles> {
        make_client(self.dir(), name, "ca", name, "ec")
    }

    /// A client certificate signed by a CA the server does not trust.
    pub fn untrusted_client(&self) -> Result<ClientFiles> {
        let d = self.dir();
        if !d.join("rogue-ca.pem").exists() {
            make_ca(d, "rogue-ca", "rogue CA")?;
        }
        make_client(d, "rogue-client", "rogue-ca", "crypta-node", "ec")
    }

    /// A CA certificate (PEM) that did not sign the server's certificate.
    pub fn unrelated_ca(&self) -> Result<PathBuf> {
        let d = self.dir();
        if !d.join("other-ca.pem").exists() {
            make_ca(d, "other-ca", "some other CA")?;
        }
        Ok(d.join("other-ca.pem"))
    }

    /// The node's stores as the HCD docs make them, `(keystore, truststore)`: the client
    /// certificate and key exported with `openssl pkcs12 -export` ([`Pki::keystore_p12`]),
    /// and the CA imported with `keytool -import` into a `.jks` name ([`Pki::truststore_keytool`]).
    pub fn hcd_stores(&self) -> Result<(PathBuf, PathBuf)> {
        Ok((
            self.keystore_p12(&self.client, "kmip_keystore")?,
            self.truststore_keytool(&self.ca_cert, "kmip_truststore", false)?,
        ))
    }

    /// The HCD docs' keystore step 1: `openssl pkcs12 -export` of the client certificate and
    /// key into `NAME.p12` (PKCS#12, password [`STORE_PASSWORD`]).
    pub fn keystore_p12(&self, client: &ClientFiles, name: &str) -> Result<PathBuf> {
        let out = self.dir().join(format!("{name}.p12"));
        openssl(
            "openssl pkcs12 -export",
            &[
                "pkcs12",
                "-export",
                "-in",
                path(&client.cert)?,
                "-inkey",
                path(&client.key)?,
                "-certfile",
                path(&self.ca_cert)?,
                "-name",
                "kmipclient",
                "-out",
                path(&out)?,
                "-passout",
                &format!("pass:{STORE_PASSWORD}"),
            ],
            self.dir(),
        )?;
        Ok(out)
    }

    /// The HCD docs' keystore step 2: `keytool -importkeystore` of the PKCS#12 file into
    /// `NAME.jks`. Java 9+ writes PKCS#12 despite the name, unless `real_jks` asks for
    /// `-deststoretype jks`.
    pub fn keystore_jks(
        &self,
        client: &ClientFiles,
        name: &str,
        real_jks: bool,
    ) -> Result<PathBuf> {
        let p12 = self.keystore_p12(client, &format!("{name}-src"))?;
        let out = self.dir().join(format!("{name}.jks"));
        let mut args = vec![
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            path(&p12)?,
            "-srcstoretype",
            "PKCS12",
            "-srcstorepass",
            STORE_PASSWORD,
            "-destkeystore",
            path(&out)?,
            "-deststorepass",
            STORE_PASSWORD,
        ];
        if real_jks {
            args.extend(["-deststoretype", "jks", "-destkeypass", STORE_PASSWORD]);
        }
        keytool("keytool -importkeystore", &args, self.dir())?;
        Ok(out)
    }

    /// The HCD docs' truststore: `keytool -import -alias kmipCA -file ca.pem` into
    /// `NAME.jks` (PKCS#12 inside, unless `real_jks` adds `-storetype jks`).
    pub fn truststore_keytool(&self, ca: &Path, name: &str, real_jks: bool) -> Result<PathBuf> {
        let out = self.dir().join(format!("{name}.jks"));
        let mut args = vec![
            "-import",
            "-noprompt",
            "-alias",
            "kmipCA",
            "-file",
            path(ca)?,
            "-keystore",
            path(&out)?,
            "-storepass",
            STORE_PASSWORD,
        ];
        if real_jks {
            args.extend(["-storetype", "jks"]);
        }
        keytool("keytool -import", &args, self.dir())?;
        Ok(out)
    }

    /// A truststore made by `openssl pkcs12 -export -nokeys` of the CA certificate.
    pub fn truststore_p12_openssl(&self, ca: &Path, name: &str) -> Result<PathBuf> {
        let out = self.dir().join(format!("{name}.p12"));
        openssl(
            "openssl pkcs12 -export -nokeys",
            &[
                "pkcs12",
                "-export",
                "-nokeys",
                "-in",
                path(ca)?,
                "-out",
                path(&out)?,
                "-passout",
                &format!("pass:{STORE_PASSWORD}"),
            ],
            self.dir(),
        )?;
        Ok(out)
    }

    /// A PEM keystore: the client certificate followed by its key, in one file.
    pub fn keystore_pem(&self, client: &ClientFiles, name: &str) -> Result<PathBuf> {
        let out = self.dir().join(format!("{name}.pem"));
        let mut text = std::fs::read_to_string(&client.cert).map_err(|e| err(e.to_string()))?;
        text.push_str(&std::fs::read_to_string(&client.key).map_err(|e| err(e.to_string()))?);
        // Written aside and renamed, so that tests running in parallel that ask for the same
        // file never read it half-written.
        let mut tmp =
            tempfile::NamedTempFile::new_in(self.dir()).map_err(|e| err(e.to_string()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| err(e.to_string()))?;
        tmp.persist(&out).map_err(|e| err(e.to_string()))?;
        Ok(out)
    }
}

fn path(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| err(format!("{} is not UTF-8", p.display())))
}

fn make_ca(d: &Path, name: &str, cn: &str) -> Result<()> {
    openssl(
        "openssl req -x509 (CA)",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "30",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        d,
    )
}

fn sign(d: &Path, name: &str, ca: &str, ext: &str) -> Result<()> {
    openssl(
        "openssl x509 -req",
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "30",
            "-extfile",
            ext,
        ],
        d,
    )
}

fn make_client(d: &Path, name: &str, ca: &str, cn: &str, key: &str) -> Result<ClientFiles> {
    let ext = format!("{name}.ext");
    std::fs::write(
        d.join(&ext),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .map_err(|e| err(format!("writing {ext}: {e}")))?;
    let mut args = vec!["req", "-new", "-newkey", key];
    if key == "ec" {
        args.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
    }
    let keyfile = format!("{name}.key");
    let csr = format!("{name}.csr");
    let subj = format!("/CN={cn}");
    args.extend(["-nodes", "-keyout", &keyfile, "-out", &csr, "-subj", &subj]);
    openssl("openssl req (client key)", &args, d)?;
    sign(d, name, ca, &ext)?;
    Ok(ClientFiles {
        cert: d.join(format!("{name}.pem")),
        key: d.join(keyfile),
    })
}
