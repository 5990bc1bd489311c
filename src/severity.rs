//! How bad a finding about the user's input is: an error stops the command, a warning is shown
//! and the command goes on. Shared by spec diagnostics (`validate`, `build`) and `verify`'s
//! findings. `preflight` keeps its own three-level `preflight::Severity`: it also reports checks
//! that passed (`ok`), orders them the other way (`ok` < `warning` < `error`, worst last) and
//! names them in its `-o json` output.

/// Error or warning. Errors sort before warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The input cannot be used as it is: the spec does not compile, the host will not work as
    /// configured (or is unsafe). The command fails.
    Error,
    /// The input works, but probably not as the user meant, or is worth a look. The command goes
    /// on.
    Warning,
}
