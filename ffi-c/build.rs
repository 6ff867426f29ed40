//! Gives the shared library a SONAME, so a C host links against the ABI
//! (`libordu.so.1`) rather than the unversioned development name, and the
//! installed `libordu.so` symlink can move to a later, compatible build.

/// The C ABI's major version: bump it when an export changes incompatibly.
/// `make -C ffi-c install` reads the SONAME back from the built library.
const ABI_MAJOR: &str = "1";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // ELF platforms only: Apple's linker uses install names, Windows DLLs neither.
    if !matches!(os.as_str(), "macos" | "ios" | "windows" | "") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libordu.so.{ABI_MAJOR}");
    }
}
