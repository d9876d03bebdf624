//! The room requests, as methods of [`Client`]: join, leave, send, list,
//! topics and moderation. Room names are checked here (`#` and a name)
//! before anything is sent.

use std::time::Duration;

use chinwag_proto::room::{
    Invite, Join, MaskAction, MaskEntry, MaskList, MemberInfo, Members, Part, RoomInfo, RoomKick,
    RoomLimit, RoomMask, RoomMode, RoomMute, RoomOp, RoomSend, RoomUnmute, RoomVoice, SetRoomMode,
    Topic,
};
use chinwag_proto::server::Sent;
use chinwag_proto::{Request, RoomName, RoomRequest, ServerFrame};

use crate::client::{Client, check_name, mute_secs, unexpected};
use crate::error::ClientError;

impl Client {
    /// JOIN: joins `room` (creating it, owned by this user, if it does not
    /// exist; `password` then protects it). Returns the room as this user
    /// now sees it.
    pub async fn join(&self, room: &str, password: Option<&str>) -> Result<RoomInfo, ClientError> {
        check_room(room)?;
        let request = RoomRequest::Join(Join {
            src: "".into(),
            room: room.into(),
            password: password.unwrap_or("").into(),
        });
        self.expect_one_room(request).await
    }

    /// PART: leaves `room`.
    pub async fn leave(&self, room: &str, reason: &str) -> Result<(), ClientError> {
        check_room(room)?;
        self.check_reason(reason)?;
        self.expect_ok(Request::Room(RoomRequest::Part(Part {
            src: "".into(),
            room: room.into(),
            reason: reason.into(),
        })))
        .await
    }

    /// ROOM_SEND: says `text` in `room`.
    pub async fn say(&self, room: &str, text: &str) -> Result<Sent, ClientError> {
        check_room(room)?;
        self.check_message(text)?;
        self.expect_sent(Request::Room(RoomRequest::Send(RoomSend {
            src: "".into(),
            room: room.into(),
            content: text.into(),
            ..Default::default()
        })))
        .await
    }

    /// ROOMS: every room, with its topic, size, mode and this user's role.
    pub async fn rooms(&self) -> Result<Vec<RoomInfo>, ClientError> {
        let request = Request::Room(RoomRequest::List { src: "".into() });
        match self.request(request).await? {
            ServerFrame::RoomList(rooms) => Ok(rooms),
            other => Err(unexpected("ROOM_LIST", &other)),
        }
    }

    /// The room `room` as this user sees it (from ROOMS), if it exists.
    pub async fn room(&self, room: &str) -> Result<Option<RoomInfo>, ClientError> {
        check_room(room)?;
        Ok(self
            .rooms()
            .await?
            .into_iter()
            .find(|r| r.room.eq_ignore_ascii_case(room)))
    }

    /// MEMBERS: `room`'s members, owner first.
    pub async fn members(&self, room: &str) -> Result<Vec<MemberInfo>, ClientError> {
        check_room(room)?;
        let request = Request::Room(RoomRequest::Members(Members {
            src: "".into(),
            room: room.into(),
        }));
        match self.request(request).await? {
            ServerFrame::MemberList { members, .. } => Ok(members),
            other => Err(unexpected("MEMBER_LIST", &other)),
        }
    }

    /// TOPIC: sets `room`'s topic (an empty one clears it; operators only).
    pub async fn set_topic(&self, room: &str, topic: &str) -> Result<RoomInfo, ClientError> {
        check_room(room)?;
        if !topic.is_empty() {
            self.check_text(topic)
                .map_err(|e| ClientError::InvalidInput(format!("topic: {e}")))?;
        }
        self.expect_one_room(RoomRequest::Topic(Topic {
            src: "".into(),
            room: room.into(),
            topic: topic.into(),
        }))
        .await
    }

    /// ROOM_OP: makes `user` an operator of `room`, or a plain member
    /// again (the owner only).
    pub async fn room_op(&self, room: &str, user: &str, operator: bool) -> Result<(), ClientError> {
        check_room(room)?;
        check_name(user)?;
        self.expect_ok(Request::Room(RoomRequest::Op(RoomOp {
            src: "".into(),
            room: room.into(),
            user: user.into(),
            operator,
        })))
        .await
    }

    /// ROOM_KICK: puts `user` out of `room` (operators).
    pub async fn room_kick(&self, room: &str, user: &str, reason: &str) -> Result<(), ClientError> {
        check_room(room)?;
        check_name(user)?;
        self.check_reason(reason)?;
        self.expect_ok(Request::Room(RoomRequest::Kick(RoomKick {
            src: "".into(),
            room: room.into(),
            user: user.into(),
            reason: reason.into(),
        })))
        .await
    }

    /// ROOM_MUTE: mutes `user` in `room` for `duration` (whole seconds,
    /// rounded up), or until lifted when `None` (operators).
    pub async fn room_mute(
        &self,
        room: &str,
        user: &str,
        duration: Option<Duration>,
        reason: &str,
    ) -> Result<(), ClientError> {
        check_room(room)?;
        check_name(user)?;
        self.check_reason(reason)?;
        let duration_secs = match duration {
            None => 0,
            Some(d) => mute_secs(d)?,
        };
        self.expect_ok(Request::Room(RoomRequest::Mute(RoomMute {
            src: "".into(),
            room: room.into(),
            user: user.into(),
            duration_secs,
            reason: reason.into(),
        })))
        .await
    }

