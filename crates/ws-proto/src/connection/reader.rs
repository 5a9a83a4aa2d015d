//! The receive path: from buffered bytes to messages and control frames
//! (RFC 6455 sections 5 and 6.2).
//!
//! Bytes are appended to one read buffer. A message that is a single frame
//! (the common case) stays where it landed: its payload is unmasked and
//! UTF-8-checked in place as its bytes arrive, then split off as a `Bytes`
//! that shares the buffer, so it reaches the caller with no copy beyond the
//! one into the buffer, and with no allocation once the buffer is warm.
//! The fragments of a fragmented message are moved into an assembly buffer
//! as they arrive.
//!
//! A compressed message (permessage-deflate, RSV1 on its first frame) is
//! inflated frame by frame into the assembly buffer, in bounded steps, so
//! its limit applies to the inflated size as it grows and its text is
//! checked as it is inflated.
//!
//! Decoding is lazy: it happens when the connection asks for the next item,
//! so a message is delivered (and can be answered) before a violation that
//! follows it in the same read fails the connection.

use bytes::{Buf as _, Bytes, BytesMut};

use super::read_buf::ReadBuf;
use crate::bounded::reserve_within;
use crate::close::{CloseFrame, parse_close_payload};
use crate::config::Config;
use crate::connection::Role;
use crate::error::ProtocolError;
use crate::event::{Message, MessageRef};
use crate::extension::RSV1;
use crate::extension::deflate::codec::{InflateError, Inflater};
use crate::frame::utf8::str_from_validated;
use crate::frame::{FrameHeader, OpCode, Utf8Bytes, Utf8Validator, apply_mask};

/// Room kept past a frame being assembled in place, so that the read that
/// completes it (and starts the next one) does not make the buffer
/// reallocate and copy the whole frame.
const READ_SLACK: usize = 64 << 10;
/// Frames kept in place from this size on have reads end at frame
/// boundaries (see [`Reader::room`]); moving the start of a smaller one
/// costs less than the read it would save.
const LARGE_FRAME: usize = 16 << 10;
/// The read window (how much room a driver reading into the buffer gets)
/// adapts to what the connection receives: it starts small, doubles each
/// time a read fills it, and halves when reads use little of it.
const MIN_WINDOW: usize = 512;
const MAX_WINDOW: usize = 256 << 10;

/// A decoded item.
#[derive(Debug)]
pub(crate) enum Inbound {
    Message(Message),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseFrame>),
}

/// A frame whose header has been read.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    header: FrameHeader,
    len: usize,
    /// Payload bytes already unmasked and checked (in place) or moved.
    done: usize,
    /// The frame is a whole message, kept in the read buffer.
    in_place: bool,
}

/// A message from a complete payload already checked (validated as UTF-8
/// when it is text).
fn checked_message(payload: Bytes, is_text: bool) -> Message {
    if is_text {
        Message::Text(Utf8Bytes::from_validated(payload))
    } else {
        Message::Binary(payload)
    }
}

/// A whole message at the front of the read buffer, unmasked and checked
/// (see [`Reader::whole_message`]).
struct WholeMessage {
    header_len: usize,
    len: usize,
    is_text: bool,
}

/// What the reader does with frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Decode and check everything.
    Normal,
    /// The connection has failed: skip data, only look for the close frame.
    Draining,
    /// Frame boundaries are lost: ignore everything.
    Stopped,
}

#[derive(Debug)]
pub(crate) struct Reader {
    role: Role,
    max_frame: usize,
    max_message: usize,
    max_control: usize,
    rsv_allowed: u8,
    mode: Mode,
    buf: ReadBuf,
    /// The room the next read into the buffer gets (see [`MIN_WINDOW`]).
    window: usize,
    /// The room lent stops at a frame's end (see [`Reader::room`]): the
    /// short read that follows says nothing about the window.
    stopped_at_frame_end: bool,
    /// The length of the room last lent: a read that fills it opens the
    /// window as one that fills the window does.
    lent_room: usize,
    frame: Option<InFrame>,
    /// The opcode of the fragmented message in progress.
    fragmented: Option<OpCode>,
    /// The opcode of the compressed message in progress.
    inflating: Option<OpCode>,
    /// Fragments, or the inflated payload of a compressed message.
    assembly: BytesMut,
    utf8: Utf8Validator,
    /// permessage-deflate's decompressor, when it is in force.
    inflater: Option<Inflater>,
    /// The message last lent is text.
    lent_text: bool,
}

