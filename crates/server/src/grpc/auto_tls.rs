//! `--auto-tls`: a self-signed certificate for `https://` client URLs given
//! no `--cert-file`, as etcd makes one (clients then skip verification, e.g.
//! `etcdctl --insecure-skip-tls-verify`).

use std::path::Path;
use std::path::PathBuf;

use super::serve::ServeError;

/// The certificate and key written under `dir` (`<data-dir>/fixtures/client`,
/// etcd's place), valid for `hosts`; files already there are reused.
pub fn self_signed_client_cert(
    dir: &Path,
    hosts: &[String],
) -> Result<(PathBuf, PathBuf), ServeError> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    let failed =
        |what: &str, e: &dyn std::fmt::Display| ServeError::Tls(format!("--auto-tls: {what}: {e}"));
    let mut names = vec!["localhost".to_owned()];
    for host in hosts {
        if !names.contains(host) {
            names.push(host.clone());
        }
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| failed("cannot make a certificate", &e))?;
    std::fs::create_dir_all(dir).map_err(|e| failed(&dir.display().to_string(), &e))?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())
        .map_err(|e| failed(&key.display().to_string(), &e))?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| failed(&cert.display().to_string(), &e))?;
    tracing::info!(cert = %cert.display(), "--auto-tls: made a self-signed client certificate");
    Ok((cert, key))
}

/// Writes a key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_loadable_pair_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("fixtures/client");
        let (cert, key) = self_signed_client_cert(&at, &["127.0.0.1".into()]).unwrap();
        let pem = std::fs::read(&cert).unwrap();
        assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----"));
        let key_pem = std::fs::read(&key).unwrap();
        tonic::transport::Identity::from_pem(&pem, &key_pem);
        let again = self_signed_client_cert(&at, &[]).unwrap();
        assert_eq!(again, (cert.clone(), key));
        assert_eq!(
            std::fs::read(&cert).unwrap(),
            pem,
            "the pair is reused, not remade"
        );
    }
}