    /// ROOM_UNMUTE: lifts `user`'s mute in `room` (operators).
    pub async fn room_unmute(&self, room: &str, user: &str) -> Result<(), ClientError> {
        check_room(room)?;
        check_name(user)?;
        self.expect_ok(Request::Room(RoomRequest::Unmute(RoomUnmute {
            src: "".into(),
            room: room.into(),
            user: user.into(),
        })))
        .await
    }

    /// ROOM_MODE: sets `room`'s mode. With the password flag, `password`
    /// `None` keeps the current password (operators).
    pub async fn room_mode(
        &self,
        room: &str,
        mode: RoomMode,
        password: Option<&str>,
    ) -> Result<(), ClientError> {
        check_room(room)?;
        if password.is_some() && !mode.password() {
            return Err(ClientError::InvalidInput(
                "a room password needs the password mode".into(),
            ));
        }
        if password == Some("") {
            return Err(ClientError::InvalidInput(
                "a room password cannot be empty".into(),
            ));
        }
        self.expect_ok(Request::Room(RoomRequest::Mode(SetRoomMode {
            src: "".into(),
            room: room.into(),
            mode,
            password: password.unwrap_or("").into(),
        })))
        .await
    }

    /// INVITE: lets `user` into `room` once, whatever its mode (operators).
    pub async fn invite(&self, room: &str, user: &str) -> Result<(), ClientError> {
        check_room(room)?;
        check_name(user)?;
        self.expect_ok(Request::Room(RoomRequest::Invite(Invite {
            src: "".into(),
            room: room.into(),
            user: user.into(),
        })))
        .await
    }

    /// ROOM_LIMIT: lets at most `limit` members into `room`; 0 lifts the
    /// limit (operators).
    pub async fn room_limit(&self, room: &str, limit: u32) -> Result<(), ClientError> {
        check_room(room)?;
        self.expect_ok(Request::Room(RoomRequest::Limit(RoomLimit {
            src: "".into(),
            room: room.into(),
            limit,
        })))
        .await
    }

    /// ROOM_VOICE: lets `user` talk in `room` whatever its moderation, or
    /// takes that back (operators).
    pub async fn room_voice(
        &self,
        room: &str,
        user: &str,
        voiced: bool,
    ) -> Result<(), ClientError> {
        check_room(room)?;
        check_name(user)?;
        self.expect_ok(Request::Room(RoomRequest::Voice(RoomVoice {
            src: "".into(),
            room: room.into(),
            user: user.into(),
            voiced,
        })))
        .await
    }

    /// ROOM_MASK: adds `mask` to one of `room`'s mask lists, or removes it
    /// (operators).
    pub async fn room_mask(
        &self,
        room: &str,
        list: MaskList,
        mask: &str,
        add: bool,
    ) -> Result<(), ClientError> {
        check_room(room)?;
        self.expect_ok(Request::Room(RoomRequest::Mask(RoomMask {
            src: "".into(),
            room: room.into(),
            list,
            action: if add {
                MaskAction::Add
            } else {
                MaskAction::Remove
            },
            mask: mask.into(),
        })))
        .await
    }

    /// ROOM_MASK: one of `room`'s mask lists, oldest first.
    pub async fn room_masks(
        &self,
        room: &str,
        list: MaskList,
    ) -> Result<Vec<MaskEntry>, ClientError> {
        check_room(room)?;
        let request = Request::Room(RoomRequest::Mask(RoomMask {
            src: "".into(),
            room: room.into(),
            list,
            action: MaskAction::List,
            mask: "".into(),
        }));
        match self.request(request).await? {
            ServerFrame::MaskList { masks, .. } => Ok(masks),
            other => Err(unexpected("MASK_LIST", &other)),
        }
    }

    /// ROOM_SEND_OPS: says `text` to `room`'s operators only (not stored).
    pub async fn say_to_operators(&self, room: &str, text: &str) -> Result<Sent, ClientError> {
        check_room(room)?;
        self.check_message(text)?;
        self.expect_sent(Request::Room(RoomRequest::SendOps(RoomSend {
            src: "".into(),
            room: room.into(),
            content: text.into(),
            ..Default::default()
        })))
        .await
    }

    async fn expect_one_room(&self, request: RoomRequest) -> Result<RoomInfo, ClientError> {
        match self.request(Request::Room(request)).await? {
            ServerFrame::RoomList(mut rooms) if rooms.len() == 1 => Ok(rooms.remove(0)),
            other => Err(unexpected("ROOM_LIST with one room", &other)),
        }
    }
}

fn check_room(room: &str) -> Result<(), ClientError> {
    RoomName::parse(room)
        .map(drop)
        .map_err(|e| ClientError::InvalidInput(format!("invalid room name {room:?}: {e}")))
}
