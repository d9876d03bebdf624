//! `room`: N members in one room, K of them send to it (ROOM_SEND); every
//! message goes to the N - 1 other members. Unlike `broadcast`, other users
//! on the server do not receive anything, so the run measures the room's
//! fan-out alone.

use std::time::Instant;

use anyhow::{Context, bail};
use chinwag_client::{Client, ClientError};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use super::{Env, FlowArgs, flow_report, merge};
use crate::fleet;
use crate::flow::{Flow, Route, Sender};
use crate::report::{Report, ServerProbe};

#[derive(Clone, Debug, clap::Args)]
pub struct RoomArgs {
    /// Members of the room, all online (senders included)
    #[arg(long, short = 'n', default_value_t = 100)]
    pub members: usize,
    /// How many of the members send to the room
    #[arg(long, short = 'k', default_value_t = 4)]
    pub senders: usize,
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// Most members, within the 20,000 file limit.
const MAX_MEMBERS: usize = 19_000;

/// JOINs in flight at once while the room fills.
const JOIN_CONCURRENCY: usize = 64;

/// A ROOM_SEND to the benchmark's room.
struct ToRoom(String);

impl Route for ToRoom {
    async fn send(&self, client: &Client, text: &str) -> Result<u32, ClientError> {
        client.say(&self.0, text).await.map(|sent| sent.recipients)
    }
}

pub async fn run(args: &RoomArgs, env: &Env) -> anyhow::Result<Report> {
    if args.members < 2 || args.members > MAX_MEMBERS {
        bail!("--members must be 2..={MAX_MEMBERS}");
    }
    if args.senders == 0 || args.senders > args.members {
        bail!("--senders must be 1..=--members");
    }
    let deadline = Instant::now() + env.timeout;
    // Nobody reads events until the flow starts, and until then each
    // member is told of up to `presence_limit` (1,000 by default) users
    // coming online and as many joining the room. A member whose event
    // buffer fills stops reading its socket, and then its JOIN reply never
    // arrives: the buffer holds both with room to spare.
    let members = fleet::open(&env.fleet(deadline, 4096), args.members, |i| {
        env.name("m", i)
    })
    .await
    .all()?;
    let max_content = members[0].client.welcome().max_content as usize;
    args.flow.check(args.senders, max_content)?;

    // A room of this run alone: the prefix keeps runs and processes apart.
    let room = format!("#{}r{}", env.prefix, env.run);
    let joining = Instant::now();
    futures::stream::iter(members.iter().map(|m| m.client.clone()))
        .map(|client| {
            let room = room.clone();
            async move { client.join(&room, None).await }
        })
        .buffer_unordered(JOIN_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await
        .with_context(|| format!("joining {room}"))?;
    let join_secs = joining.elapsed().as_secs_f64();

    let fanout = u32::try_from(args.members - 1)?;
    let mut senders = Vec::with_capacity(args.senders);
    let mut events = Vec::with_capacity(args.members);
    for (i, member) in members.into_iter().enumerate() {
        if i < args.senders {
            senders.push(Sender {
                client: member.client,
                route: ToRoom(room.clone()),
                fanout,
            });
        }
        events.push(member.events);
    }

    let flow = Flow::prepare(senders, events, args.flow.plan(deadline)).await;
    let probe = ServerProbe::start(env.server_pid)?;
    let result = flow.run().await;
    let server = probe.map(ServerProbe::finish).transpose()?;

    let params = merge(
        json!({ "members": args.members, "senders": args.senders, "join_secs": join_secs }),
        args.flow.params(),
    );
    let headline = format!(
        "room of {} members (joined in {join_secs:.2}s), {} senders, {}",
        args.members,
        args.senders,
        args.flow.describe()
    );
    Ok(flow_report("room", env, params, headline, result, server))
}
