//! `scripts/install-lavapipe` finds the machine's Debian mirror in whichever apt layout the
//! machine has. A machine with only deb822 `.sources` files (no `sources.list`, as Debian 12
//! images ship) used to end the script under `set -e -o pipefail` before it added
//! bookworm-backports, so it kept Mesa 22.3 and exited with status 2.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn apt_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-apt-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(d.join("sources.list.d")).unwrap();
    d
}

/// The script's `--print-mirror` on an apt directory: (exit status, stdout).
fn mirror(apt: &Path) -> (i32, String) {
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-lavapipe"))
        .arg("--print-mirror")
        .env("TIDAL_APT_DIR", apt)
        .output()
        .expect("bash runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
    )
}

#[test]
fn mirror_from_deb822_sources_without_a_sources_list() {
    let d = apt_dir("deb822");
    fs::write(
        d.join("sources.list.d/debian.sources"),
        "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm bookworm-updates\n\
         Components: main\n\nTypes: deb\nURIs: http://mirror.example.org/debian-security\n\
         Suites: bookworm-security\nComponents: main\n",
    )
    .unwrap();
    assert_eq!(mirror(&d), (0, "http://mirror.example.org/debian".into()));
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn mirror_from_a_one_line_sources_list() {
    let d = apt_dir("list");
    fs::write(
        d.join("sources.list"),
        "deb http://security.example.org/debian-security bookworm-security main\n\
         deb http://mirror.example.org/debian bookworm main\n",
    )
    .unwrap();
    assert_eq!(mirror(&d), (0, "http://mirror.example.org/debian".into()));
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn no_sources_at_all_is_an_empty_answer_not_a_failure() {
    let d = apt_dir("none");
    assert_eq!(mirror(&d), (0, String::new()));
    fs::remove_dir_all(&d).unwrap();
}
