//! The fetcher against a real HTTP server on 127.0.0.1 and real directories.

mod common;

use common::{demo_pins, files_under, sha256, Server};
use pyelf::home::Home;
use pyelf::toolchain::fetch::{Fetcher, Mirror, Origin};
use std::fs;

struct Setup {
    _tmp: tempfile::TempDir,
    home: Home,
    served: std::path::PathBuf,
    mirror_dir: std::path::PathBuf,
    server: Server,
    body: Vec<u8>,
    sha: String,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    fs::create_dir_all(served.join("files")).unwrap();
    fs::create_dir_all(served.join("mirror")).unwrap();
    let mirror_dir = tmp.path().join("mirror");
    fs::create_dir_all(&served).unwrap();
    fs::create_dir_all(&mirror_dir).unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = sha256(&body);
    let server = Server::start(&served);
    Setup { home: Home::at(tmp.path().join("home")), served, mirror_dir, server, body, sha, _tmp: tmp }
}

fn cache_files(s: &Setup) -> Vec<std::path::PathBuf> {
    files_under(&s.home.sources())
}

#[test]
fn download_is_verified_cached_and_not_repeated() {
    let s = setup();
    fs::write(s.served.join("files/demo-1.0.tar.gz"), &s.body).unwrap();
    let pins = demo_pins(&s.sha, &[format!("{}/files/demo-1.0.tar.gz", s.server.base)]);
    let fetcher = Fetcher::new(&s.home, vec![]);
    let got = fetcher.fetch(&pins.sources[0]).unwrap();
    assert!(matches!(got.origin, Origin::Upstream(_)), "{:?}", got.origin);
    assert_eq!(fs::read(&got.path).unwrap(), s.body);
    assert_eq!(got.path, s.home.sources().join(&s.sha));
    assert_eq!(s.server.requests().len(), 1);

    let again = fetcher.fetch(&pins.sources[0]).unwrap();
    assert_eq!(again.origin, Origin::Cache);
    assert_eq!(s.server.requests().len(), 1, "a cached source is not downloaded again");
    assert_eq!(cache_files(&s), vec![s.home.sources().join(&s.sha)]);
}

#[test]
fn tampered_download_is_refused_and_not_cached() {
    let s = setup();
    let mut bad = s.body.clone();
    bad[1000] ^= 1;
    fs::write(s.served.join("files/demo-1.0.tar.gz"), &bad).unwrap();
    let pins = demo_pins(&s.sha, &[format!("{}/files/demo-1.0.tar.gz", s.server.base)]);
    let err = Fetcher::new(&s.home, vec![]).fetch(&pins.sources[0]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("checksum mismatch"), "{msg}");
    assert!(msg.contains(&s.sha), "names the expected digest: {msg}");
    assert!(msg.contains(&sha256(&bad)), "names the actual digest: {msg}");
    assert!(msg.contains("demo-1.0.tar.gz"), "names where it came from: {msg}");
    assert!(cache_files(&s).is_empty(), "nothing cached: {:?}", cache_files(&s));
}

#[test]
fn short_download_is_retried_once_and_never_cached() {
    let s = setup();
    fs::write(s.served.join("files/demo-1.0.tar.gz"), &s.body).unwrap();
    let pins = demo_pins(&s.sha, &[format!("{}/short/files/demo-1.0.tar.gz", s.server.base)]);
    let err = Fetcher::new(&s.home, vec![]).fetch(&pins.sources[0]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("could not get demo 1.0"), "{msg}");
    assert!(msg.contains("PYELF_MIRROR"), "says how to use a mirror: {msg}");
    assert_eq!(s.server.requests().len(), 2, "one retry: {:?}", s.server.requests());
    assert!(cache_files(&s).is_empty(), "nothing cached: {:?}", cache_files(&s));
}

