//! Length-framed messages: a control header plus raw payload frames.
//!
//! On the wire one message is
//!
//! ```text
//! u32 LE header length | u32 LE payload count n | n × u64 LE payload lengths | header | payloads
//! ```
//!
//! The header is MessagePack of a serde value (usually a batch: `Vec<Message>`); the payloads
//! are raw bytes referenced by index from the header (see [`crate::Payload`]). The decoder
//! checks every announced length against [`Limits`] *before* reserving memory, so a peer
//! cannot make it allocate gigabytes by lying, and it never panics on any input (fuzzed with
//! random bytes in the tests).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ProtocolError;
use crate::payload;

/// Size limits a decoder enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest control header.
    pub max_header: u64,
    /// The most payload frames in one message.
    pub max_payloads: u64,
    /// The largest single payload frame.
    pub max_payload: u64,
    /// The largest message (header plus payloads).
    pub max_message: u64,
}

impl Default for Limits {
    /// Generous limits for an authenticated connection: 1 GiB headers, 1 GiB payload frames,
    /// 4 GiB messages (`BRISK_MAX_FRAME` overrides the frame limits, in bytes).
    fn default() -> Self {
        let frame = std::env::var("BRISK_MAX_FRAME")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1 << 30);
        Limits {
            max_header: frame,
            max_payloads: 1 << 24,
            max_payload: frame,
            max_message: frame.saturating_mul(4),
        }
    }
}

impl Limits {
    /// Small limits for a connection that has not authenticated yet.
    pub fn handshake() -> Self {
        Limits {
            max_header: 64 * 1024,
            max_payloads: 0,
            max_payload: 0,
            max_message: 64 * 1024,
        }
    }
}

/// One framed message: the control header and its payload frames.
#[derive(Debug, Clone, Default)]
pub struct RawMessage {
    /// MessagePack of the control part.
    pub header: Bytes,
    /// Raw payload frames.
    pub payloads: Vec<Bytes>,
}

impl RawMessage {
    /// Header plus payload bytes.
    pub fn len(&self) -> usize {
        self.header.len() + self.payloads.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether the message carries no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Serialize `msg`, moving its [`crate::Payload`]s into raw frames.
pub fn encode_message<T: Serialize + ?Sized>(msg: &T) -> Result<RawMessage, ProtocolError> {
    let (header, payloads) = payload::collecting(|| rmp_serde::to_vec(msg));
    let header = header.map_err(|e| ProtocolError::Encode {
        message: e.to_string(),
    })?;
    Ok(RawMessage {
        header: Bytes::from(header),
        payloads,
    })
}

/// Deserialize a message made by [`encode_message`].
pub fn decode_message<T: DeserializeOwned>(raw: &RawMessage) -> Result<T, ProtocolError> {
    payload::resolving(&raw.payloads, || rmp_serde::from_slice(&raw.header)).map_err(
        |e: rmp_serde::decode::Error| ProtocolError::Malformed {
            message: e.to_string(),
        },
    )
}

/// The fixed prefix of a message: lengths only.
pub fn prefix(raw: &RawMessage) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + 8 * raw.payloads.len());
    p.put_u32_le(raw.header.len() as u32);
    p.put_u32_le(raw.payloads.len() as u32);
    for f in &raw.payloads {
        p.put_u64_le(f.len() as u64);
    }
    p
}

/// Append the whole message to `buf` (copies; for tests and small messages).
pub fn write_to_buf(raw: &RawMessage, buf: &mut BytesMut) {
    buf.extend_from_slice(&prefix(raw));
    buf.extend_from_slice(&raw.header);
    for f in &raw.payloads {
        buf.extend_from_slice(f);
    }
}

/// An incremental decoder: feed it bytes, take whole messages out.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    limits: Limits,
    /// Bytes the message at the front of the buffer needs in all, once its prefix is known.
    need: u64,
}

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        FrameDecoder { limits, need: 0 }
    }

    /// Bytes the message at the front of the buffer needs in all (prefix included), as far
    /// as known after the last [`FrameDecoder::decode`] that returned `Ok(None)` (0: not even
    /// its prefix has arrived). The caller reserves room for them: the decoder itself never
    /// allocates for bytes that have not arrived.
    pub fn needed(&self) -> u64 {
        self.need
    }

    /// Change the limits (after a handshake).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Take one whole message from the front of `buf`, if it holds one. `Ok(None)` means
    /// "need more bytes" ([`FrameDecoder::needed`] says how many in all); an error means the peer
    /// sent something that is not a valid frame, and the connection should be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RawMessage>, ProtocolError> {
        self.need = 0;
        if buf.len() < 8 {
            return Ok(None);
        }
        let header_len = u64::from(u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]));
        let count = u64::from(u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]));
        check("a header", header_len, self.limits.max_header)?;
        check("a payload count", count, self.limits.max_payloads)?;
        let lens_end = 8 + 8 * count;
        if (buf.len() as u64) < lens_end {
            self.need = lens_end;
            return Ok(None);
        }
        let mut total = header_len;
        let mut lens = Vec::with_capacity(count as usize);
        let mut cursor = &buf[8..lens_end as usize];
        for _ in 0..count {
            let len = cursor.get_u64_le();
            check("a payload", len, self.limits.max_payload)?;
            total = total.saturating_add(len);
            lens.push(len as usize);
        }
        check("a message", total, self.limits.max_message)?;
        let need = lens_end + total;
        if (buf.len() as u64) < need {
            self.need = need;
            return Ok(None);
        }
        buf.advance(lens_end as usize);
        let mut body = buf.split_to(total as usize).freeze();
        let header = body.split_to(header_len as usize);
        let mut payloads = Vec::with_capacity(lens.len());
        for len in lens {
            payloads.push(body.split_to(len));
        }
        Ok(Some(RawMessage { header, payloads }))
    }
}

