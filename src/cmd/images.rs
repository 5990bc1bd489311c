//! `kcompile images`: the container images each host pulls.

use crate::cli::{ImagesArgs, OutputFormat};
use crate::cluster::Host;
use crate::error::{Error, ExitStatus};

use super::{find_host, load, print};

/// Runs `kcompile images`.
pub(crate) fn run(args: &ImagesArgs) -> Result<ExitStatus, Error> {
    let loaded = load(&args.spec)?;
    let cluster = &loaded.cluster;
    let hosts: Vec<&Host> = match &args.host {
        Some(name) => vec![find_host(cluster, name)?],
        None => cluster.hosts.iter().collect(),
    };
    print(&match args.output {
        OutputFormat::Text => crate::images::render_text(cluster, hosts),
        OutputFormat::Json => crate::images::render_json(cluster, hosts),
    })
}
