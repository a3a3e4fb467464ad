//! `include/eoslog.h` is generated from this crate's source by the pinned cbindgen; this test
//! regenerates it in memory and fails when the checked-in copy differs. `make header` (which
//! runs this test with `EOSLOG_WRITE_HEADER=1`) writes it.

use std::path::{Path, PathBuf};

fn header_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/eoslog.h")
}

/// The version macros, from this crate's `Cargo.toml`. The combined number is written out as
/// a literal and checked against the parts below, so a typo in the composition cannot hide
/// (rustls-ffi once shifted MINOR twice in its composed macro).
fn version_macros() -> String {
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
    let patch: u32 = env!("CARGO_PKG_VERSION_PATCH").parse().unwrap();
    assert!(minor < 1000 && patch < 1000, "the combined version number needs MINOR, PATCH < 1000");
    format!(
        "/** The version of this header: major. */\n\
         #define EOSLOG_VERSION_MAJOR {major}\n\
         /** The version of this header: minor. */\n\
         #define EOSLOG_VERSION_MINOR {minor}\n\
         /** The version of this header: patch. */\n\
         #define EOSLOG_VERSION_PATCH {patch}\n\
         /** The version as a string (`eoslog_version()` returns the library's). */\n\
         #define EOSLOG_VERSION_STRING \"{major}.{minor}.{patch}\"\n\
         /** MAJOR * 1000000 + MINOR * 1000 + PATCH (`eoslog_version_number()` returns the library's). */\n\
         #define EOSLOG_VERSION_NUMBER {}\n",
        major * 1_000_000 + minor * 1_000 + patch
    )
}

const INTRODUCTION: &str = include_str!("../header-intro.h");

fn generate() -> String {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let mut config = cbindgen::Config::from_file(Path::new(crate_dir).join("cbindgen.toml"))
        .expect("ffi-c/cbindgen.toml parses");
    config.header = Some(INTRODUCTION.trim_end().to_string());
    config.after_includes = Some(format!("\n{}", version_macros()));
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn checked_in_header_is_up_to_date() {
    let generated = generate();
    let path = header_path();
    if std::env::var_os("EOSLOG_WRITE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/eoslog.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let first = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "include/eoslog.h is stale (first difference at line {}). Regenerate it with `make header` \
             (EOSLOG_WRITE_HEADER=1 cargo test -p eoslog-ffi --test header -- \
             checked_in_header_is_up_to_date) and commit it.",
            first + 1
        );
    }
}

/// The version macros in the checked-in header match `Cargo.toml`, each part and the composed
/// number (parsed back out of the header text, not recomputed from the same template).
#[test]
fn version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(header_path()).expect("include/eoslog.h exists");
    let define = |name: &str| -> String {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} is not defined in eoslog.h"))
            .trim()
            .to_string()
    };
    let num =
        |name: &str| -> u64 { define(name).parse().unwrap_or_else(|_| panic!("{name} is not a number")) };
    let (major, minor, patch) =
        (num("EOSLOG_VERSION_MAJOR"), num("EOSLOG_VERSION_MINOR"), num("EOSLOG_VERSION_PATCH"));
    assert_eq!(major.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(minor.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(patch.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
    assert_eq!(num("EOSLOG_VERSION_NUMBER"), major * 1_000_000 + minor * 1_000 + patch);
    assert_eq!(define("EOSLOG_VERSION_STRING"), format!("\"{}\"", env!("CARGO_PKG_VERSION")));
}

/// Every exported function and type in the header carries documentation.
#[test]
fn every_declaration_is_documented() {
    let header = std::fs::read_to_string(header_path()).expect("include/eoslog.h exists");
    let lines: Vec<&str> = header.lines().collect();
    let mut undocumented = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        // Declarations start at column 0: functions (`... eoslog_x(`), types and enums.
        let starts_declaration = line.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        let declares = starts_declaration
            && line.contains("eoslog_")
            && (line.contains('(') || line.starts_with("typedef") || line.starts_with("enum"));
        // A declaration right after a preprocessor line is the tail of one already documented
        // (cbindgen's `#ifndef __cplusplus` typedef of an enum).
        let documented = i > 0 && (lines[i - 1].trim_end().ends_with("*/") || lines[i - 1].starts_with('#'));
        if declares && !documented {
            undocumented.push(line.to_string());
        }
    }
    assert!(undocumented.is_empty(), "undocumented declarations in eoslog.h: {undocumented:#?}");
}
