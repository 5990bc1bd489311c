//! Bootstrap tokens: the credential a TLS-bootstrapping kubelet joins with. The state holds one
//! current token at `secrets/bootstrap-token`, with the moment it expires fixed when it was made
//! (kubeadm's default TTL, 24 hours), so rendering needs no clock: the expiry goes into the token
//! Secret's `expiration` key as it was recorded. `kcompile token create` retires the current token
//! (kept under `retired/`, like every replaced secret) and makes a fresh one for a later join.
//!
//! The file holds the token on its first line and, when it expires, `expiration: <RFC 3339>` on the
//! second. A token recorded by an earlier kcompile has only the first line: it never expires, and
//! keeps working as it did until `kcompile token create` replaces it.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::PkiError;
use super::secrets::token_chars;
use crate::state::{State, Transaction};

/// Where the current token lives in the state dir.
pub const PATH: &str = "secrets/bootstrap-token";

/// kubeadm's default token TTL (`constants.DefaultTokenDuration`, 24 hours).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The key before the expiry on the file's second line (the token Secret's key).
const EXPIRATION: &str = "expiration: ";

/// How long a new token is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// It expires this long after it is made.
    For(Duration),
    /// It never expires (`--ttl 0`, as kubeadm).
    Never,
}

impl Ttl {
    /// Parses `--ttl`: a duration (`24h`, `30m`, `7d`, `1h30m`), or `0` for a token that never
    /// expires.
    pub fn parse(text: &str) -> Result<Ttl, TtlError> {
        if text.trim() == "0" {
            return Ok(Ttl::Never);
        }
        match crate::duration::parse_duration(text) {
            Some(duration) if duration.is_zero() => Ok(Ttl::Never),
            Some(duration) if duration <= crate::duration::MAX_DURATION => Ok(Ttl::For(duration)),
            Some(_) => Err(TtlError::TooLong),
            None => Err(TtlError::NotADuration),
        }
    }
}

/// Why a `--ttl` is refused; its text is the hint clap shows after the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlError {
    /// Longer than [`crate::duration::MAX_DURATION`].
    TooLong,
    /// Not a duration kcompile reads.
    NotADuration,
}

impl fmt::Display for TtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TtlError::TooLong => "at most 100 years (`36500d`)",
            TtlError::NotADuration => {
                "write hours, minutes, seconds or days (`24h`, `30m`, `7d`), or `0` for a token that never expires"
            }
        })
    }
}

impl std::error::Error for TtlError {}

/// A bootstrap token `<id>.<secret>` and when it expires. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    id: String,
    secret: String,
    expiration: Option<OffsetDateTime>,
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BootstrapToken({}, expires {})",
            self.id,
            self.expiration_text().as_deref().unwrap_or("never")
        )
    }
}

