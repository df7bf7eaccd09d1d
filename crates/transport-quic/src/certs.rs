//! A cluster CA and member certificates for local clusters, as PEM files.

use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use rcgen::BasicConstraints;
use rcgen::CertificateParams;
use rcgen::DnType;
use rcgen::ExtendedKeyUsagePurpose;
use rcgen::IsCa;
use rcgen::Issuer;
use rcgen::KeyPair;
use rcgen::KeyUsagePurpose;

use crate::error::Result;
use crate::error::TransportError;

/// The longest member name accepted (it becomes a file name and a DNS name).
pub const MAX_MEMBER_NAME_BYTES: usize = 63;

/// The files [`generate_cluster_certs`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterCerts {
    /// `ca.pem`: the CA certificate, for `--peer-trusted-ca-file`.
    pub ca_cert: PathBuf,
    /// `ca-key.pem`: the CA's private key.
    pub ca_key: PathBuf,
    /// One entry per member, in the order given.
    pub members: Vec<MemberCerts>,
}

/// One member's certificate files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCerts {
    /// The member's name.
    pub name: String,
    /// `<name>.pem`, for `--peer-cert-file`.
    pub cert: PathBuf,
    /// `<name>-key.pem`, for `--peer-key-file`.
    pub key: PathBuf,
}

/// Writes a fresh CA and, for each member, a certificate it signed, valid for
/// client and server authentication on `<name>`, `localhost`, `127.0.0.1`
/// and `::1`. Creates `dir` if needed; overwrites files of the same names.
pub fn generate_cluster_certs(dir: &Path, member_names: &[&str]) -> Result<ClusterCerts> {
    for name in member_names {
        check_name(name)?;
    }
    std::fs::create_dir_all(dir)?;
    let ca_key = KeyPair::generate()?;
    let ca_params = ca_params()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca = ClusterCerts {
        ca_cert: dir.join("ca.pem"),
        ca_key: dir.join("ca-key.pem"),
        members: Vec::with_capacity(member_names.len()),
    };
    write_file(&ca.ca_cert, &ca_cert.pem(), false)?;
    write_file(&ca.ca_key, &ca_key.serialize_pem(), true)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let mut out = ca;
    for name in member_names {
        let key = KeyPair::generate()?;
        let cert = member_params(name)?.signed_by(&key, &issuer)?;
        let files = MemberCerts {
            name: (*name).to_owned(),
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        write_file(&files.cert, &cert.pem(), false)?;
        write_file(&files.key, &key.serialize_pem(), true)?;
        out.members.push(files);
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty()
        || name.len() > MAX_MEMBER_NAME_BYTES
        || !name.chars().all(ok_char)
        || name == "ca"
    {
        return Err(TransportError::InvalidConfig(format!(
            "member name {name:?}: want 1 to {MAX_MEMBER_NAME_BYTES} of [A-Za-z0-9_-], not \"ca\""
        )));
    }
    Ok(())
}

fn ca_params() -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::new())?;
    p.distinguished_name
        .push(DnType::CommonName, "keel cluster CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn member_params(name: &str) -> Result<CertificateParams> {
    let sans = vec![
        name.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let mut p = CertificateParams::new(sans)?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    Ok(p)
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_ca_and_loadable_member_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = generate_cluster_certs(dir.path(), &["m1", "m2"]).unwrap();
        assert_eq!(out.members.len(), 2);
        for m in &out.members {
            let mode = crate::config::TlsMode::Files {
                cert: m.cert.clone(),
                key: m.key.clone(),
                trusted_ca: out.ca_cert.clone(),
                client_cert_auth: true,
            };
            crate::tls::PeerTls::load(&mode).unwrap();
        }
    }

    #[test]
    fn refuses_names_that_are_not_plain() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "../x", "a/b", "ca", "sp ace"] {
            assert!(
                generate_cluster_certs(dir.path(), &[bad]).is_err(),
                "{bad:?}"
            );
        }
    }
}
