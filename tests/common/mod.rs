//! Test helpers: a tiny HTTP server on 127.0.0.1 serving a directory, and pins for test files.
#![allow(dead_code)]

pub mod roots;

use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Serves the file `root/PATH` at `/PATH`; `/short/PATH` announces the full length of `root/PATH`
/// but sends half of it and closes the connection; `/slow/PATH` sends the first 64 KiB of
/// `root/PATH` and then waits a minute before the rest. Every requested path is logged.
pub struct Server {
    pub base: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (root, log2) = (root.to_path_buf(), log.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (root, log) = (root.clone(), log2.clone());
                std::thread::spawn(move || serve(conn, &root, &log));
            }
        });
        Server { base, log }
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(mut conn: TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    log.lock().unwrap().push(path.clone());
    let rel = path.trim_start_matches('/');
    let (short, rel) = match rel.strip_prefix("short/") {
        Some(rest) => (true, rest),
        None => (false, rel),
    };
    let (slow, rel) = match rel.strip_prefix("slow/") {
        Some(rest) => (true, rest),
        None => (false, rel),
    };
    let file = root.join(rel);
    match std::fs::read(&file) {
        Ok(body) if !rel.is_empty() && !rel.contains("..") => {
            let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let send = if short { &body[..body.len() / 2] } else { &body[..] };
            if slow {
                let head = send.len().min(64 * 1024);
                let _ = conn.write_all(&send[..head]);
                let _ = conn.flush();
                std::thread::sleep(std::time::Duration::from_secs(60));
                let _ = conn.write_all(&send[head..]);
            } else {
                let _ = conn.write_all(send);
            }
        }
        _ => {
            let _ = write!(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    }
    let _ = conn.flush();
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `sources.toml` with one source `demo` 1.0 whose upstream archive has `sha`, fetched from `urls`.
pub fn demo_pins(sha: &str, urls: &[String]) -> pyelf::toolchain::pins::Pins {
    let urls: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    let toml = format!(
        "[[source]]\nname = \"demo\"\nversion = \"1.0\"\nlicense = \"MIT\"\nurls = [{}]\nsha256 = \"{sha}\"\nformat = \"tar.gz\"\ntop_dir = \"demo-1.0\"\n",
        urls.join(", ")
    );
    pyelf::toolchain::pins::Pins::parse(&toml, []).unwrap()
}

/// Every file under `dir`, recursively, relative to it.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
