//! TLS for peer links: one ring crypto provider, mutual authentication, and
//! the quinn configurations built from them.
//!
//! Public so that tools and tests that speak the peer protocol by hand can
//! open a link exactly as a member does.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use quinn::crypto::rustls::QuicClientConfig;
use quinn::crypto::rustls::QuicServerConfig;
use rustls::DigitallySignedStruct;
use rustls::DistinguishedName;
use rustls::RootCertStore;
use rustls::SignatureScheme;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::client::danger::ServerCertVerified;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::ServerName;
use rustls::pki_types::UnixTime;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerified;
use rustls::server::danger::ClientCertVerifier;

use crate::config::TlsMode;
use crate::config::TransportConfig;
use crate::error::Result;
use crate::error::TransportError;
use crate::frame::ALPN;

/// Installs ring as the process-wide rustls provider, if none is installed.
///
/// Idempotent. Configs in this crate name their provider explicitly, so this
/// only protects other rustls users in the process (tonic, say) from the
/// "no process-level provider" panic.
pub fn install_default_provider() {
    // An error only means a provider is installed already, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A member's certificate, key and trust settings, loaded once.
#[derive(Debug)]
pub struct PeerTls {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// `None` in auto mode: peers' certificates are not verified.
    roots: Option<Arc<RootCertStore>>,
    client_cert_auth: bool,
}

impl PeerTls {
    /// Loads files, or makes a self-signed certificate in auto mode.
    pub fn load(mode: &TlsMode) -> Result<Self> {
        install_default_provider();
        match mode {
            TlsMode::Auto => {
                let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
                let ck = rcgen::generate_simple_self_signed(names)?;
                let key = PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der());
                Ok(Self {
                    certs: vec![ck.cert.der().clone()],
                    key: key.into(),
                    roots: None,
                    client_cert_auth: true,
                })
            }
            TlsMode::Files {
                cert,
                key,
                trusted_ca,
                client_cert_auth,
            } => {
                let mut roots = RootCertStore::empty();
                for ca in read_certs(trusted_ca)? {
                    roots.add(ca).map_err(|e| material(trusted_ca, e))?;
                }
                Ok(Self {
                    certs: read_certs(cert)?,
                    key: read_key(key)?,
                    roots: Some(Arc::new(roots)),
                    client_cert_auth: *client_cert_auth,
                })
            }
        }
    }

    /// The configuration for accepting peer connections.
    pub fn server_config(&self, cfg: &TransportConfig) -> Result<quinn::ServerConfig> {
        let verifier: Arc<dyn ClientCertVerifier> = match &self.roots {
            None => Arc::new(AnyCert::new()),
            Some(roots) if self.client_cert_auth => {
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                    .build()
                    .map_err(|e| TransportError::Tls(rustls::Error::General(e.to_string())))?
            }
            Some(_) => WebPkiClientVerifier::no_client_auth(),
        };
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs.clone(), self.key.clone_key())?;
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let quic = QuicServerConfig::try_from(tls)
            .map_err(|e| TransportError::Tls(rustls::Error::General(e.to_string())))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(quic));
        server.transport_config(Arc::new(quic_transport_config(cfg)?));
        Ok(server)
    }

    /// The configuration for dialing peers.
    pub fn client_config(&self, cfg: &TransportConfig) -> Result<quinn::ClientConfig> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?;
        let builder = match &self.roots {
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert::new())),
            Some(roots) => builder.with_root_certificates(roots.clone()),
        };
        let mut tls = builder.with_client_auth_cert(self.certs.clone(), self.key.clone_key())?;
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let quic = QuicClientConfig::try_from(tls)
            .map_err(|e| TransportError::Tls(rustls::Error::General(e.to_string())))?;
        let mut client = quinn::ClientConfig::new(Arc::new(quic));
        client.transport_config(Arc::new(quic_transport_config(cfg)?));
        Ok(client)
    }
}

/// Keep-alive and idle timeout follow the election timeout (see
/// [`TransportConfig::keep_alive_interval`] and [`TransportConfig::idle_timeout`]).
fn quic_transport_config(cfg: &TransportConfig) -> Result<quinn::TransportConfig> {
    let idle = quinn::IdleTimeout::try_from(cfg.idle_timeout())
        .map_err(|e| TransportError::InvalidConfig(format!("idle timeout: {e}")))?;
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(cfg.keep_alive_interval()));
    t.max_idle_timeout(Some(idle));
    Ok(t)
}

fn material(path: &Path, reason: impl fmt::Display) -> TransportError {
    TransportError::TlsMaterial {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|e| material(path, e))?;
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| material(path, e))?;
    if certs.is_empty() {
        return Err(material(path, "no certificate found"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path).map_err(|e| material(path, e))?;
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| material(path, e))?
        .ok_or_else(|| material(path, "no private key found"))
}

/// Accepts any certificate but still checks that the peer holds its key:
/// etcd's auto-TLS, where identity comes from the cluster and member ids.
#[derive(Debug)]
struct AnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyCert {
    fn new() -> Self {
        Self {
            algorithms: provider().signature_verification_algorithms,
        }
    }

    fn tls12(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(msg, cert, dss, &self.algorithms)
    }

    fn tls13(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(msg, cert, dss, &self.algorithms)
    }
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(msg, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(msg, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for AnyCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(msg, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(msg, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
