//! The codec on the hot frames: a TRANSFER coming in, a MESSAGE and a SENT
//! going out. `cargo bench -p chinwag-proto --bench codec`.

use std::hint::black_box;

use bytes::BytesMut;
use chinwag_proto::request::Transfer;
use chinwag_proto::server::{DeliveryStatus, Message, MessageId, MessageKind, Sent, Timestamp};
use chinwag_proto::wire::Encode;
use chinwag_proto::{ClientCodec, Request, RequestId, ServerCodec, ServerFrame};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::Decoder;

/// 64 bytes of text, the size the `dm` benchmark sends.
const TEXT: &str = "0:1f:3b9aca00|..................................................";

fn transfer() -> Request {
    Request::Transfer(Transfer {
        src: "".into(),
        dst: "receiver-42".into(),
        content: TEXT.into(),
        ..Default::default()
    })
}

fn message() -> ServerFrame {
    ServerFrame::Message(Message {
        id: MessageId(1_700_000_000_000_000),
        ts: Timestamp(1_700_000_000_000),
        kind: MessageKind::Direct,
        from: "sender-42".into(),
        to: "receiver-42".into(),
        text: TEXT.into(),
        ..Default::default()
    })
}

/// `n` copies of `frame`'s encoding back to back, as a socket read would
/// deliver a pipelined batch.
fn batch(frame: &impl Encode, n: usize) -> BytesMut {
    let mut buf = BytesMut::new();
    for i in 0..n {
        frame.encode(RequestId(i as u32 + 1), &mut buf).unwrap();
    }
    buf
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    let request = transfer();
    let event = message();
    let sent = ServerFrame::Sent(Sent {
        id: MessageId(7),
        ts: Timestamp(1_700_000_000_000),
        status: DeliveryStatus::Delivered,
        recipients: 1,
        ..Default::default()
    });
    let mut buf = BytesMut::with_capacity(64 * 1024);
    group.bench_function("transfer", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&request).encode(RequestId(9), &mut buf).unwrap();
        })
    });
    group.bench_function("message", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&event).encode(RequestId::NONE, &mut buf).unwrap();
        })
    });
    group.bench_function("sent", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&sent).encode(RequestId(9), &mut buf).unwrap();
        })
    });
    // What a broadcast does once: a frame of its own, shared afterwards.
    group.bench_function("message_to_frame", |b| {
        b.iter(|| black_box(&event).to_frame(RequestId::NONE).unwrap())
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    const BATCH: usize = 64;
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(BATCH as u64));
    let requests = batch(&transfer(), BATCH);
    let events = batch(&message(), BATCH);
    group.bench_function("transfer_x64", |b| {
        let mut codec = ServerCodec::new(8192);
        b.iter(|| {
            let mut buf = requests.clone();
            while let Some(packet) = codec.decode(&mut buf).unwrap() {
                black_box(packet.unwrap());
            }
        })
    });
    group.bench_function("message_x64", |b| {
        let mut codec = ClientCodec::client();
        b.iter(|| {
            let mut buf = events.clone();
            while let Some(packet) = codec.decode(&mut buf).unwrap() {
                black_box(packet.unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
