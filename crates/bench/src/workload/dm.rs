//! `dm`: P sender/receiver pairs; each sender sends direct messages to its
//! own receiver.

use std::time::Instant;

use anyhow::bail;
use chinwag_client::{Client, ClientError};
use serde_json::json;

use super::{Env, FlowArgs, flow_report, merge};
use crate::fleet;
use crate::flow::{Flow, Route, Sender};
use crate::report::{Report, ServerProbe};

#[derive(Clone, Debug, clap::Args)]
pub struct DmArgs {
    /// Sender/receiver pairs
    #[arg(long, short = 'p', default_value_t = 100)]
    pub pairs: usize,
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// Most pairs: two connections each, within the 20,000 file limit.
const MAX_PAIRS: usize = 9_500;

/// A TRANSFER to one user.
struct Direct {
    to: String,
}

impl Route for Direct {
    async fn send(&self, client: &Client, text: &str) -> Result<u32, ClientError> {
        client
            .send(&self.to, text)
            .await
            .map(|sent| sent.recipients)
    }
}

pub async fn run(args: &DmArgs, env: &Env) -> anyhow::Result<Report> {
    if args.pairs == 0 || args.pairs > MAX_PAIRS {
        bail!("--pairs must be 1..={MAX_PAIRS}");
    }
    let deadline = Instant::now() + env.timeout;
    let spec = env.fleet(deadline, 1024);
    // In a cluster, receiver i is on the node after sender i's.
    let receivers = fleet::open(&spec.shifted(), args.pairs, |i| env.name("r", i))
        .await
        .all()?;
    let senders = fleet::open(&spec, args.pairs, |i| env.name("s", i))
        .await
        .all()?;
    let max_content = senders[0].client.welcome().max_content as usize;
    args.flow.check(args.pairs, max_content)?;

    let receiver_names: Vec<String> = (0..args.pairs).map(|i| env.name("r", i)).collect();
    // The senders receive nothing; dropping their events lets the client
    // discard the set-up phase's join notices.
    let senders = senders
        .into_iter()
        .zip(receiver_names)
        .map(|(member, to)| Sender {
            client: member.client,
            route: Direct { to },
            fanout: 1,
        })
        .collect();
    let events = receivers.into_iter().map(|m| m.events).collect();

    let flow = Flow::prepare(senders, events, args.flow.plan(deadline)).await;
    let probe = ServerProbe::start(env.server_pid)?;
    let result = flow.run().await;
    let server = probe.map(ServerProbe::finish).transpose()?;

    let params = merge(json!({ "pairs": args.pairs }), args.flow.params());
    let headline = format!("{} pairs, {}", args.pairs, args.flow.describe());
    Ok(flow_report("dm", env, params, headline, result, server))
}
