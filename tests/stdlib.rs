//! End-to-end checks of the C-library-backed stdlib (ssl, hashlib, bz2, lzma, sqlite3, decimal,
//! curses, ctypes) in pyelf binaries, in the three roots. Ignored by a plain `cargo test`;
//! `./test.sh` runs them (they need the toolchain and root).

mod common;

use common::roots::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn build(script: &Path, name: &str, extra: &[&str]) -> PathBuf {
    common::roots::build(env!("CARGO_BIN_EXE_pyelf"), script, name, extra)
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn stdlib_modules_work_in_every_root() {
    let bin = build(&repo().join("tests/e2e/stdlib.py"), "stdlib", &[]);
    for kind in ROOTS {
        let root = root_with(kind, &bin, "stdlib");
        for (how, out) in [
            ("no /proc", in_root_env(&root, "/app", "/app", &[], true, &[("TERM", "xterm")])),
            ("with /proc", in_root_with_proc(&root, "/app")),
        ] {
            let got = text(&out);
            assert!(
                out.status.success(),
                "{kind}, {how}: {:?}\n{got}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            for want in [
                "bz2 True",
                "lzma True",
                "gzip True",
                "tarfile True",
                "sha3_256 3a985da74fe225b2",
                "pbkdf2 ",
                "openssl algorithms True",
                "decimal 1.414213562373095048801688724209698078570",
                "sqlite3 3 3.53.4",
                "ssl ['OpenSSL', '3.5.7']",
                "ctypes 8 b'pyelf'",
                "ctypes CDLL 5",
                "ctypes CDLL OSError",
            ] {
                assert!(got.contains(want), "{kind}, {how}: no {want:?} in\n{got}");
            }
            // Alpine and Debian ship a terminfo database (Debian's xterm entry in /lib/terminfo);
            // an empty root has none and says so.
            match kind {
                "empty" => assert!(got.contains("curses error"), "{kind}: {got}"),
                _ => assert!(got.contains("curses setupterm ok True"), "{kind}: {got}"),
            }
        }
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn test_py_carries_only_the_c_libraries_its_imports_reach() {
    // Every import of every embedded module is followed (OpenSSL comes in through the stdlib's
    // own function-level imports), but a C library that nothing reachable imports stays out.
    let test_py = build(&repo().join("test.py"), "test-small", &[]);
    let stdlib = build(&repo().join("tests/e2e/stdlib.py"), "stdlib-size", &[]);
    let small = std::fs::read(&test_py).unwrap();
    let big = std::fs::read(&stdlib).unwrap();
    eprintln!("test.py binary {} bytes; stdlib.py binary {} bytes", small.len(), big.len());
    let has_sqlite = |b: &[u8]| b.windows(15).any(|w| w == b"SQLite format 3");
    assert!(!has_sqlite(&small), "test.py's binary must not link SQLite");
    assert!(has_sqlite(&big), "stdlib.py uses sqlite3");
    assert!(big.len() > small.len() + 1_000_000, "SQLite is in the bigger one only");
}

/// A CA, a server certificate for localhost signed by it, and an HTTPS server on 127.0.0.1.
struct TlsServer {
    child: Child,
    url: String,
    ca_pem: String,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server; it is killed when the value is dropped (also when a test panics).
fn tls_server() -> TlsServer {
    {
        let dir = tmp().join("tls");
        std::fs::create_dir_all(&dir).unwrap();
        make_test_ca(&dir);
        let server = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello over tls"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain("server.pem", "server.key")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;
        let mut child =
            Command::new("python3").arg("-c").arg(server).current_dir(&dir).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().parse().expect("server port");
        let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
        TlsServer { child, url: format!("https://127.0.0.1:{port}/"), ca_pem }
    }
}

fn fetch_in(root: &Path, url: &str) -> (i32, String) {
    let out = in_root(root, "/app", "/app", &[url], true);
    (out.status.code().unwrap_or(-1), format!("{}{}", text(&out), String::from_utf8_lossy(&out.stderr)))
}

fn add_ca(root: &Path, path: &str, pem: &str, append: bool) {
    let file = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut content = if append { std::fs::read_to_string(&file).unwrap_or_default() } else { String::new() };
    content.push_str(pem);
    std::fs::write(file, content).unwrap();
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn https_verifies_against_the_hosts_trust_store_wherever_it_is() {
    let server = tls_server();
    let (url, ca) = (server.url.clone(), server.ca_pem.clone());
    let client = build(&repo().join("tests/e2e/tls_client.py"), "tls-client", &[]);

    let prepare = |kind: &str, name: &str| root_with(kind, &client, name);

    let root = prepare("alpine", "tls-alpine-none");
    let (code, out) = fetch_in(&root, &url);
    assert_eq!(code, 3, "alpine without the test CA must fail verification: {out}");
    assert!(out.contains("verify-failed"), "{out}");

    let root = prepare("alpine", "tls-alpine");
    add_ca(&root, "/etc/ssl/certs/ca-certificates.crt", &ca, true);
    let (code, out) = fetch_in(&root, &url);
    assert_eq!((code, out.trim()), (0, "ok hello over tls"), "alpine bundle");

    let root = prepare("debian", "tls-debian");
    add_ca(&root, "/etc/ssl/certs/ca-certificates.crt", &ca, false);
    let (code, out) = fetch_in(&root, &url);
    assert_eq!((code, out.trim()), (0, "ok hello over tls"), "debian bundle");

    for path in [
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/ca-bundle.pem",
    ] {
        let root = prepare("empty", &format!("tls-{}", path.replace('/', "_")));
        add_ca(&root, path, &ca, false);
        let (code, out) = fetch_in(&root, &url);
        assert_eq!((code, out.trim()), (0, "ok hello over tls"), "{path}");
    }

    let root = prepare("empty", "tls-empty");
    let (code, out) = fetch_in(&root, &url);
    assert_eq!(code, 3, "an empty root has no trust store: {out}");
    assert!(out.contains("verify-failed"), "{out}");

    // Built with the CA embedded: works in the empty root.
    let ca_file = tmp().join("tls/ca.pem");
    let embedded =
        build(&repo().join("tests/e2e/tls_client.py"), "tls-embedded", &["--ca-bundle", ca_file.to_str().unwrap()]);
    let root = root_with("empty", &embedded, "tls-embedded");
    let (code, out) = fetch_in(&root, &url);
    assert_eq!((code, out.trim()), (0, "ok hello over tls"), "embedded bundle in the empty root");
    // ... but where the host has a store, the host's is used (and it lacks the test CA).
    let root = root_with("alpine", &embedded, "tls-embedded-alpine");
    let (code, out) = fetch_in(&root, &url);
    assert_eq!(code, 3, "host store preferred over the embedded one: {out}");
}