impl Reader {
    pub(crate) fn new(role: Role, config: &Config) -> Self {
        Self {
            role,
            max_frame: config.max_frame_size,
            max_message: config.max_message_size,
            max_control: config.max_control_payload.min(125),
            rsv_allowed: 0,
            mode: Mode::Normal,
            buf: ReadBuf::default(),
            window: MIN_WINDOW,
            stopped_at_frame_end: false,
            lent_room: 0,
            frame: None,
            fragmented: None,
            inflating: None,
            assembly: BytesMut::new(),
            utf8: Utf8Validator::new(),
            inflater: None,
            lent_text: false,
        }
    }

    /// Lets frames carry the RSV bits negotiated extensions define.
    pub(crate) fn allow_rsv(&mut self, bits: u8) {
        self.rsv_allowed = bits;
    }

    /// Inflates compressed messages with `inflater` from now on.
    pub(crate) fn set_inflater(&mut self, inflater: Inflater) {
        self.inflater = Some(inflater);
    }

    /// Buffers received bytes; they are decoded by [`Reader::next`].
    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.mode != Mode::Stopped {
            let rest = self.push_fragment_payload(data);
            let ceiling = self.buf_ceiling();
            self.buf.reserve(rest.len(), ceiling);
            self.buf.extend_from_slice(rest);
        }
    }

    /// Room in the read buffer for a driver to read into: the rest of a
    /// large frame under way (in steps of at most 1 MiB) plus the read
    /// window, or the window alone.
    ///
    /// While the window is small (reads are small), the room left in the
    /// buffer is lent as it is if it holds at least half the window:
    /// messages split off the front use the buffer up, and making room
    /// again (reclaiming the front, once the messages are gone) costs a
    /// hundred-odd instructions. Asking for a whole window every time paid
    /// that at every read of request and answer traffic; half a window
    /// pays it once per half a window of input. A wide window asks for
    /// all of it: there a frame may be large, and one started in the last
    /// of the room would have to be moved to be completed.
    ///
    /// While a frame kept in place waits for its rest, whatever room is
    /// already there is lent as long as the rest fits in it: the buffer
    /// grows (moving the frame's bytes to the front, or to a new
    /// allocation) only when the frame could not be completed in place
    /// otherwise. Growing every time the room falls under the window
    /// would move the unfinished frame once per read: with 64 KiB frames,
    /// most of a frame per frame.
    #[inline]
    pub(crate) fn room(&mut self) -> &mut [u8] {
        // The common case, inlined into the driver's read: no frame under
        // way, a small window, and the room it needs already there and
        // initialized (what `make_room` would lend without changing
        // anything). Every read asks, including the one that finds
        // nothing, so this is paid twice per message in request and
        // answer traffic.
        if self.frame.is_none()
            && self.window < LARGE_FRAME
            && self.buf.has_room_at_hand(self.window / 2, self.window)
        {
            self.stopped_at_frame_end = false;
            let room = self.buf.room_at_hand();
            self.lent_room = room.len();
            return room;
        }
        self.make_room()
    }

    /// [`room`](Self::room), in every case.
    fn make_room(&mut self) -> &mut [u8] {
        let mut want = self.window;
        let mut needed = if self.window < LARGE_FRAME {
            self.window / 2
        } else {
            self.window
        };
        let mut upto = usize::MAX;
        if let Some(frame) = self.frame {
            if frame.in_place {
                let rest = frame.len.saturating_sub(self.buf.len()).min(1 << 20);
                if rest > 0 {
                    want = want.max(rest);
                    needed = rest;
                    // The room lent ends where a frame like this one
                    // would end: with frames of one size, a read never
                    // leaves the start of a frame where it cannot be
                    // completed, which would move it (most of a frame)
                    // when the room runs out. Instead the next frame
                    // starts in an emptied buffer, whose growth moves
                    // nothing. At most one short read per buffer's worth.
                    let spare = self.buf.spare();
                    let like_it = frame.header.encoded_len() + frame.len;
                    if frame.len >= LARGE_FRAME && spare >= rest {
                        upto = rest + (spare - rest) / like_it * like_it;
                    }
                }
            }
        }
        self.stopped_at_frame_end = upto < self.window;
        let ceiling = self.buf_ceiling();
        let room = self.buf.room(want, needed, ceiling, upto);
        self.lent_room = room.len();
        room
    }

    /// Counts `n` bytes read into [`room`](Self::room) as received, and
    /// adapts the window to the size of the read.
    #[inline]
    pub(crate) fn commit(&mut self, n: usize) {
        if std::mem::take(&mut self.stopped_at_frame_end) {
            // Short by our choice, not for lack of input.
        } else if n > 0 && n >= self.window.min(self.lent_room) {
            self.window = (self.window * 2).min(MAX_WINDOW);
        } else if n < self.window / 8 {
            self.window = (self.window / 2).max(MIN_WINDOW);
        }
        if self.mode != Mode::Stopped {
            self.buf.commit(n);
        }
    }

    /// Bytes read into the room but not committed (see [`commit`](Self::commit)).
    pub(crate) fn uncommitted(&self, n: usize) -> &[u8] {
        self.buf.uncommitted(n)
    }

    /// The transport has nothing more to read for now: when the buffer
    /// holds no byte and recent reads were small, its memory is returned
    /// (an idle connection holds none; a busy one keeps its buffer).
    pub(crate) fn drained(&mut self) {
        if self.gives_back() {
            self.buf = ReadBuf::default();
        }
    }

    /// [`drained`](Self::drained), with the buffer given back returned for
    /// another connection's reads (when no message split off it is alive).
    pub(crate) fn drained_spare(&mut self) -> Option<BytesMut> {
        if !self.gives_back() {
            return None;
        }
        std::mem::take(&mut self.buf).into_spare(MIN_WINDOW)
    }

    /// Whether a drained transport returns the read buffer: it holds no
    /// byte, and recent reads were small.
    fn gives_back(&self) -> bool {
        self.buf.capacity() > 0 && self.buf.is_empty() && self.window <= MIN_WINDOW
    }

    /// Whether the reader holds no buffer: its next read allocates, unless
    /// it is given a spare one ([`adopt_spare`](Self::adopt_spare)).
    pub(crate) fn wants_spare(&self) -> bool {
        self.buf.capacity() == 0
    }

    /// Takes `spare` as the read buffer if it holds none; else hands it
    /// back.
    pub(crate) fn adopt_spare(&mut self, spare: BytesMut) -> Option<BytesMut> {
        if !self.wants_spare() {
            return Some(spare);
        }
        self.buf = ReadBuf::from_spare(spare);
        None
    }

    /// How far the read buffer may grow before doubling: a large frame
    /// received in place, and the slack past it. Otherwise (0) it grows as
    /// usual: it holds what the latest reads brought, decoded before the
    /// next, and small frames, for which doubling wastes little and saves
    /// an allocation per frame.
    fn buf_ceiling(&self) -> usize {
        match self.frame {
            Some(frame) if frame.in_place && frame.len > READ_SLACK => {
                frame.len.saturating_add(READ_SLACK)
            }
            _ => 0,
        }
    }

    /// When everything before `data` is decoded and a fragment's payload is
    /// under way, its bytes go straight into the assembly buffer (checked
    /// as they go), so a fragmented message is copied once, not twice.
    /// Nothing is reported from here: bytes that fail the UTF-8 check are
    /// left for [`Reader::next`], which fails in order.
    fn push_fragment_payload<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let Some(mut frame) = self.frame else {
            return data;
        };
        if self.mode != Mode::Normal
            || !self.buf.is_empty()
            || frame.in_place
            || frame.header.opcode.is_control()
            || self.inflating.is_some()
        {
            return data;
        }
        let n = data.len().min(frame.len - frame.done);
        let start = self.assembly.len();
        reserve_within(&mut self.assembly, n, self.max_message);
        self.assembly.extend_from_slice(&data[..n]);
        let chunk = &mut self.assembly[start..];
        if let Some(key) = frame.header.mask {
            apply_mask(chunk, key, frame.done);
        }
        if self.fragmented == Some(OpCode::Text) {
            let before = self.utf8.clone();
            if self.utf8.feed(chunk).is_err() {
                self.utf8 = before;
                self.assembly.truncate(start);
                return data;
            }
        }
        frame.done += n;
        self.frame = Some(frame);
        &data[n..]
    }

    /// Bytes buffered and not yet decoded.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// After a failure, keep reading only to find the peer's close frame if
    /// the frame boundaries are still known, and read nothing otherwise.
    pub(crate) fn drain(&mut self, keeps_framing: bool) {
        self.fragmented = None;
        self.inflating = None;
        self.assembly.clear();
        if keeps_framing {
            self.mode = Mode::Draining;
            if let Some(f) = &mut self.frame {
                if f.in_place {
                    // Its checked bytes are still in the buffer: skip them too.
                    f.in_place = false;
                    f.done = 0;
                }
            }
        } else {
            self.stop();
        }
    }

    /// Ignores every byte from now on.
    pub(crate) fn stop(&mut self) {
        self.mode = Mode::Stopped;
        self.frame = None;
        self.inflating = None;
        self.inflater = None;
        self.buf = ReadBuf::default();
        self.assembly = BytesMut::new();
    }

    /// Frees buffer capacity that holds no data.
    pub(crate) fn release_buffers(&mut self) {
        if self.buf.is_empty() {
            self.buf = ReadBuf::default();
        }
        if self.assembly.is_empty() {
            self.assembly = BytesMut::new();
        }
        if let Some(inflater) = &mut self.inflater {
            if self.inflating.is_none() {
                inflater.release();
            }
        }
    }

    /// Heap bytes held by the buffers.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity() + self.assembly.capacity()
    }

    /// Decodes the next item from the buffered bytes; `Ok(None)` when more
    /// bytes are needed.
    pub(crate) fn next(&mut self) -> Result<Option<Inbound>, ProtocolError> {
        if self.idle() {
            return Ok(None);
        }
        if let Some(message) = self.next_whole_message() {
            return Ok(Some(Inbound::Message(message)));
        }
        loop {
            if self.mode == Mode::Stopped {
                return Ok(None);
            }
            let frame = match self.frame {
                Some(frame) => frame,
                None => match self.next_header()? {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
            };
            if frame.header.opcode.is_control() {
                if self.buf.len() < frame.len {
                    return Ok(None);
                }
                self.frame = None;
                let mut payload = self.buf.split_to(frame.len);
                if let Some(key) = frame.header.mask {
                    apply_mask(&mut payload, key, 0);
                }
                let payload = payload.freeze();
                match frame.header.opcode {
                    OpCode::Close => {
                        return Ok(Some(Inbound::Close(parse_close_payload(&payload)?)));
                    }
                    _ if self.mode == Mode::Draining => continue,
                    OpCode::Ping => return Ok(Some(Inbound::Ping(payload))),
                    _ => return Ok(Some(Inbound::Pong(payload))),
                }
            }
            if frame.in_place {
                // Nothing of this frame has left the buffer yet.
                let available = self.buf.len().min(frame.len);
                return self.in_place_payload(frame, available);
            }
            let available = self.buf.len().min(frame.len - frame.done);
            if self.mode == Mode::Draining {
                self.buf.advance(available);
                if !self.finish_chunk(frame, available) {
                    return Ok(None);
                }
                continue;
            }
            let message = if self.inflating.is_some() {
                self.compressed_payload(frame, available)?
            } else {
                self.fragment_payload(frame, available)?
            };
            if let Some(message) = message {
                return Ok(Some(Inbound::Message(message)));
            }
            if self.frame.is_some() {
                return Ok(None);
            }
        }
    }

    /// The next item if it is a whole message decoded by
    /// [`whole_message`](Self::whole_message), with no other effect;
    /// `None`, touching nothing, otherwise.
    /// Nothing under way and nothing received: [`next`](Self::next) has
    /// nothing to decode. What every poll that finds no event (one per
    /// read, at least) would otherwise learn by trying to parse a header,
    /// twice.
    #[inline]
    pub(crate) fn idle(&self) -> bool {
        self.frame.is_none() && self.buf.received() == 0
    }

    pub(crate) fn next_whole_message(&mut self) -> Option<Message> {
        let whole = self.whole_message()?;
        // The frame off the buffer, then its header off the frame: one
        // change to the read buffer, not two.
        let mut frame = self.buf.split_to(whole.header_len + whole.len);
        frame.advance(whole.header_len);
        Some(checked_message(frame.freeze(), whole.is_text))
    }

    /// [`next_whole_message`](Self::next_whole_message), lent where it lies
    /// in the read buffer instead of split off as `Bytes`.
    pub(crate) fn next_whole_message_ref(&mut self) -> Option<MessageRef<'_>> {
        let whole = self.whole_message()?;
        self.lent_text = whole.is_text;
        let payload = self.buf.lend(whole.header_len, whole.len);
        Some(if whole.is_text {
            MessageRef::Text(str_from_validated(payload))
        } else {
            MessageRef::Binary(payload)
        })
    }

    /// The message last lent by [`next_whole_message_ref`](Self::next_whole_message_ref),
    /// if the buffer has not changed since, as an owned message, without a
    /// copy.
    pub(crate) fn keep_lent_message(&mut self) -> Option<Message> {
        let payload = self.buf.take_lent()?.freeze();
        Some(checked_message(payload, self.lent_text))
    }

    /// The common case in one pass: the next frame is a whole message (a
    /// final text or binary frame, no extension bits), all of it in the
    /// buffer, valid; it is unmasked in place, and where it lies is
    /// returned. Anything else, including every error, is left untouched
    /// to the general path, which decodes it (and fails) in order; so this
    /// path reports nothing.
    #[inline]
    fn whole_message(&mut self) -> Option<WholeMessage> {
        if self.buf.received() < 2 || self.frame.is_some() || self.mode != Mode::Normal {
            return None;
        }
        let Ok(Some((header, header_len))) = FrameHeader::parse(&self.buf) else {
            return None;
        };
        let is_text = match header.opcode {
            OpCode::Text => true,
            OpCode::Binary => false,
            _ => return None,
        };
        let len = usize::try_from(header.payload_len).ok()?;
        if !header.fin
            || header.rsv != 0
            || self.buf.len() - header_len < len
            || self.check(&header).is_err()
        {
            return None;
        }
        let payload = &mut self.buf[header_len..header_len + len];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        if is_text && simdutf8::basic::from_utf8(payload).is_err() {
            if let Some(key) = header.mask {
                apply_mask(payload, key, 0); // masked again: as it arrived
            }
            return None;
        }
        Some(WholeMessage {
            header_len,
            len,
            is_text,
        })
    }

    /// Reads and checks the next header.
    fn next_header(&mut self) -> Result<Option<InFrame>, ProtocolError> {
        let parsed = FrameHeader::parse(&self.buf);
        let (header, header_len) = match parsed {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(None),
            Err(e) => {
                let draining = self.mode == Mode::Draining;
                self.stop();
                // The connection has failed already; this is not news.
                return if draining { Ok(None) } else { Err(e) };
            }
        };
        if self.mode == Mode::Normal {
            if let Err(e) = self.check(&header) {
                // Past this header the boundaries are known only if the
                // error leaves them so; skip the offending frame either way.
                if e.keeps_framing() {
                    self.buf.advance(header_len);
                    self.frame = Some(InFrame {
                        header,
                        len: usize::try_from(header.payload_len).unwrap_or(usize::MAX),
                        done: 0,
                        in_place: false,
                    });
                }
                return Err(e);
            }
        }
        self.buf.advance(header_len);
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        // While draining, data is skipped, never delivered.
        let compressed = header.rsv & RSV1 != 0;
        let in_place = self.mode == Mode::Normal
            && header.fin
            && !compressed
            && matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            self.utf8.reset();
            if self.mode == Mode::Normal {
                if !header.fin {
                    self.fragmented = Some(header.opcode);
                }
                if compressed {
                    self.inflating = Some(header.opcode);
                }
            }
        }
        let frame = InFrame {
            header,
            len,
            done: 0,
            in_place,
        };
        self.frame = Some(frame);
        if in_place && len > self.buf.len() + MIN_WINDOW && len - self.buf.len() > self.buf.spare()
        {
            // A large frame that does not fit in the room there is: grow
            // once towards the announced size (already within the limits),
            // in steps, so a lying length cannot reserve it all. A small
            // one fits the read window; one that fits is not moved.
            let step = (len.min(1 << 20) + READ_SLACK).saturating_sub(self.buf.len());
            let ceiling = self.buf_ceiling();
            self.buf.reserve(step, ceiling);
        }
        Ok(Some(frame))
    }

    /// The rules of sections 5.1-5.5 that depend on the connection's state.
    fn check(&self, h: &FrameHeader) -> Result<(), ProtocolError> {
        let stray_rsv = h.rsv & !self.rsv_allowed;
        if stray_rsv != 0 {
            return Err(ProtocolError::ReservedBitsSet(h.rsv));
        }
        // RFC 7692 section 6.1: RSV1 marks a compressed message on its first
        // frame, and nowhere else.
        if h.rsv & RSV1 != 0 {
            if h.opcode.is_control() {
                return Err(ProtocolError::CompressedControlFrame);
            }
            if h.opcode == OpCode::Continuation {
                return Err(ProtocolError::CompressedContinuation);
            }
        }
        match (self.role, h.mask.is_some()) {
            (Role::Client, true) => return Err(ProtocolError::MaskedFrameFromServer),
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrameFromClient),
            _ => {}
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if h.payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong(h.payload_len));
            }
            if h.payload_len > self.max_control as u64 {
                return Err(ProtocolError::ControlPayloadTooLarge {
                    size: h.payload_len,
                    limit: self.max_control,
                });
            }
            return Ok(());
        }
        match (h.opcode, self.fragmented) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            _ => {}
        }
        if h.payload_len > self.max_frame as u64 {
            return Err(ProtocolError::FrameTooLarge {
                size: h.payload_len,
                limit: self.max_frame,
            });
        }
        // A compressed message's limit is on its inflated size, checked as it
        // inflates; its compressed frames are bounded by the frame limit.
        let compressed =
            h.rsv & RSV1 != 0 || (h.opcode == OpCode::Continuation && self.inflating.is_some());
        let total = self.assembly.len() as u64 + h.payload_len;
        if !compressed && total > self.max_message as u64 {
            return Err(ProtocolError::MessageTooLarge {
                size: total,
                limit: self.max_message,
            });
        }
        Ok(())
    }

    /// A single-frame message: unmask and check the new bytes where they
    /// lie; hand the payload out without copying once it is complete.
    fn in_place_payload(
        &mut self,
        mut frame: InFrame,
        available: usize,
    ) -> Result<Option<Inbound>, ProtocolError> {
        let new = &mut self.buf[frame.done..available];
        if let Some(key) = frame.header.mask {
            apply_mask(new, key, frame.done);
        }
        let is_text = frame.header.opcode == OpCode::Text;
        if is_text {
            self.utf8
                .feed(new)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        frame.done = available;
        if available < frame.len {
            self.frame = Some(frame);
            return Ok(None);
        }
        self.frame = None;
        let payload = self.buf.split_to(frame.len).freeze();
        if is_text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(Some(Inbound::Message(checked_message(payload, is_text))))
    }

    /// A fragment: move its new bytes into the assembly buffer; returns the
    /// message when its final fragment is complete.
    fn fragment_payload(
        &mut self,
        frame: InFrame,
        available: usize,
    ) -> Result<Option<Message>, ProtocolError> {
        let chunk = &mut self.buf[..available];
        if let Some(key) = frame.header.mask {
            apply_mask(chunk, key, frame.done);
        }
        let is_text = self.fragmented == Some(OpCode::Text);
        if is_text {
            self.utf8
                .feed(chunk)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        reserve_within(&mut self.assembly, available, self.max_message);
        self.assembly.extend_from_slice(&self.buf[..available]);
        self.buf.advance(available);
        if !self.finish_chunk(frame, available) || !frame.header.fin {
            return Ok(None);
        }
        self.fragmented = None;
        self.take_assembled(is_text).map(Some)
    }

    /// The assembled message, its UTF-8 check finished for text.
    fn take_assembled(&mut self, is_text: bool) -> Result<Message, ProtocolError> {
        let payload = self.assembly.split().freeze();
        if is_text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(checked_message(payload, is_text))
    }

    /// A frame of a compressed message: unmask its new bytes and inflate
    /// them into the assembly buffer; returns the message when its final
    /// frame is complete.
    fn compressed_payload(
        &mut self,
        frame: InFrame,
        available: usize,
    ) -> Result<Option<Message>, ProtocolError> {
        let is_text = self.inflating == Some(OpCode::Text);
        let inflater = self
            .inflater
            .as_mut()
            .expect("RSV1 is only allowed with permessage-deflate in force");
        let chunk = &mut self.buf[..available];
        if let Some(key) = frame.header.mask {
            apply_mask(chunk, key, frame.done);
        }
        let limit = self.max_message;
        let utf8 = is_text.then_some(&mut self.utf8);
        inflater
            .inflate(chunk, &mut self.assembly, limit, utf8)
            .map_err(|e| inflate_error(e, limit))?;
        self.buf.advance(available);
        if !self.finish_chunk(frame, available) || !frame.header.fin {
            return Ok(None);
        }
        let inflater = self.inflater.as_mut().expect("checked above");
        let utf8 = is_text.then_some(&mut self.utf8);
        inflater
            .finish(&mut self.assembly, limit, utf8)
            .map_err(|e| inflate_error(e, limit))?;
        self.inflating = None;
        self.fragmented = None;
        self.take_assembled(is_text).map(Some)
    }

    /// Records `n` more payload bytes of `frame` as consumed; returns whether
    /// the frame is complete.
    fn finish_chunk(&mut self, mut frame: InFrame, n: usize) -> bool {
        frame.done += n;
        let complete = frame.done == frame.len;
        self.frame = if complete { None } else { Some(frame) };
        complete
    }
}

/// The protocol error an inflating failure fails the connection with.
fn inflate_error(e: InflateError, limit: usize) -> ProtocolError {
    match e {
        InflateError::TooLarge(size) => ProtocolError::MessageTooLarge {
            size: size as u64,
            limit,
        },
        InflateError::Corrupt => ProtocolError::InvalidCompressedData,
        InflateError::InvalidUtf8 => ProtocolError::InvalidUtf8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::header::MAX_HEADER_LEN;

    /// A masked binary frame of `len` bytes of `fill`.
    fn masked_frame(len: usize, fill: u8) -> Vec<u8> {
        let key = [1, 2, 3, 4];
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some(key),
            payload_len: len as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let mut frame = head[..n].to_vec();
        let start = frame.len();
        frame.resize(start + len, fill);
        apply_mask(&mut frame[start..], key, 0);
        frame
    }

    /// Reads `stream` into the reader's room, at most `chunk` bytes a
    /// read, decoding after each; returns the messages' lengths and the
    /// number of reads.
    fn drive(reader: &mut Reader, stream: &[u8], chunk: usize) -> (Vec<usize>, usize) {
        let (mut at, mut reads, mut got) = (0, 0, Vec::new());
        while at < stream.len() {
            let room = reader.room();
            let n = room.len().min(chunk).min(stream.len() - at);
            room[..n].copy_from_slice(&stream[at..at + n]);
            reader.commit(n);
            at += n;
            reads += 1;
            while let Some(item) = reader.next().expect("valid frames") {
                match item {
                    Inbound::Message(Message::Binary(b)) => got.push(b.len()),
                    other => panic!("{other:?}"),
                }
            }
        }
        (got, reads)
    }

    #[test]
    fn a_stream_of_large_frames_is_not_moved_to_make_room() {
        for len in [16 << 10, 64 << 10, 100_000, 1 << 20] {
            let frames = 40;
            let stream: Vec<u8> = (0..frames)
                .flat_map(|i| masked_frame(len, i as u8))
                .collect();
            let mut reader = Reader::new(Role::Server, &Config::default());
            // Warm: the window has opened and the buffer has grown.
            let warm: Vec<u8> = (0..8).flat_map(|i| masked_frame(len, i as u8)).collect();
            drive(&mut reader, &warm, 64 << 10);
            reader.buf.moved = 0;
            let (got, reads) = drive(&mut reader, &stream, 64 << 10);
            assert_eq!(got, vec![len; frames], "{len}");
            // Growth moves at most a header's worth per frame (a read
            // stops at a large frame's end rather than start the next
            // one where it would not fit), where it used to move most of
            // a frame per frame; and it costs at most one short read per
            // frame.
            let moved = reader.buf.moved;
            assert!(
                moved <= frames * MAX_HEADER_LEN,
                "{len}: {moved} bytes moved"
            );
            let full_reads = stream.len().div_ceil(64 << 10);
            assert!(reads <= full_reads + frames, "{len}: {reads} reads");
        }
    }

    /// Request and answer traffic: one small message per read, dropped
    /// before the next. The buffer is used up from the front; room is made
    /// again once per half a window, not at every read.
    #[test]
    fn one_small_message_per_read_makes_room_once_per_half_window() {
        let frame = masked_frame(32, 9);
        let mut reader = Reader::new(Role::Server, &Config::default());
        for _ in 0..1_000 {
            let (got, reads) = drive(&mut reader, &frame, usize::MAX);
            assert_eq!((got, reads), (vec![32], 1));
        }
        assert_eq!(
            reader.window, MIN_WINDOW,
            "small reads keep the window small"
        );
        let per_half_window = (MIN_WINDOW / 2) / frame.len();
        let grown = reader.buf.grown;
        assert!(
            grown <= 1_000 / per_half_window + 1,
            "room made {grown} times for 1,000 reads"
        );
        assert!(
            reader.buf.capacity() <= 2 * MIN_WINDOW,
            "{}",
            reader.buf.capacity()
        );
    }

    #[test]
    fn small_frames_still_arrive_many_to_a_read() {
        let stream: Vec<u8> = (0..2_000)
            .flat_map(|i| masked_frame(100, i as u8))
            .collect();
        let mut reader = Reader::new(Role::Server, &Config::default());
        let (got, reads) = drive(&mut reader, &stream, 64 << 10);
        assert_eq!(got.len(), 2_000);
        // The window opens up to the 64 KiB reads: a few dozen reads.
        assert!(reads < 40, "{reads} reads for {} bytes", stream.len());
    }
}
