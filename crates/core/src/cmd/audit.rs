//! AUDIT: a page of the audit log, newest first.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Audit;

use super::{CmdError, Ctx, Outcome, later, page_limit};
use crate::store_wire;

pub fn apply(req: Audit, ctx: &mut Ctx<'_>) -> Outcome {
    let limit = match page_limit(req.limit) {
        Ok(limit) => limit,
        Err(e) => return e.into(),
    };
    let before = (req.before != 0).then_some(req.before);
    later(
        false,
        ctx.state.store.audit_log(before, limit),
        |page, _| match page {
            Ok(entries) => Ok(ServerFrame::AuditPage(
                entries.iter().map(store_wire::audit_entry).collect(),
            ))
            .into(),
            Err(error) => CmdError::from(error).into(),
        },
    )
}