#[test]
fn order_is_cache_directory_mirror_url_mirror_then_upstream() {
    let s = setup();
    fs::write(s.served.join("files/demo-1.0.tar.gz"), &s.body).unwrap();
    let upstream = format!("{}/files/demo-1.0.tar.gz", s.server.base);
    let pins = demo_pins(&s.sha, std::slice::from_ref(&upstream));
    let pin = &pins.sources[0];
    let mirrors = vec![Mirror::Dir(s.mirror_dir.clone()), Mirror::Url(format!("{}/mirror", s.server.base))];

    // Only upstream has it: the directory is empty and the URL mirror answers 404.
    let got = Fetcher::new(&s.home, mirrors.clone()).fetch(pin).unwrap();
    assert_eq!(got.origin, Origin::Upstream(upstream.clone()));
    assert_eq!(
        s.server.requests(),
        vec!["/mirror/demo-1.0.tar.gz".to_string(), "/files/demo-1.0.tar.gz".to_string()],
        "the URL mirror is asked before upstream"
    );

    // The URL mirror has it: upstream is not asked.
    fs::remove_file(&got.path).unwrap();
    fs::write(s.served.join("mirror/demo-1.0.tar.gz"), &s.body).unwrap();
    let got = Fetcher::new(&s.home, mirrors.clone()).fetch(pin).unwrap();
    assert_eq!(got.origin, Origin::Mirror(format!("{}/mirror/demo-1.0.tar.gz", s.server.base)));
    assert_eq!(s.server.requests().len(), 3);

    // The directory mirror has it: no request at all.
    fs::remove_file(&got.path).unwrap();
    fs::write(s.mirror_dir.join("demo-1.0.tar.gz"), &s.body).unwrap();
    let got = Fetcher::new(&s.home, mirrors.clone()).fetch(pin).unwrap();
    assert_eq!(got.origin, Origin::Mirror(s.mirror_dir.join("demo-1.0.tar.gz").display().to_string()));
    assert_eq!(s.server.requests().len(), 3);

    // The cache has it: nothing else is touched.
    fs::remove_file(s.mirror_dir.join("demo-1.0.tar.gz")).unwrap();
    let got = Fetcher::new(&s.home, mirrors).fetch(pin).unwrap();
    assert_eq!(got.origin, Origin::Cache);
    assert_eq!(s.server.requests().len(), 3);
}

#[test]
fn directory_mirror_finds_a_file_by_digest_under_another_name() {
    let s = setup();
    fs::write(s.mirror_dir.join("unrelated.txt"), b"hello").unwrap();
    fs::write(s.mirror_dir.join("demo_1.0.orig.tar.gz"), &s.body).unwrap();
    let pins = demo_pins(&s.sha, &["https://example.invalid/demo-1.0.tar.gz".to_string()]);
    let got = Fetcher::new(&s.home, vec![Mirror::Dir(s.mirror_dir.clone())])
        .without_upstream()
        .fetch(&pins.sources[0])
        .unwrap();
    assert_eq!(got.origin, Origin::Mirror(s.mirror_dir.join("demo_1.0.orig.tar.gz").display().to_string()));
    assert_eq!(fs::read(got.path).unwrap(), s.body);
}

#[test]
fn file_changed_in_the_cache_is_detected_deleted_and_fetched_again() {
    let s = setup();
    fs::write(s.mirror_dir.join("demo-1.0.tar.gz"), &s.body).unwrap();
    let pins = demo_pins(&s.sha, &["https://example.invalid/demo-1.0.tar.gz".to_string()]);
    let fetcher = Fetcher::new(&s.home, vec![Mirror::Dir(s.mirror_dir.clone())]).without_upstream();
    let got = fetcher.fetch(&pins.sources[0]).unwrap();
    let mut bytes = fs::read(&got.path).unwrap();
    bytes[5] ^= 0x40;
    fs::write(&got.path, bytes).unwrap();
    let again = fetcher.fetch(&pins.sources[0]).unwrap();
    assert!(matches!(again.origin, Origin::Mirror(_)), "{:?}", again.origin);
    assert_eq!(fs::read(again.path).unwrap(), s.body);
}

#[test]
fn mirror_list_parses_directories_and_urls() {
    let m = Mirror::parse_list("/srv/a, http://h:8/x/ ,,https://h/y");
    assert_eq!(
        m,
        vec![Mirror::Dir("/srv/a".into()), Mirror::Url("http://h:8/x".into()), Mirror::Url("https://h/y".into())]
    );
}
