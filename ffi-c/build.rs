//! Gives `libeoslog.so` the exact version as its SONAME (`libeoslog.so.MAJOR.MINOR.PATCH`), as
//! rustls-ffi does: the C ABI is not stable between versions, so a program built against one
//! version refuses to load another instead of misbehaving. `make install` installs the library
//! under that name with a `libeoslog.so` symlink for the linker.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libeoslog.so.{version}");
    }
}
