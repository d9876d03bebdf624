//! `broadcast`: N members online, K of them broadcast; every message goes
//! to the N - 1 others. The server must have no other users online, or
//! they would receive the broadcasts too (the run reports it if the server
//! counts other recipients).

use std::time::{Duration, Instant};

use anyhow::bail;
use chinwag_client::{Client, ClientError};
use serde_json::json;

use super::{Env, FlowArgs, flow_report, merge};
use crate::fleet;
use crate::flow::{Flow, Route, Sender};
use crate::report::{Report, ServerProbe};

#[derive(Clone, Debug, clap::Args)]
pub struct BroadcastArgs {
    /// Members online (senders included)
    #[arg(long, short = 'n', default_value_t = 100)]
    pub members: usize,
    /// How many of the members broadcast
    #[arg(long, short = 'k', default_value_t = 4)]
    pub senders: usize,
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// Most members, within the 20,000 file limit.
const MAX_MEMBERS: usize = 19_000;

/// A BROADCAST to everyone else online.
struct Everyone;

impl Route for Everyone {
    async fn send(&self, client: &Client, text: &str) -> Result<u32, ClientError> {
        client.broadcast(text).await.map(|sent| sent.recipients)
    }
}

/// Waits (briefly) until our members are the only users online: users
/// of an earlier run may still be on their way out, and anyone else online
/// would receive the broadcasts too.
async fn wait_until_alone(client: &Client, members: usize) -> anyhow::Result<()> {
    let mut online = 0;
    for _ in 0..100 {
        online = client.users().await?.len();
        if online == members {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "{} other users are online; the broadcast workload needs the server to itself",
        online.saturating_sub(members)
    )
}

pub async fn run(args: &BroadcastArgs, env: &Env) -> anyhow::Result<Report> {
    if args.members < 2 || args.members > MAX_MEMBERS {
        bail!("--members must be 2..={MAX_MEMBERS}");
    }
    if args.senders == 0 || args.senders > args.members {
        bail!("--senders must be 1..=--members");
    }
    let deadline = Instant::now() + env.timeout;
    let members = fleet::open(&env.fleet(deadline, 1024), args.members, |i| {
        env.name("m", i)
    })
    .await
    .all()?;
    let max_content = members[0].client.welcome().max_content as usize;
    args.flow.check(args.senders, max_content)?;

    let fanout = u32::try_from(args.members - 1)?;
    let mut senders = Vec::with_capacity(args.senders);
    let mut events = Vec::with_capacity(args.members);
    for (i, member) in members.into_iter().enumerate() {
        if i < args.senders {
            senders.push(Sender {
                client: member.client,
                route: Everyone,
                fanout,
            });
        }
        events.push(member.events);
    }

    let flow = Flow::prepare(senders, events, args.flow.plan(deadline)).await;
    if let Some(client) = flow.sender_client(0) {
        tokio::time::timeout_at(deadline.into(), wait_until_alone(client, args.members))
            .await
            .map_err(|_| anyhow::anyhow!("--timeout passed while checking who is online"))??;
    }
    let probe = ServerProbe::start(env.server_pid)?;
    let result = flow.run().await;
    let server = probe.map(ServerProbe::finish).transpose()?;

    let params = merge(
        json!({ "members": args.members, "senders": args.senders }),
        args.flow.params(),
    );
    let headline = format!(
        "{} members, {} senders, {}",
        args.members,
        args.senders,
        args.flow.describe()
    );
    Ok(flow_report(
        "broadcast",
        env,
        params,
        headline,
        result,
        server,
    ))
}
