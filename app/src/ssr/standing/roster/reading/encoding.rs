//! How a roster file's bytes become text. Bars and spreadsheets save in
//! UTF-8, UTF-16 or Windows-1252, with or without a byte-order mark, and a
//! wrong guess turns names into garbage silently; so the whole file is
//! checked before a row is read, and a file that is not text names the
//! byte where it stops being so.

use std::io::{self, Read, Seek, SeekFrom};

use encoding_rs::{CoderResult, Decoder, DecoderResult, Encoding, UTF_8, WINDOWS_1252};

/// The encodings live in the domain: the preview says which was read.
pub use crate::domain::roster_upload::FileEncoding;

use super::{CHUNK, ReadError};

impl FileEncoding {
    fn encoding(self) -> &'static Encoding {
        match self {
            FileEncoding::Utf8 | FileEncoding::Utf8Bom => UTF_8,
            FileEncoding::Utf16Le => encoding_rs::UTF_16LE,
            FileEncoding::Utf16Be => encoding_rs::UTF_16BE,
            FileEncoding::Windows1252 => WINDOWS_1252,
        }
    }
}

/// Reads all of `input` once to choose its encoding, then rewinds it.
/// Refuses a file that is not text in one of the encodings taken, or that
/// is larger than `limit` bytes.
pub fn sniff<R: Read + Seek>(input: &mut R, limit: u64) -> Result<FileEncoding, ReadError> {
    let mut head = [0_u8; 3];
    let mut filled = 0;
    while filled < head.len() {
        let n = input.read(&mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    input.seek(SeekFrom::Start(0))?;
    let found = match Encoding::for_bom(&head[..filled]) {
        Some((encoding, bom_length)) => {
            let bom_length = bom_length as u64;
            let kind = if encoding == UTF_8 {
                FileEncoding::Utf8Bom
            } else if encoding == encoding_rs::UTF_16LE {
                FileEncoding::Utf16Le
            } else {
                FileEncoding::Utf16Be
            };
            let bom = encoding.new_decoder_with_bom_removal();
            if let Some(offset) = scan(input, bom, limit, bom_length)? {
                return Err(ReadError::BadEncoding {
                    encoding: encoding.name(),
                    offset,
                });
            }
            kind
        }
        None => match scan(input, UTF_8.new_decoder_without_bom_handling(), limit, 0)? {
            None => FileEncoding::Utf8,
            Some(_) => {
                input.seek(SeekFrom::Start(0))?;
                let windows = WINDOWS_1252.new_decoder_without_bom_handling();
                match scan(input, windows, limit, 0)? {
                    None => FileEncoding::Windows1252,
                    Some(offset) => return Err(ReadError::NotText { offset }),
                }
            }
        },
    };
    input.seek(SeekFrom::Start(0))?;
    Ok(found)
}

/// Decodes all of `input`; the offset of the first byte that is not text
/// (malformed, or a control character other than tab and line ends, which
/// no roster holds and which a wrong guess of encoding produces), if any.
/// `bom`: the length of the byte-order mark the decoder skips.
fn scan<R: Read>(
    input: &mut R,
    mut decoder: Decoder,
    limit: u64,
    bom: u64,
) -> Result<Option<u64>, ReadError> {
    let mut buffer = vec![0_u8; CHUNK];
    let mut text = String::with_capacity(
        decoder
            .max_utf8_buffer_length_without_replacement(CHUNK)
            .unwrap_or(4 * CHUNK),
    );
    let mut consumed = 0_u64;
    loop {
        let n = input.read(&mut buffer)?;
        let last = n == 0;
        let mut source = &buffer[..n];
        loop {
            text.clear();
            let (result, read) =
                decoder.decode_to_string_without_replacement(source, &mut text, last);
            // NUL and C1 controls are what a wrong guess of encoding
            // produces (UTF-16 read as bytes, Windows-1252's unassigned
            // bytes); no roster holds them.
            let stray = |c: char| c == '\0' || ('\u{80}'..='\u{9f}').contains(&c);
            if let Some(index) = text.find(stray) {
                let before = input_bytes(decoder.encoding(), &text[..index]);
                // Once past the first decode, `consumed` counts the mark.
                let mark = if consumed == 0 { bom } else { 0 };
                return Ok(Some(consumed + mark + before));
            }
            source = &source[read..];
            consumed += read as u64;
            if consumed > limit {
                return Err(ReadError::TooLarge(limit));
            }
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                // The bad sequence is `bad` bytes long and `after` more
                // were consumed behind it (encoding_rs's `Malformed`).
                DecoderResult::Malformed(bad, after) => {
                    return Ok(Some(
                        consumed.saturating_sub(u64::from(bad) + u64::from(after)),
                    ));
                }
            }
        }
        if last {
            return Ok(None);
        }
    }
}

/// How many bytes of input in `encoding` decoded to `text`: so an error
/// names the byte where it is, not the start of the chunk it was read in
/// (a character split across two chunks can put it up to 3 bytes late).
fn input_bytes(encoding: &'static Encoding, text: &str) -> u64 {
    let bytes = if encoding == UTF_8 {
        text.len()
    } else if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        2 * text.encode_utf16().count()
    } else {
        // Windows-1252: one byte a character.
        text.chars().count()
    };
    bytes as u64
}