impl BootstrapToken {
    /// Parses the state file; says why it is not a usable token if it is not.
    pub fn parse(text: &str) -> Result<BootstrapToken, &'static str> {
        let mut lines = text.trim_end().lines();
        let token = lines.next().unwrap_or("");
        let lower_alnum = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        let (id, secret) = match token.split_once('.') {
            Some((id, secret))
                if id.len() == 6
                    && secret.len() == 16
                    && lower_alnum(id)
                    && lower_alnum(secret) =>
            {
                (id, secret)
            }
            _ => return Err("is not a bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`)"),
        };
        let expiration = match lines.next() {
            None => None,
            Some(line) => {
                let stamp = line
                    .strip_prefix(EXPIRATION)
                    .ok_or("has a second line that is not `expiration: <RFC 3339 time>`")?;
                let parsed = OffsetDateTime::parse(stamp, &Rfc3339)
                    .map_err(|_| "has an expiration that is not an RFC 3339 time")?;
                Some(parsed)
            }
        };
        if lines.next().is_some() {
            return Err("has more than a token and its expiration");
        }
        Ok(BootstrapToken {
            id: id.to_owned(),
            secret: secret.to_owned(),
            expiration,
        })
    }

    /// A new random token, expiring `ttl` after `now`.
    pub fn generate(ttl: Ttl, now: OffsetDateTime) -> Result<BootstrapToken, PkiError> {
        let expiration = match ttl {
            Ttl::Never => None,
            Ttl::For(duration) => {
                let duration =
                    time::Duration::try_from(duration).map_err(|_| PkiError::TokenTtl)?;
                let at = now
                    .replace_nanosecond(0)
                    .ok()
                    .and_then(|now| now.checked_add(duration))
                    .ok_or(PkiError::TokenTtl)?;
                Some(at)
            }
        };
        Ok(BootstrapToken {
            id: token_chars(6)?,
            secret: token_chars(16)?,
            expiration,
        })
    }

    /// The token id: public (it names the token's Secret, `bootstrap-token-<id>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret half of the token.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `<id>.<secret>`, the bearer token a kubelet presents.
    pub fn bearer(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// When it expires, as RFC 3339 (UTC, seconds); `None` for a token that never expires.
    pub fn expiration_text(&self) -> Option<String> {
        self.expiration
            .and_then(|at| at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok())
    }

    /// Whether it has expired at `now` (never, for a token without an expiry).
    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.expiration.is_some_and(|at| at <= now)
    }

    /// The state file's text.
    fn state_text(&self) -> String {
        match self.expiration_text() {
            Some(at) => format!("{}\n{EXPIRATION}{at}\n", self.bearer()),
            None => format!("{}\n", self.bearer()),
        }
    }
}

/// The current token, read from `state` (refused if damaged), or a new one staged with the
/// default TTL when the state has none yet.
pub fn current_or_create(state: &mut Transaction<'_>) -> Result<BootstrapToken, PkiError> {
    if let Some(text) = state.read_text(PATH)? {
        return BootstrapToken::parse(&text).map_err(damaged);
    }
    let token = BootstrapToken::generate(Ttl::For(DEFAULT_TTL), OffsetDateTime::now_utc())?;
    state.write(PATH, token.state_text(), 0o600);
    Ok(token)
}

/// Stages a fresh token expiring `ttl` after `now`, retiring the current one (kept under
/// `retired/`); returns the new token.
pub fn create(
    state: &mut Transaction<'_>,
    ttl: Ttl,
    now: OffsetDateTime,
) -> Result<BootstrapToken, PkiError> {
    if let Some(text) = state.read_text(PATH)? {
        BootstrapToken::parse(&text).map_err(damaged)?;
        state.retire(PATH)?;
    }
    let token = BootstrapToken::generate(ttl, now)?;
    state.write(PATH, token.state_text(), 0o600);
    Ok(token)
}

/// One token of `kcompile token list`.
#[derive(Debug)]
pub struct Listed {
    /// The token (its secret is never shown).
    pub token: BootstrapToken,
    /// Whether builds use it (the newest); the others were retired by `token create`.
    pub current: bool,
}

/// Every token the state holds: the current one, then those retired, newest first.
pub fn list(state: &State) -> Result<Vec<Listed>, PkiError> {
    let mut listed = Vec::new();
    if let Some(text) = state.read_text(PATH)? {
        let token = BootstrapToken::parse(&text).map_err(damaged)?;
        listed.push(Listed {
            token,
            current: true,
        });
    }
    for retired in state.inventory().retired_copies(PATH).into_iter().rev() {
        let Some(text) = state.read_text(retired)? else {
            continue;
        };
        let token =
            BootstrapToken::parse(&text).map_err(|problem| PkiError::DamagedRetiredToken {
                path: retired.to_owned(),
                problem,
            })?;
        listed.push(Listed {
            token,
            current: false,
        });
    }
    Ok(listed)
}

/// `kcompile token list`: one line per token, newest first; never a secret.
pub fn list_text(listed: &[Listed], now: OffsetDateTime) -> String {
    if listed.is_empty() {
        return "no bootstrap token yet: the first build makes one\n".to_owned();
    }
    let mut text = String::from("ID      EXPIRES               STATE\n");
    for entry in listed {
        let expires = entry
            .token
            .expiration_text()
            .unwrap_or_else(|| "never".to_owned());
        let mut state = if entry.current {
            "current: builds put it in bootstrap.yaml and bootstrap-kubelet.conf"
        } else {
            "retired"
        }
        .to_owned();
        if entry.token.expired_at(now) {
            state.push_str(" (expired)");
        }
        text.push_str(&format!("{:<7} {expires:<21} {state}\n", entry.token.id()));
    }
    text
}