fn check(what: &'static str, got: u64, limit: u64) -> Result<(), ProtocolError> {
    if got > limit {
        return Err(ProtocolError::FrameTooLarge { what, got, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Payload;
    use proptest::prelude::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Msg {
        name: String,
        data: Payload,
        more: Vec<Payload>,
    }

    fn sample() -> Msg {
        Msg {
            name: "x".into(),
            data: Payload::from(vec![7u8; 100_000]),
            more: vec![Payload::from(vec![1u8, 2]), Payload::default()],
        }
    }

    #[test]
    fn payloads_travel_as_frames_without_copies() {
        let m = sample();
        let raw = encode_message(&m).unwrap();
        assert_eq!(raw.payloads.len(), 3);
        assert!(raw.header.len() < 64, "the header holds indices only");
        let mut buf = BytesMut::new();
        write_to_buf(&raw, &mut buf);
        write_to_buf(&raw, &mut buf);
        let mut d = FrameDecoder::new(Limits::default());
        let a = d.decode(&mut buf).unwrap().unwrap();
        let b = d.decode(&mut buf).unwrap().unwrap();
        assert!(d.decode(&mut buf).unwrap().is_none());
        for r in [a, b] {
            let back: Msg = decode_message(&r).unwrap();
            assert_eq!(back, m);
        }
        // Outside a framed message a payload is an ordinary byte string.
        let inline = rmp_serde::to_vec(&m).unwrap();
        let back: Msg = rmp_serde::from_slice(&inline).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn partial_input_waits_and_lies_are_rejected() {
        let raw = encode_message(&sample()).unwrap();
        let mut full = BytesMut::new();
        write_to_buf(&raw, &mut full);
        let mut d = FrameDecoder::new(Limits::default());
        for cut in [0, 3, 8, 20, full.len() - 1] {
            let mut part = BytesMut::from(&full[..cut]);
            assert!(d.decode(&mut part).unwrap().is_none(), "cut at {cut}");
        }
        let mut lie = BytesMut::new();
        lie.put_u32_le(u32::MAX);
        lie.put_u32_le(0);
        let err = FrameDecoder::new(Limits::handshake())
            .decode(&mut lie)
            .unwrap_err();
        assert!(err.to_string().contains("above the limit"), "{err}");
        let mut lie = BytesMut::new();
        lie.put_u32_le(1);
        lie.put_u32_le(1);
        lie.put_u64_le(u64::MAX);
        let err = FrameDecoder::new(Limits::default())
            .decode(&mut lie)
            .unwrap_err();
        assert!(matches!(err, ProtocolError::FrameTooLarge { .. }));
        // A bad payload index is an error, not a panic.
        let bad = RawMessage {
            header: Bytes::from(rmp_serde::to_vec(&("x", 5u64, Vec::<u64>::new())).unwrap()),
            payloads: vec![],
        };
        assert!(decode_message::<Msg>(&bad).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for limits in [Limits::default(), Limits::handshake()] {
                let mut buf = BytesMut::from(&bytes[..]);
                let mut d = FrameDecoder::new(limits);
                while let Ok(Some(raw)) = d.decode(&mut buf) {
                    let _ = decode_message::<Vec<crate::messages::FromClient>>(&raw);
                    let _ = decode_message::<Vec<crate::messages::FromWorker>>(&raw);
                    let _ = decode_message::<Vec<crate::messages::ToWorker>>(&raw);
                    let _ = decode_message::<crate::messages::Hello>(&raw);
                }
            }
        }

        #[test]
        fn random_headers_in_valid_frames_never_panic(
            header in proptest::collection::vec(any::<u8>(), 0..256),
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 0..4),
        ) {
            let raw = RawMessage {
                header: Bytes::from(header),
                payloads: payloads.into_iter().map(Bytes::from).collect(),
            };
            let mut buf = BytesMut::new();
            write_to_buf(&raw, &mut buf);
            let got = FrameDecoder::new(Limits::default()).decode(&mut buf).unwrap().unwrap();
            let _ = decode_message::<Vec<crate::messages::FromClient>>(&got);
            let _ = decode_message::<Vec<crate::messages::ToClient>>(&got);
            let _ = decode_message::<Vec<crate::messages::FromWorker>>(&got);
            let _ = decode_message::<Vec<crate::messages::PeerRequest>>(&got);
        }
    }
}