/// A byte stream decoded to UTF-8 as it is read (the byte-order mark
/// removed). [`sniff`] has checked the whole file already.
pub struct Decoded<R> {
    inner: R,
    decoder: Decoder,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    finished: bool,
}

impl<R: Read> Decoded<R> {
    pub fn new(inner: R, encoding: FileEncoding) -> Self {
        Self {
            inner,
            decoder: encoding.encoding().new_decoder_with_bom_removal(),
            buffer: vec![0_u8; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            finished: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.finished || out.is_empty() {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.end = self.inner.read(&mut self.buffer)?;
                self.start = 0;
                self.eof = self.end == 0;
            }
            let (result, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.buffer[self.start..self.end], out, self.eof);
            self.start += read;
            if self.eof && result == CoderResult::InputEmpty {
                self.finished = true;
            }
            if written > 0 {
                return Ok(written);
            }
            if result == CoderResult::OutputFull {
                return Err(io::Error::other("read buffer too small to decode into"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{members, read_all};
    use super::*;
    use crate::domain::PersonName;
    use crate::ssr::standing::roster::reading::Mappings;
    use std::io::Cursor;

    #[test]
    fn an_unreadable_byte_is_named_where_it_is() {
        // 0x81: not UTF-8, and unassigned in Windows-1252.
        let mut bytes = b"bar_number,full_name,status\n1,Ann ".to_vec();
        let at = bytes.len() as u64;
        bytes.extend([0x81]);
        bytes.extend(b",active\n");
        assert!(matches!(
            sniff(&mut Cursor::new(bytes), u64::MAX),
            Err(ReadError::NotText { offset }) if offset == at
        ));
        // A NUL in UTF-16: two bytes a character before it.
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "bar_number\n1\0".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        assert!(matches!(
            sniff(&mut Cursor::new(utf16), u64::MAX),
            Err(ReadError::BadEncoding { offset: 26, .. })
        ));
    }

    #[test]
    fn encodings_are_sniffed_and_never_half_read() {
        let utf8 = "bar_number,full_name,status\n1,José O’Brien,active\n";
        let (encoding, rows) = read_all(utf8.as_bytes(), &Mappings::default()).expect("utf-8");
        assert_eq!(encoding, FileEncoding::Utf8);
        assert_eq!(
            members(&rows)[0].full_name.as_ref().map(PersonName::as_str),
            Some("José O’Brien")
        );

        let (windows, _, _) = WINDOWS_1252.encode(utf8);
        let (encoding, rows) = read_all(&windows, &Mappings::default()).expect("1252");
        assert_eq!(encoding, FileEncoding::Windows1252);
        assert_eq!(
            members(&rows)[0].full_name.as_ref().map(PersonName::as_str),
            Some("José O’Brien")
        );

        let mut utf16 = vec![0xff, 0xfe];
        for unit in utf8.encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        let (encoding, rows) = read_all(&utf16, &Mappings::default()).expect("utf-16");
        assert_eq!(encoding, FileEncoding::Utf16Le);
        assert_eq!(members(&rows).len(), 1);

        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend(utf8.as_bytes());
        assert_eq!(
            read_all(&bom, &Mappings::default()).expect("bom").0,
            FileEncoding::Utf8Bom
        );

        // Bytes that are neither: 0x81 is undefined in Windows-1252 (a C1
        // control once decoded).
        let refused = read_all(
            b"bar_number,full_name,status\n1,Jos\x81,active\n",
            &Mappings::default(),
        );
        let message = refused.expect_err("refused").to_string();
        assert!(message.contains("CSV UTF-8"), "{message}");
    }
}
