//! The byte framing of the decision log: a file header, then records, each
//! `[len: u32 LE][crc32(len): u32 LE][crc32(payload): u32 LE][payload]`.
//!
//! The length has its own checksum, so a damaged length is told apart from
//! a write cut short: a record whose header is whole and valid but whose
//! payload runs past the end is torn; a header that fails its checksum is
//! corrupt. A record is written with one `write` call; a crash can leave
//! only a prefix of the last one, which [`scan`] reports as a torn tail
//! while every earlier record stays readable.

/// The first bytes of every decision-log file (format name and version).
pub const MAGIC: &[u8; 8] = b"FSDLOG01";
/// Bytes before the payload of a record: length and two checksums.
pub const HEADER_LEN: usize = 12;
/// The largest payload accepted; a larger length prefix is corruption.
pub const MAX_PAYLOAD: usize = 16 << 20;

/// CRC-32 (IEEE) of some bytes.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Frames one payload: header and payload in one buffer, ready for a single
/// write.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&[0; HEADER_LEN]);
    out.extend_from_slice(payload);
    seal(&mut out);
    out
}

/// Frames in place a buffer that holds [`HEADER_LEN`] bytes of room and
/// then the payload (at most [`MAX_PAYLOAD`] bytes): fills in the header.
pub fn seal(buf: &mut [u8]) {
    let (header, payload) = buf.split_at_mut(HEADER_LEN);
    let len = u32::try_from(payload.len()).expect("payload checked against MAX_PAYLOAD").to_le_bytes();
    header[..4].copy_from_slice(&len);
    header[4..8].copy_from_slice(&checksum(&len).to_le_bytes());
    header[8..].copy_from_slice(&checksum(payload).to_le_bytes());
}

/// What ends a scan before the end of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belongs to a complete, valid record.
    Clean,
    /// The bytes stop inside a record (a write cut short by a crash): the
    /// expected end of a torn write. `offset` is where that record starts.
    Torn {
        /// Where the incomplete record starts.
        offset: u64,
    },
    /// A complete record whose checksum or length is wrong: damage, not a
    /// torn write. Nothing after `offset` can be trusted.
    Corrupt {
        /// Where the bad record starts.
        offset: u64,
    },
    /// The file does not start with [`MAGIC`] (or is shorter than it).
    BadMagic,
}

impl Tail {
    /// The offset of the first byte that is not part of a valid record, or
    /// `None` when the whole input is valid.
    pub fn bad_offset(&self) -> Option<u64> {
        match *self {
            Tail::Clean => None,
            Tail::Torn { offset } | Tail::Corrupt { offset } => Some(offset),
            Tail::BadMagic => Some(0),
        }
    }
}

/// Every valid record of a whole file, as `(offset, payload)`, and how the
/// bytes end. An empty input is a file that was created but never written:
/// torn at offset 0 when it holds part of the magic, clean when empty.
pub fn scan(bytes: &[u8]) -> (Vec<(u64, &[u8])>, Tail) {
    if bytes.len() < MAGIC.len() {
        let tail = if bytes.is_empty() {
            Tail::Clean
        } else if MAGIC.starts_with(bytes) {
            Tail::Torn { offset: 0 }
        } else {
            Tail::BadMagic
        };
        return (Vec::new(), tail);
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return (Vec::new(), Tail::BadMagic);
    }
    let mut records = Vec::new();
    let mut pos = MAGIC.len();
    loop {
        let rest = &bytes[pos..];
        if rest.is_empty() {
            return (records, Tail::Clean);
        }
        let offset = pos as u64;
        if rest.len() < HEADER_LEN {
            return (records, Tail::Torn { offset });
        }
        let word = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().expect("4 bytes"));
        let len = word(0) as usize;
        if checksum(&rest[..4]) != word(4) || len > MAX_PAYLOAD {
            return (records, Tail::Corrupt { offset });
        }
        if rest.len() < HEADER_LEN + len {
            return (records, Tail::Torn { offset });
        }
        let payload = &rest[HEADER_LEN..HEADER_LEN + len];
        if checksum(payload) != word(8) {
            return (records, Tail::Corrupt { offset });
        }
        records.push((offset, payload));
        pos += HEADER_LEN + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(payloads: &[&[u8]]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = MAGIC.to_vec();
        let mut ends = Vec::new();
        for p in payloads {
            bytes.extend(encode(p));
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    #[test]
    fn round_trips_records() {
        let (bytes, _) = file_of(&[b"{\"a\":1}", b"", b"xyz"]);
        let (recs, tail) = scan(&bytes);
        assert_eq!(tail, Tail::Clean);
        let payloads: Vec<&[u8]> = recs.iter().map(|r| r.1).collect();
        assert_eq!(payloads, vec![&b"{\"a\":1}"[..], b"", b"xyz"]);
    }

    #[test]
    fn truncation_at_every_byte_keeps_earlier_records_and_detects_the_tail() {
        let (bytes, ends) = file_of(&[b"first record", b"second", b"the third one"]);
        for cut in 0..bytes.len() {
            let (recs, tail) = scan(&bytes[..cut]);
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(recs.len(), complete, "cut at {cut}");
            let at_boundary = cut == 0 || cut == MAGIC.len() || ends.contains(&cut);
            if at_boundary {
                assert_eq!(tail, Tail::Clean, "cut at {cut}");
            } else {
                assert!(matches!(tail, Tail::Torn { .. }), "cut at {cut}: {tail:?}");
            }
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_is_detected_and_earlier_records_survive() {
        let (bytes, ends) = file_of(&[b"first record", b"second", b"the third one"]);
        for at in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut damaged = bytes.clone();
                damaged[at] ^= bit;
                let (recs, tail) = scan(&damaged);
                assert_ne!(tail, Tail::Clean, "flip at {at} went unnoticed");
                let before = ends.iter().filter(|&&e| e <= at).count();
                let expect = if at < MAGIC.len() { 0 } else { before };
                assert_eq!(recs.len(), expect, "flip at {at}");
                if at >= MAGIC.len() {
                    assert!(matches!(tail, Tail::Corrupt { .. }), "flip at {at} looked torn: {tail:?}");
                }
            }
        }
    }

    #[test]
    fn an_absurd_length_is_corruption_not_an_allocation() {
        let mut bytes = MAGIC.to_vec();
        let len = u32::MAX.to_le_bytes();
        bytes.extend_from_slice(&len);
        bytes.extend_from_slice(&checksum(&len).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        assert_eq!(scan(&bytes).1, Tail::Corrupt { offset: 8 });
    }
}
