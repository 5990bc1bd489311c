//! `kcompile token`: creates or lists the bootstrap tokens.

use crate::cli::{TokenAction, TokenArgs};
use crate::error::{Error, ExitStatus};
use crate::pki;

use super::{Purpose, commit, open_state, print};

/// Runs `kcompile token`.
pub(crate) fn run(args: &TokenArgs) -> Result<ExitStatus, Error> {
    use pki::tokens;
    let now = time::OffsetDateTime::now_utc();
    match &args.action {
        TokenAction::List { spec } => {
            let state = open_state(spec, Purpose::Inspect)?;
            let listed = tokens::list(&state)?;
            print(&tokens::list_text(&listed, now))
        }
        TokenAction::Create { ttl, spec } => {
            let mut state = open_state(spec, Purpose::Change)?;
            let mut transaction = state.begin();
            let token = tokens::create(&mut transaction, *ttl, now)?;
            let changes = transaction.finish();
            commit(&mut state, changes)?;
            crate::say!(
                "bootstrap token {} created, expires {}",
                token.id(),
                token.expiration_text().as_deref().unwrap_or("never")
            );
            crate::say!(
                "next: `kcompile build --all --out DIR` puts it in the first control plane's addons/bootstrap.yaml \
                 and the workers' bootstrap-kubelet.conf; apply bootstrap.yaml \
                 (`kubectl apply -f /etc/kubernetes/addons/bootstrap.yaml`), then start the new workers"
            );
            Ok(ExitStatus::Success)
        }
    }
}
