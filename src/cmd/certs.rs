//! `kcompile certs`: the certificates and CAs with their expiry; `certs renew` reissues leaves.

use crate::cli::{CertsAction, CertsArgs, OutputFormat, SpecArgs};
use crate::error::{Error, ExitStatus};
use crate::pki::{self, HostScope, IssueOptions};

use super::{Purpose, commit, find_host, load, open_state, plan_pki, print, report_plan};

/// Runs `kcompile certs` and `kcompile certs renew`.
pub(crate) fn run(args: &CertsArgs) -> Result<ExitStatus, Error> {
    if let Some(CertsAction::Renew {
        names,
        new_key,
        spec,
    }) = &args.action
    {
        return renew(names, *new_key, spec);
    }
    let (certs, authorities) = if let Some(root) = &args.root {
        pki::expiry::root_rows(root).map_err(Error::RootCertificates)?
    } else {
        let loaded = load(&args.spec)?;
        let cluster = &loaded.cluster;
        let mut leaves = pki::catalog::catalog(cluster);
        if let Some(name) = &args.host {
            let host = find_host(cluster, name)?;
            leaves.retain(|leaf| match &leaf.host {
                Some(owner) => owner == name,
                None => host.has(crate::spec::Role::ControlPlane),
            });
        }
        let state = open_state(&args.spec, Purpose::Inspect)?;
        pki::expiry::state_rows(&state, &leaves)?
    };
    let now = time::OffsetDateTime::now_utc();
    match args.output {
        OutputFormat::Text => print(&pki::expiry::render(&certs, &authorities, now))?,
        OutputFormat::Json => print(&pki::expiry::render_json(&certs, &authorities, now))?,
    };
    let expiring = args.warn_within.and_then(|window| {
        let horizon = now.checked_add(time::Duration::try_from(window).ok()?)?;
        certs
            .iter()
            .chain(&authorities)
            .filter(|row| row.not_after <= horizon)
            .map(|row| row.name.as_str())
            .next()
            .map(str::to_owned)
    });
    Ok(match expiring {
        Some(first) => {
            crate::say!("{first} (and maybe more) expires within the --warn-within window");
            ExitStatus::Differences
        }
        None => ExitStatus::Success,
    })
}

fn renew(names: &[String], new_key: bool, args: &SpecArgs) -> Result<ExitStatus, Error> {
    let loaded = load(args)?;
    let cluster = &loaded.cluster;
    let leaves = pki::catalog::catalog(cluster);
    let mut ids = Vec::new();
    for name in names {
        let matching: Vec<String> = leaves
            .iter()
            .filter(|leaf| name == "all" || leaf.id == *name || leaf.file == *name)
            .map(|leaf| leaf.id.clone())
            .collect();
        if matching.is_empty() {
            let known: Vec<&str> = leaves.iter().map(|leaf| leaf.id.as_str()).collect();
            let hint = match crate::versions::closest(name, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? (`kcompile certs` lists them)"),
                None => "`kcompile certs` lists the certificates; CAs are never renewed".into(),
            };
            return Err(Error::Usage {
                message: format!("no certificate `{name}`"),
                hint,
            });
        }
        ids.extend(matching);
    }
    let mut state = open_state(args, Purpose::Change)?;
    // Only the hosts whose certificates are renewed: others may not be built yet (`build --host`).
    let hosts = leaves
        .iter()
        .filter(|leaf| ids.contains(&leaf.id))
        .filter_map(|leaf| leaf.host.clone())
        .collect();
    let options = IssueOptions {
        renew_within: std::time::Duration::ZERO,
        rotate_keys: if new_key { ids.clone() } else { Vec::new() },
        renew: ids,
        hosts: HostScope::Only(hosts),
    };
    let (pki, plan, changes) = plan_pki(&loaded, &state, &options)?;
    let unrequested: Vec<&str> = plan
        .issued
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| !options.renew.iter().any(|asked| asked == id))
        .collect();
    if !unrequested.is_empty() {
        return Err(Error::Usage {
            message: format!(
                "the state also lacks or needs {} certificate{} the renewal did not ask for ({})",
                unrequested.len(),
                if unrequested.len() == 1 { "" } else { "s" },
                unrequested.iter().take(5).copied().collect::<Vec<_>>().join(", ")
            ),
            hint: "`kcompile build` issues what the spec newly needs; renew afterwards (is this the spec the state was built from?)".into(),
        });
    }
    commit(&mut state, changes)?;
    report_plan(&state, &pki, &plan, false);
    crate::say!(
        "renewed {} certificate{}; `kcompile build` writes them into the bundles",
        plan.issued.len(),
        if plan.issued.len() == 1 { "" } else { "s" }
    );
    Ok(ExitStatus::Success)
}
