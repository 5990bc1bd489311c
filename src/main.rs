//! The `kcompile` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(kcompile::run())
}
