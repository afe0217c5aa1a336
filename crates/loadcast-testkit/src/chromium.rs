//! Headless Chromium for tests that must see a page as a browser renders it: its DOM after
//! the page's scripts ran, and a screenshot. Run with the flags this workplace needs (no
//! sandbox as root, no background networking) and a profile of the test's own.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Chromium binary; a test that needs it fails loudly when it is missing.
pub fn binary() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("Chromium is not installed: apt-get install chromium (scripts/test.sh does)")
}

/// The flags of a headless run with its own profile directory.
pub fn headless(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// The DOM of a local page after its scripts ran, and Chromium's log (stderr).
pub fn dump_dom(page: &Path, profile: &Path) -> (String, String) {
    let url = format!("file://{}", page.display());
    let out = Command::new(binary())
        .args(headless(profile))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom", &url])
        .output()
        .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "Chromium failed on {url}: {log}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), log)
}