fn damaged(problem: &'static str) -> PkiError {
    PkiError::DamagedSecret {
        path: PATH.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn a_token_made_with_a_ttl_records_its_expiry_and_reads_back_the_same() {
        let token =
            BootstrapToken::generate(Ttl::For(DEFAULT_TTL), at("2026-11-30T06:55:20.5Z")).unwrap();
        assert_eq!(
            token.expiration_text().as_deref(),
            Some("2026-12-01T06:55:20Z")
        );
        let text = token.state_text();
        assert!(
            text.ends_with("\nexpiration: 2026-12-01T06:55:20Z\n"),
            "{text}"
        );
        assert_eq!(BootstrapToken::parse(&text).unwrap(), token);
        assert!(!token.expired_at(at("2026-12-01T06:55:19Z")));
        assert!(token.expired_at(at("2026-12-01T06:55:20Z")));
        let debug = format!("{token:?}");
        assert!(!debug.contains(token.secret()), "{debug}");
    }

    #[test]
    fn a_token_from_an_earlier_kcompile_never_expires() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef\n").unwrap();
        assert_eq!(token.expiration_text(), None);
        assert!(!token.expired_at(at("2100-01-01T00:00:00Z")));
        assert_eq!(token.state_text(), "abcdef.0123456789abcdef\n");
        assert_eq!(token.bearer(), "abcdef.0123456789abcdef");
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        for (text, reason) in [
            ("ABCDEF.0123456789abcdef", "is not a bootstrap token"),
            ("abcdef.0123456789abcdef\nexpires 2026", "second line"),
            ("abcdef.0123456789abcdef\nexpiration: tomorrow", "RFC 3339"),
            (
                "abcdef.0123456789abcdef\nexpiration: 2026-12-01T06:55:20Z\nx",
                "more than",
            ),
        ] {
            let problem = BootstrapToken::parse(text).unwrap_err();
            assert!(problem.contains(reason), "{text}: {problem}");
        }
    }

    #[test]
    fn the_list_shows_ids_expiries_and_states_never_a_secret() {
        let current =
            BootstrapToken::generate(Ttl::For(DEFAULT_TTL), at("2026-11-30T00:00:00Z")).unwrap();
        let retired = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let text = list_text(
            &[
                Listed {
                    token: current.clone(),
                    current: true,
                },
                Listed {
                    token: retired,
                    current: false,
                },
            ],
            at("2026-12-02T00:00:00Z"),
        );
        assert_eq!(
            text,
            format!(
                "ID      EXPIRES               STATE\n\
                 {}  2026-12-01T00:00:00Z  current: builds put it in bootstrap.yaml and bootstrap-kubelet.conf (expired)\n\
                 abcdef  never                 retired\n",
                current.id()
            )
        );
        assert!(!text.contains(current.secret()));
        assert_eq!(
            list_text(&[], at("2026-12-02T00:00:00Z")),
            "no bootstrap token yet: the first build makes one\n"
        );
    }

    #[test]
    fn create_retires_the_current_token_and_list_shows_both() {
        let temp = tempfile::tempdir().unwrap();
        let (mut state, _) = State::open_or_create(temp.path()).unwrap();
        let mut transaction = state.begin();
        let first = current_or_create(&mut transaction).unwrap();
        let changes = transaction.finish();
        state.commit(changes).unwrap();
        let mut transaction = state.begin();
        let second = create(&mut transaction, Ttl::Never, OffsetDateTime::now_utc()).unwrap();
        let changes = transaction.finish();
        state.commit(changes).unwrap();
        assert_ne!(first.id(), second.id());
        let listed = list(&state).unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[0].current && listed[0].token == second);
        assert!(!listed[1].current && listed[1].token == first);
        assert_eq!(current_or_create(&mut state.begin()).unwrap(), second);
    }
}
