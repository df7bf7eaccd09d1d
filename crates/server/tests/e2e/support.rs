//! Shared helpers of the end-to-end tests: free loopback ports, a real
//! `keel` process (and a real etcd 3.4 as the oracle), readiness polling,
//! tiny HTTP/1.1 requests and `etcdctl` runs.

#![allow(dead_code)]

use std::io::Read;
use std::io::Write;
use std::net::TcpListener;
use std::net::TcpStream;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::Output;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

/// How long a process may take to become ready (generous: CI machines are slow).
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A loopback port free for both TCP and UDP right now.
pub(crate) fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running server process, killed on drop.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub(crate) client_url: String,
    /// `127.0.0.1:<port>` of the client listener.
    pub(crate) client_addr: String,
    /// The data directory (removed on drop).
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a single-member keel with `extra` flags and waits until it serves.
    pub(crate) fn keel(extra: &[&str]) -> Server {
        Self::start(env!("CARGO_BIN_EXE_keel"), "member", extra, &[])
    }

    /// Starts a single-member keel that also serves clients on each of
    /// `more_client_urls` (readiness is checked on its plain HTTP URL).
    pub(crate) fn keel_also_on(more_client_urls: &[&str], extra: &[&str]) -> Server {
        Self::start(
            env!("CARGO_BIN_EXE_keel"),
            "member",
            extra,
            more_client_urls,
        )
    }

    /// Starts a single-member etcd 3.4 (Debian's `etcd`) and waits until it serves.
    pub(crate) fn etcd(extra: &[&str]) -> Server {
        Self::start("etcd", "etcd", extra, &[])
    }

    fn start(program: &str, data_name: &str, extra: &[&str], more_urls: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let client_port = free_port();
        let peer_port = free_port();
        let client_url = format!("http://127.0.0.1:{client_port}");
        let listen_urls = std::iter::once(client_url.as_str())
            .chain(more_urls.iter().copied())
            .collect::<Vec<_>>()
            .join(",");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let data_dir = dir.path().join(data_name);
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(program)
            .arg("--name")
            .arg("default")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen-client-urls")
            .arg(&listen_urls)
            .arg("--advertise-client-urls")
            .arg(&listen_urls)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("default={peer_url}"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut server = Server {
            child,
            client_addr: format!("127.0.0.1:{client_port}"),
            client_url,
            dir,
        };
        server.wait_ready();
        server
    }

    /// Polls `/health` until it answers 200, panicking with the log on timeout.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited with {status} before ready:\n{}", self.log());
            }
            if let Ok((200, _)) = http_get(&self.client_addr, "/health") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server not ready within {READY_TIMEOUT:?}:\n{}", self.log());
    }

    /// The server's output so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// An etcd-client connected to this server.
    pub(crate) async fn client(&self) -> etcd_client::Client {
        etcd_client::Client::connect([self.client_url.as_str()], None)
            .await
            .unwrap()
    }

    /// Runs `ETCDCTL_API=3 etcdctl --endpoints <this> args...` with `stdin`.
    pub(crate) fn etcdctl(&self, args: &[&str], stdin: &str) -> Output {
        etcdctl(&self.client_url, args, stdin)
    }
}

/// Runs the real `etcdctl` (v3 API) against `endpoint`.
pub(crate) fn etcdctl(endpoint: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(endpoint)
        .arg("--dial-timeout=10s")
        .arg("--command-timeout=20s")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub(crate) fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_request(addr, "GET", path, "")
}

/// A plain HTTP/1.1 request with a text body; returns the status code and the body.
pub(crate) fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {head}")))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((code, body))
}

/// Joins the chunks of a chunked HTTP/1.1 body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// True when `path` names a program on `PATH`.
pub(crate) fn have_program(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|p| Path::new(&p).join(name).is_file())
    })
}

/// Runs `f` on a fresh multi-threaded runtime (each test owns its runtime).
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
